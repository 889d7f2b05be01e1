package storage_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/registry/storage"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

func key(name string, b byte) storage.NamedKey {
	return storage.NamedKey{Name: name, Secret: bytes.Repeat([]byte{b}, 32)}
}

func mustAESGCM(t *testing.T, keys ...storage.NamedKey) *storage.AESGCM {
	t.Helper()
	tr, err := storage.NewAESGCM(keys)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestAESGCM(t *testing.T) {
	const etcdKey = "/registry/secrets/ns/db"
	plain := []byte(`{"data":{"password":"aHVudGVyMg=="}}`)
	k1, k2 := key("key1", 1), key("key2", 2)
	old := mustAESGCM(t, k1)
	stored, err := old.TransformToStorage(etcdKey, plain)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(stored, []byte("k8s:enc:aesgcm:v1:key1:")) || bytes.Contains(stored, plain[10:]) {
		t.Fatalf("stored %q", stored)
	}
	again, _ := old.TransformToStorage(etcdKey, plain)
	if bytes.Equal(stored, again) {
		t.Fatal("two encryptions of one value are equal: the nonce is not random")
	}
	tests := []struct {
		name      string
		tr        *storage.AESGCM
		key       string
		stored    []byte
		wantStale bool
		wantErr   string
	}{
		{"the key that wrote", old, etcdKey, stored, false, ""},
		{"rotated: an old key still reads, and says so", mustAESGCM(t, k2, k1), etcdKey, stored, true, ""},
		{"the old key removed", mustAESGCM(t, k2), etcdKey, stored, false, `"k8s:enc:aesgcm:v1:key1:"`},
		{"a key of that name but another secret", mustAESGCM(t, key("key1", 9)), etcdKey, stored, false, "decrypting"},
		{"moved to another key", old, "/registry/secrets/other/db", stored, false, "decrypting"},
		{"tampered", old, etcdKey, append(bytes.Clone(stored[:len(stored)-1]), stored[len(stored)-1]^1), false, "decrypting"},
		{"stored in clear", old, etcdKey, plain, false, "not encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, stale, err := tt.tr.TransformFromStorage(tt.key, tt.stored)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, plain) || stale != tt.wantStale {
				t.Fatalf("got %q, stale %v, err %v", got, stale, err)
			}
		})
	}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "enc.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadEncryptionConfig(t *testing.T) {
	k := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	head := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n"
	tests := []struct {
		name, text, wantErr string
	}{
		{"aesgcm", head + "  - aesgcm:\n      keys:\n      - name: key1\n        secret: " + k + "\n", ""},
		{"aesgcm then identity", head + "  - aesgcm:\n      keys:\n      - name: key1\n        secret: " + k + "\n  - identity: {}\n", ""},
		{"aescbc", head + "  - aescbc:\n      keys:\n      - name: key1\n        secret: " + k + "\n", "supports the aesgcm and identity providers"},
		{"short key", head + "  - aesgcm:\n      keys:\n      - name: key1\n        secret: " + base64.StdEncoding.EncodeToString([]byte("short")) + "\n", "16, 24 or 32"},
		{"two keys of one name", head + "  - aesgcm:\n      keys:\n      - name: a\n        secret: " + k + "\n      - name: a\n        secret: " + k + "\n", "keys[1].name"},
		{"unknown field", head + "  - aesgcm:\n      keys:\n      - name: a\n        sekret: " + k + "\n", "sekret"},
		{"wrong kind", "apiVersion: v1\nkind: Secret\n", "EncryptionConfiguration"},
		{"no providers", head, "providers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trs, err := storage.LoadEncryptionConfig(writeConfig(t, tt.text))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || trs["secrets"] == nil || len(trs) != 1 {
				t.Fatalf("got %v, %v", trs, err)
			}
		})
	}
}

// The configuration made on first start holds one fresh AES-256 key,
// readable by its owner only, and is kept on later starts.
func TestEnsureEncryptionConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "encryption-config.yaml")
	if err := storage.EnsureEncryptionConfig(path); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	if err := storage.EnsureEncryptionConfig(path); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(path); !bytes.Equal(first, second) {
		t.Fatal("a second start replaced the key")
	}
	trs, err := storage.LoadEncryptionConfig(path)
	if err != nil || trs["secrets"] == nil {
		t.Fatalf("%v, %v", trs, err)
	}
}

func newSecretObject() runtime.Object { return &v1.Secret{} }

