// Package storage keeps API objects in etcd as JSON under
// /registry/<resource>/<namespace>/<name>. An object's resourceVersion is
// the etcd revision that last modified its key. The package knows objects
// and keys; it knows nothing of HTTP, strategies or authorization.
package storage

import (
	"cmp"
	"context"
	"crypto/rand"
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
	// continueKey signs continue tokens, so that a client cannot make one
	// up (to page from a revision or key of its choosing).
	continueKey []byte
	leases      *leaseManager
	// transformer, when set, encrypts the values of this store's resource
	// (WithTransformer); nil keeps them as JSON.
	transformer Transformer
}

// Options tune a Store.
type Options struct {
	// ContinueKey signs continue tokens; every master of a cluster must
	// use the same one. Empty: a random key, valid for this process only.
	ContinueKey []byte
}

// New returns a Store on an etcd client.
func New(client *clientv3.Client, opts Options) *Store {
	key := opts.ContinueKey
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // never fails; see crypto/rand.Read
	}
	return &Store{client: client, continueKey: key, leases: newLeaseManager(client)}
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

// TerminatingKey marks the object resource/name as being finalized (a
// namespace being deleted): objects that require it may not be created.
func TerminatingKey(resource, name string) string {
	return "/registry/" + resource + "-terminating/" + name
}

// Prefix is the key prefix of every object of a resource in a namespace
// (or in all namespaces when namespace is empty).
func Prefix(resource, namespace string) string {
	if namespace == "" {
		return "/registry/" + resource + "/"
	}
	return "/registry/" + resource + "/" + namespace + "/"
}

// CreateOptions qualify a Create.
type CreateOptions struct {
	// Requires are keys that must exist (the namespace).
	Requires []string
	// Forbids are keys that must not exist (the namespace's termination
	// mark): the create fails with the error Forbidden maps them to.
	Forbids map[string]error
	// TTL, when positive, makes etcd delete the object after that many
	// seconds (events), as kube-apiserver's --event-ttl does.
	TTL int64
	// DryRun checks everything a create checks and writes nothing.
	DryRun bool
	// Claims are written with the object; each must be free (see Claim).
	Claims []Claim
}

// Create stores obj at key if the key is free, every key in
// opts.Requires exists, no key in opts.Forbids does and every claim is
// free, in one transaction. It returns ErrAlreadyExists if the key is
// taken, ErrParentNotFound if a required key is missing, the forbidden
// key's error, and a *ClaimTakenError for a claim another object holds.
// On success obj carries its new resourceVersion (none on a dry run).
func (s *Store) Create(ctx context.Context, key string, obj runtime.Object, opts CreateOptions) error {
	if err := setResourceVersion(obj, 0); err != nil {
		return err
	}
	data, err := s.encode(key, obj)
	if err != nil {
		return err
	}
	conds := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", 0)}
	for _, r := range opts.Requires {
		conds = append(conds, clientv3.Compare(clientv3.CreateRevision(r), ">", 0))
	}
	for f := range opts.Forbids {
		conds = append(conds, clientv3.Compare(clientv3.CreateRevision(f), "=", 0))
	}
	conds = append(conds, claimsFree(opts.Claims)...)
	if opts.DryRun {
		resp, err := s.client.Txn(ctx).If(conds...).Commit()
		if err != nil {
			return fmt.Errorf("create %q: %w", key, err)
		}
		if !resp.Succeeded {
			return s.whyCreateFailed(ctx, key, opts)
		}
		return nil
	}
	var putOpts []clientv3.OpOption
	if opts.TTL > 0 {
		lease, err := s.leases.lease(ctx, opts.TTL)
		if err != nil {
			return fmt.Errorf("create %q: lease: %w", key, err)
		}
		putOpts = append(putOpts, clientv3.WithLease(lease))
	}
	ops := append([]clientv3.Op{clientv3.OpPut(key, string(data), putOpts...)}, claimPuts(opts.Claims)...)
	resp, err := s.client.Txn(ctx).If(conds...).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("create %q: %w", key, err)
	}
	if !resp.Succeeded {
		return s.whyCreateFailed(ctx, key, opts)
	}
	return setResourceVersion(obj, resp.Header.Revision)
}

