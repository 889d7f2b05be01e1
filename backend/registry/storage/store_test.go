package storage_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/etcdserver"
	"github.com/berthpaas/berth/backend/registry/storage"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

func newStore(t *testing.T) *storage.Store {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: runs an embedded etcd; skipped in -short mode")
	}
	srv, err := etcdserver.Start(t.Context(), filepath.Join(t.TempDir(), "etcd"), slog.New(slog.DiscardHandler), etcdserver.Options{UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return storage.New(c, storage.Options{})
}

func newPod(name string) *v1.Pod {
	return &v1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"n": name}},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "i"}}},
	}
}

func newPodObject() runtime.Object { return &v1.Pod{} }

func TestStoreContract(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	key := storage.Key("pods", "ns", "a")
	nsKey := storage.Key("namespaces", "", "ns")

	if err := s.Create(ctx, key, newPod("a"), storage.CreateOptions{Requires: []string{nsKey}}); !errors.Is(err, storage.ErrParentNotFound) {
		t.Fatalf("create without namespace: %v", err)
	}
	if err := s.Create(ctx, nsKey, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}, storage.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	created := newPod("a")
	if err := s.Create(ctx, key, created, storage.CreateOptions{Requires: []string{nsKey}}); err != nil {
		t.Fatal(err)
	}
	if created.ResourceVersion == "" {
		t.Fatal("create did not set resourceVersion")
	}
	if err := s.Create(ctx, key, newPod("a"), storage.CreateOptions{Requires: []string{nsKey}}); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("second create: %v", err)
	}
	var got v1.Pod
	if err := s.Get(ctx, key, &got); err != nil || got.ResourceVersion != created.ResourceVersion {
		t.Fatalf("get: %v %q", err, got.ResourceVersion)
	}
	if err := s.Get(ctx, storage.Key("pods", "ns", "zz"), &got); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}

	var updated v1.Pod
	err := s.GuaranteedUpdate(ctx, key, &updated, storage.UpdateOptions{}, func(cur runtime.Object) (runtime.Object, error) {
		cur.(*v1.Pod).Labels["x"] = "y"
		return cur, nil
	})
	if err != nil || updated.Labels["x"] != "y" || updated.ResourceVersion == created.ResourceVersion {
		t.Fatalf("update: %v %+v", err, updated.ObjectMeta)
	}
	stale := mustAtoi(created.ResourceVersion)
	if err := s.GuaranteedUpdate(ctx, key, &updated, storage.UpdateOptions{ExpectedRV: stale}, func(cur runtime.Object) (runtime.Object, error) { return cur, nil }); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	if err := s.Delete(ctx, key, &got, storage.DeleteOptions{ExpectedRV: stale}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("stale delete: %v", err)
	}
	if err := s.Delete(ctx, key, &got, storage.DeleteOptions{}); err != nil || got.Name != "a" {
		t.Fatalf("delete: %v", err)
	}
	if err := s.Delete(ctx, key, &got, storage.DeleteOptions{}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func mustAtoi(s string) int64 {
	var n int64
	fmt.Sscan(s, &n)
	return n
}

// TestListRawMatchesList checks that the undecoded list path gives the
// same objects as the decoding one, resourceVersions included.
func TestListRawMatchesList(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	for i := range 7 {
		if err := s.Create(ctx, storage.Key("pods", "ns", fmt.Sprintf("p%d", i)), newPod(fmt.Sprintf("p%d", i)), storage.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	prefix := storage.Prefix("pods", "ns")
	decoded, err := s.List(ctx, prefix, storage.ListOptions{Limit: 5}, newPodObject, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.ListRaw(ctx, prefix, storage.ListOptions{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(raw.Items) != len(decoded.Items) || raw.Revision != decoded.Revision || (raw.Continue == "") != (decoded.Continue == "") {
		t.Fatalf("raw %d items rev %d, decoded %d items rev %d", len(raw.Items), raw.Revision, len(decoded.Items), decoded.Revision)
	}
	for i, item := range raw.Items {
		var fromRaw v1.Pod
		if err := json.Unmarshal(storage.AppendWithResourceVersion(nil, item), &fromRaw); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(decoded.Items[i])
		got, _ := json.Marshal(&fromRaw)
		if string(want) != string(got) {
			t.Errorf("item %d:\nraw     %s\ndecoded %s", i, got, want)
		}
	}
	rest, err := s.ListRaw(ctx, prefix, storage.ListOptions{Limit: 5, Continue: raw.Continue})
	if err != nil || len(rest.Items) != 2 || rest.Continue != "" {
		t.Fatalf("second page: %v, %d items", err, len(rest.Items))
	}
}

func TestAppendWithResourceVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"kind":"Pod","metadata":{"name":"a"}}`, `{"kind":"Pod","metadata":{"resourceVersion":"7","name":"a"}}`},
		{`{"metadata":{}}`, `{"metadata":{"resourceVersion":"7"}}`},
		{`{"spec":{}}`, `{"spec":{}}`},
	}
	for _, tt := range tests {
		if got := string(storage.AppendWithResourceVersion(nil, storage.RawItem{Value: []byte(tt.in), Revision: 7})); got != tt.want {
			t.Errorf("%s → %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestWatchFromRevision(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	prefix := storage.Prefix("pods", "ns")
	start, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	events, err := s.Watch(ctx, prefix, start, newPodObject, nil)
	if err != nil {
		t.Fatal(err)
	}
	key := storage.Key("pods", "ns", "w")
	s.Create(ctx, key, newPod("w"), storage.CreateOptions{})
	var p v1.Pod
	s.GuaranteedUpdate(ctx, key, &p, storage.UpdateOptions{}, func(cur runtime.Object) (runtime.Object, error) { return cur, nil })
	s.Delete(ctx, key, &p, storage.DeleteOptions{})
	for _, want := range []watch.EventType{watch.Added, watch.Modified, watch.Deleted} {
		select {
		case ev := <-events:
			if ev.Type != want || ev.Object.(*v1.Pod).Name != "w" {
				t.Fatalf("event %s, want %s", ev.Type, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s event", want)
		}
	}
	if _, err := s.Client().Compact(ctx, start+3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Watch(ctx, prefix, start, newPodObject, nil); !errors.Is(err, storage.ErrCompacted) {
		t.Fatalf("watch from a compacted revision: %v", err)
	}
}