// Every path of the store reads and writes through the transformer: etcd
// holds no byte of the secret, and what the store returns is the secret.
// A store without it (another resource's) never transforms.
func TestStoreTransformsEveryPath(t *testing.T) {
	plainStore := newStore(t)
	ctx := t.Context()
	s := plainStore.WithTransformer(mustAESGCM(t, key("key1", 1)))
	const value = "hunter2-in-etcd"
	secret := &v1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}, Data: map[string][]byte{"password": []byte(value)}}
	etcdKey := storage.Key("secrets", "ns", "db")
	events, err := s.Watch(ctx, storage.Prefix("secrets", "ns"), 0, newSecretObject, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, etcdKey, secret, storage.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	raw := func() []byte {
		resp, err := s.Client().Get(ctx, etcdKey)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("raw get: %v", err)
		}
		return resp.Kvs[0].Value
	}
	encoded := base64.StdEncoding.EncodeToString([]byte(value))
	if r := raw(); bytes.Contains(r, []byte(value)) || bytes.Contains(r, []byte(encoded)) || !bytes.HasPrefix(r, []byte("k8s:enc:aesgcm:v1:key1:")) {
		t.Fatalf("etcd holds %q", r)
	}
	check := func(what string, obj runtime.Object) {
		t.Helper()
		if got := string(obj.(*v1.Secret).Data["password"]); got != value {
			t.Fatalf("%s: password %q", what, got)
		}
	}
	got := &v1.Secret{}
	if err := s.Get(ctx, etcdKey, got); err != nil {
		t.Fatal(err)
	}
	check("get", got)
	list, err := s.List(ctx, storage.Prefix("secrets", "ns"), storage.ListOptions{}, newSecretObject, nil)
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v", err)
	}
	check("list", list.Items[0])
	rawList, err := s.ListRaw(ctx, storage.Prefix("secrets", "ns"), storage.ListOptions{})
	if err != nil || len(rawList.Items) != 1 || !bytes.Contains(rawList.Items[0].Value, []byte(encoded)) {
		t.Fatalf("raw list: %v %v", rawList, err)
	}
	updated := &v1.Secret{}
	err = s.GuaranteedUpdate(ctx, etcdKey, updated, storage.UpdateOptions{}, func(cur runtime.Object) (runtime.Object, error) {
		check("update", cur)
		cur.(*v1.Secret).Labels = map[string]string{"a": "b"}
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check("updated", updated)
	if r := raw(); bytes.Contains(r, []byte(encoded)) {
		t.Fatalf("etcd holds %q after an update", r)
	}
	deleted := &v1.Secret{}
	if err := s.Delete(ctx, etcdKey, deleted, storage.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	check("delete", deleted)
	for _, want := range []watch.EventType{watch.Added, watch.Modified, watch.Deleted} {
		select {
		case ev := <-events:
			if ev.Type != want || ev.Err != nil {
				t.Fatalf("event %v %v, want %v", ev.Type, ev.Err, want)
			}
			check("watch "+string(want), ev.Object)
		case <-time.After(10 * time.Second):
			t.Fatalf("no %v event", want)
		}
	}
	// The plain store of the same etcd (every other resource's) does not
	// read an encrypted value, and writes its own in clear.
	if err := s.Create(ctx, etcdKey, secret.DeepCopy(), storage.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := plainStore.Get(ctx, etcdKey, &v1.Secret{}); err == nil {
		t.Fatal("the store without a transformer decoded an encrypted value")
	}
	if err := plainStore.Create(ctx, storage.Key("configmaps", "ns", "web"), &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, storage.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	resp, err := s.Client().Get(ctx, storage.Key("configmaps", "ns", "web"))
	if err != nil || !bytes.HasPrefix(resp.Kvs[0].Value, []byte("{")) {
		t.Fatalf("a config map stored as %q: %v", resp.Kvs[0].Value, err)
	}
}

// Rotation: with a new key first, old values still read; rewriting one
// (kubectl replace, any update) stores it under the new key; then the old
// key may go.
func TestStoreKeyRotation(t *testing.T) {
	base := newStore(t)
	ctx := t.Context()
	k1, k2 := key("key1", 1), key("key2", 2)
	etcdKey := storage.Key("secrets", "ns", "db")
	secret := &v1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}, Data: map[string][]byte{"k": []byte("v")}}
	if err := base.WithTransformer(mustAESGCM(t, k1)).Create(ctx, etcdKey, secret, storage.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rotated := base.WithTransformer(mustAESGCM(t, k2, k1))
	err := rotated.GuaranteedUpdate(ctx, etcdKey, &v1.Secret{}, storage.UpdateOptions{}, func(cur runtime.Object) (runtime.Object, error) { return cur, nil })
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := base.Client().Get(ctx, etcdKey)
	if !bytes.HasPrefix(resp.Kvs[0].Value, []byte("k8s:enc:aesgcm:v1:key2:")) {
		t.Fatalf("rewritten as %q", resp.Kvs[0].Value[:30])
	}
	got := &v1.Secret{}
	if err := base.WithTransformer(mustAESGCM(t, k2)).Get(ctx, etcdKey, got); err != nil || string(got.Data["k"]) != "v" {
		t.Fatalf("read with the new key alone: %v %v", got, err)
	}
}
