// Package storage keeps API objects in etcd as JSON under
// /registry/<resource>/<namespace>/<name>. An object's resourceVersion is
// the etcd revision that last modified its key. The package knows objects
// and keys; it knows nothing of HTTP, strategies or authorization.
package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// Store reads and writes objects in etcd.
type Store struct {
	client *clientv3.Client
}

// New returns a Store on an etcd client.
func New(client *clientv3.Client) *Store {
	return &Store{client: client}
}

// Client returns the etcd client, for health checks and benchmarks.
func (s *Store) Client() *clientv3.Client { return s.client }

// Key is the etcd key of one object; namespace is empty for cluster-scoped
// resources.
func Key(resource, namespace, name string) string {
	if namespace == "" {
		return "/registry/" + resource + "/" + name
	}
	return "/registry/" + resource + "/" + namespace + "/" + name
}

// Prefix is the key prefix of every object of a resource in a namespace
// (or in all namespaces when namespace is empty).
func Prefix(resource, namespace string) string {
	if namespace == "" {
		return "/registry/" + resource + "/"
	}
	return "/registry/" + resource + "/" + namespace + "/"
}

// Create stores obj at key if the key is free and every key in requires
// exists, in one transaction. It returns ErrAlreadyExists if the key is
// taken and ErrParentNotFound if a required key is missing. On success
// obj carries its new resourceVersion.
func (s *Store) Create(ctx context.Context, key string, obj runtime.Object, requires ...string) error {
	if err := setResourceVersion(obj, 0); err != nil {
		return err
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("encode %q: %w", key, err)
	}
	conds := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", 0)}
	for _, r := range requires {
		conds = append(conds, clientv3.Compare(clientv3.CreateRevision(r), ">", 0))
	}
	resp, err := s.client.Txn(ctx).If(conds...).Then(clientv3.OpPut(key, string(data))).Commit()
	if err != nil {
		return fmt.Errorf("create %q: %w", key, err)
	}
	if !resp.Succeeded {
		return s.whyCreateFailed(ctx, key, requires)
	}
	return setResourceVersion(obj, resp.Header.Revision)
}

func (s *Store) whyCreateFailed(ctx context.Context, key string, requires []string) error {
	for _, r := range requires {
		resp, err := s.client.Get(ctx, r, clientv3.WithCountOnly())
		if err != nil {
			return fmt.Errorf("create %q: %w", key, err)
		}
		if resp.Count == 0 {
			return fmt.Errorf("create %q: %q: %w", key, r, ErrParentNotFound)
		}
	}
	return fmt.Errorf("create %q: %w", key, ErrAlreadyExists)
}

// Get decodes the object at key into out. It returns ErrNotFound if the key
// does not exist.
func (s *Store) Get(ctx context.Context, key string, out runtime.Object) error {
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("get %q: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return fmt.Errorf("get %q: %w", key, ErrNotFound)
	}
	return decode(resp.Kvs[0].Value, resp.Kvs[0].ModRevision, out)
}

// UpdateFunc computes the new object from the current one. It may modify
// and return current. Returning an error aborts the update with it.
type UpdateFunc func(current runtime.Object) (runtime.Object, error)

// GuaranteedUpdate reads the object at key into dest, applies tryUpdate and
// writes the result if the key did not change in between, retrying on
// concurrent writes. If expectedRV is not zero and the stored object's
// resourceVersion differs, it returns ErrConflict without calling
// tryUpdate. It returns ErrNotFound if the key does not exist. On success
// dest holds the stored object with its new resourceVersion.
func (s *Store) GuaranteedUpdate(ctx context.Context, key string, dest runtime.Object, expectedRV int64, tryUpdate UpdateFunc) error {
	for {
		resp, err := s.client.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("update %q: %w", key, err)
		}
		if len(resp.Kvs) == 0 {
			return fmt.Errorf("update %q: %w", key, ErrNotFound)
		}
		kv := resp.Kvs[0]
		if expectedRV != 0 && expectedRV != kv.ModRevision {
			return fmt.Errorf("update %q: %w", key, ErrConflict)
		}
		current := dest.DeepCopyObject()
		if err := decode(kv.Value, kv.ModRevision, current); err != nil {
			return err
		}
		updated, err := tryUpdate(current)
		if err != nil {
			return err
		}
		if err := setResourceVersion(updated, 0); err != nil {
			return err
		}
		data, err := json.Marshal(updated)
		if err != nil {
			return fmt.Errorf("encode %q: %w", key, err)
		}
		txn, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)).
			Then(clientv3.OpPut(key, string(data))).
			Commit()
		if err != nil {
			return fmt.Errorf("update %q: %w", key, err)
		}
		if !txn.Succeeded {
			if expectedRV != 0 {
				return fmt.Errorf("update %q: %w", key, ErrConflict)
			}
			continue
		}
		return decode(data, txn.Header.Revision, dest)
	}
}

// Delete removes the object at key and decodes its last state into out,
// with the deletion's revision as resourceVersion. If expectedRV is not zero
// and differs from the stored one it returns ErrConflict. It returns
// ErrNotFound if the key does not exist.
func (s *Store) Delete(ctx context.Context, key string, out runtime.Object, expectedRV int64) error {
	cond := clientv3.Compare(clientv3.ModRevision(key), ">", 0)
	if expectedRV != 0 {
		cond = clientv3.Compare(clientv3.ModRevision(key), "=", expectedRV)
	}
	resp, err := s.client.Txn(ctx).If(cond).
		Then(clientv3.OpDelete(key, clientv3.WithPrevKV())).
		Else(clientv3.OpGet(key, clientv3.WithCountOnly())).
		Commit()
	if err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	if !resp.Succeeded {
		if resp.Responses[0].GetResponseRange().Count == 0 {
			return fmt.Errorf("delete %q: %w", key, ErrNotFound)
		}
		return fmt.Errorf("delete %q: %w", key, ErrConflict)
	}
	del := resp.Responses[0].GetResponseDeleteRange()
	if len(del.PrevKvs) == 0 {
		return fmt.Errorf("delete %q: %w", key, ErrNotFound)
	}
	return decode(del.PrevKvs[0].Value, resp.Header.Revision, out)
}

// DeletePrefix removes every key under prefix (a namespace's objects).
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int64, error) {
	resp, err := s.client.Delete(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("delete %q: %w", prefix, err)
	}
	return resp.Deleted, nil
}

// CurrentRevision returns etcd's current revision.
func (s *Store) CurrentRevision(ctx context.Context) (int64, error) {
	resp, err := s.client.Get(ctx, "/registry/", clientv3.WithCountOnly(), clientv3.WithLimit(1))
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

func decode(data []byte, rv int64, out runtime.Object) error {
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode stored object: %w", err)
	}
	return setResourceVersion(out, rv)
}

// setResourceVersion writes rv into the object's metadata; zero clears it,
// so stored bytes never carry a stale revision.
func setResourceVersion(obj runtime.Object, rv int64) error {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return fmt.Errorf("object without metadata: %w", err)
	}
	if rv == 0 {
		accessor.SetResourceVersion("")
	} else {
		accessor.SetResourceVersion(strconv.FormatInt(rv, 10))
	}
	return nil
}