func (s *Store) whyCreateFailed(ctx context.Context, key string, opts CreateOptions) error {
	exists := func(k string) (bool, error) {
		resp, err := s.client.Get(ctx, k, clientv3.WithCountOnly())
		if err != nil {
			return false, fmt.Errorf("create %q: %w", key, err)
		}
		return resp.Count > 0, nil
	}
	for _, r := range opts.Requires {
		ok, err := exists(r)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("create %q: %q: %w", key, r, ErrParentNotFound)
		}
	}
	for f, ferr := range opts.Forbids {
		ok, err := exists(f)
		if err != nil {
			return err
		}
		if ok {
			return ferr
		}
	}
	if ok, err := exists(key); err != nil || ok {
		return cmp.Or(err, fmt.Errorf("create %q: %w", key, ErrAlreadyExists))
	}
	for _, c := range opts.Claims {
		ok, err := exists(c.Key)
		if err != nil {
			return err
		}
		if ok {
			return &ClaimTakenError{Key: c.Key}
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
	return s.decode(key, resp.Kvs[0].Value, resp.Kvs[0].ModRevision, out)
}

// UpdateFunc computes the new object from the current one. It may modify
// and return current. Returning an error aborts the update with it.
type UpdateFunc func(current runtime.Object) (runtime.Object, error)

// UpdateOptions qualify a GuaranteedUpdate.
type UpdateOptions struct {
	// ExpectedRV, when not zero, is the only resourceVersion the update
	// may replace (ErrConflict otherwise).
	ExpectedRV int64
	// DryRun computes and checks the update and writes nothing.
	DryRun bool
	// Claims, when set, returns the claims an object holds: those the
	// updated object holds and the current one does not are taken in the
	// update's transaction (each must be free), those it no longer holds
	// are released.
	Claims func(obj runtime.Object) []Claim
}

// GuaranteedUpdate reads the object at key into dest, applies tryUpdate and
// writes the result if the key did not change in between, retrying on
// concurrent writes. If opts.ExpectedRV is not zero and the stored
// object's resourceVersion differs, it returns ErrConflict without calling
// tryUpdate. It returns ErrNotFound if the key does not exist, and a
// *ClaimTakenError when the update would take a claim another object
// holds. On success dest holds the stored object with its new
// resourceVersion (the current one on a dry run). An object with a TTL
// keeps its lease.
func (s *Store) GuaranteedUpdate(ctx context.Context, key string, dest runtime.Object, opts UpdateOptions, tryUpdate UpdateFunc) error {
	expectedRV := opts.ExpectedRV
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
		if err := s.decode(key, kv.Value, kv.ModRevision, current); err != nil {
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
		var take []Claim
		var release []string
		if opts.Claims != nil {
			take, release = claimChanges(opts.Claims(current), opts.Claims(updated))
		}
		conds := append([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)}, claimsFree(take)...)
		if opts.DryRun {
			if err := s.checkClaims(ctx, take); err != nil {
				return err
			}
			return decode(data, kv.ModRevision, dest)
		}
		stored, err := s.toStorage(key, data)
		if err != nil {
			return err
		}
		var putOpts []clientv3.OpOption
		if kv.Lease != 0 {
			putOpts = append(putOpts, clientv3.WithIgnoreLease())
		}
		ops := append([]clientv3.Op{clientv3.OpPut(key, string(stored), putOpts...)}, claimPuts(take)...)
		for _, k := range release {
			ops = append(ops, clientv3.OpDelete(k))
		}
		txn, err := s.client.Txn(ctx).If(conds...).Then(ops...).
			Else(clientv3.OpGet(key, clientv3.WithKeysOnly())).
			Commit()
		if err != nil {
			return fmt.Errorf("update %q: %w", key, err)
		}
		if !txn.Succeeded {
			if kvs := txn.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 && kvs[0].ModRevision == kv.ModRevision {
				// The object is as read: a claim is taken.
				if err := s.checkClaims(ctx, take); err != nil {
					return err
				}
			}
			if expectedRV != 0 {
				return fmt.Errorf("update %q: %w", key, ErrConflict)
			}
			continue
		}
		return decode(data, txn.Header.Revision, dest)
	}
}

// DeleteOptions qualify a Delete.
type DeleteOptions struct {
	// ExpectedRV, when not zero, is the only resourceVersion the delete
	// may remove (ErrConflict otherwise).
	ExpectedRV int64
	// Also are keys deleted in the same transaction (a termination mark,
	// the object's claims).
	Also []string
	// DryRun checks the delete and removes nothing.
	DryRun bool
}

// Delete removes the object at key and decodes its last state into out,
// with the deletion's revision as resourceVersion. If opts.ExpectedRV is
// not zero and differs from the stored one it returns ErrConflict. It
// returns ErrNotFound if the key does not exist.
func (s *Store) Delete(ctx context.Context, key string, out runtime.Object, opts DeleteOptions) error {
	expectedRV := opts.ExpectedRV
	cond := clientv3.Compare(clientv3.ModRevision(key), ">", 0)
	if expectedRV != 0 {
		cond = clientv3.Compare(clientv3.ModRevision(key), "=", expectedRV)
	}
	if opts.DryRun {
		resp, err := s.client.Get(ctx, key)
		switch {
		case err != nil:
			return fmt.Errorf("delete %q: %w", key, err)
		case len(resp.Kvs) == 0:
			return fmt.Errorf("delete %q: %w", key, ErrNotFound)
		case expectedRV != 0 && resp.Kvs[0].ModRevision != expectedRV:
			return fmt.Errorf("delete %q: %w", key, ErrConflict)
		}
		return s.decode(key, resp.Kvs[0].Value, resp.Kvs[0].ModRevision, out)
	}
	ops := []clientv3.Op{clientv3.OpDelete(key, clientv3.WithPrevKV())}
	for _, k := range opts.Also {
		ops = append(ops, clientv3.OpDelete(k))
	}
	resp, err := s.client.Txn(ctx).If(cond).
		Then(ops...).
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
	return s.decode(key, del.PrevKvs[0].Value, resp.Header.Revision, out)
}

// DeletePrefix removes every key under prefix (a namespace's objects).
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int64, error) {
	resp, err := s.client.Delete(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("delete %q: %w", prefix, err)
	}
	return resp.Deleted, nil
}

// CreateRevision returns the revision at which the object now at key was
// created, and the revision the answer reflects; ErrNotFound if there is
// none. A namespace's creation revision tells its objects, watches and
// continue tokens from those of an earlier namespace of the same name.
func (s *Store) CreateRevision(ctx context.Context, key string) (created, at int64, err error) {
	resp, err := s.client.Get(ctx, key, clientv3.WithKeysOnly())
	if err != nil {
		return 0, 0, fmt.Errorf("get %q: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return 0, resp.Header.Revision, fmt.Errorf("get %q: %w", key, ErrNotFound)
	}
	return resp.Kvs[0].CreateRevision, resp.Header.Revision, nil
}

// Put writes a bare marker key (no object), for marks such as a
// namespace's termination; it is idempotent.
func (s *Store) Put(ctx context.Context, key, value string) error {
	if _, err := s.client.Put(ctx, key, value); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	return nil
}

// CurrentRevision returns etcd's current revision.
func (s *Store) CurrentRevision(ctx context.Context) (int64, error) {
	resp, err := s.client.Get(ctx, "/registry/", clientv3.WithCountOnly(), clientv3.WithLimit(1))
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

// encode marshals obj and transforms it for key.
func (s *Store) encode(key string, obj runtime.Object) ([]byte, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %q: %w", key, err)
	}
	return s.toStorage(key, data)
}

// decode reads the value stored at key into out.
func (s *Store) decode(key string, stored []byte, rv int64, out runtime.Object) error {
	data, err := s.fromStorage(key, stored)
	if err != nil {
		return err
	}
	return decode(data, rv, out)
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
