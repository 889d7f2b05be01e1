package client_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/client"
	"github.com/berthpaas/berth/client/clienttest"
)

func newClient(t *testing.T) (*client.Client, *clienttest.Server) {
	t.Helper()
	srv := clienttest.NewServer(t)
	return client.New(srv.URL, srv.IssueToken("alice")), srv
}

func TestCRUD(t *testing.T) {
	ctx := t.Context()
	c, srv := newClient(t)

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}}}
	var created corev1.Pod
	if err := c.Create(ctx, client.Pods, "dev", pod, &created); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if created.ResourceVersion == "" || created.Namespace != "dev" {
		t.Fatalf("created pod lacks server metadata: %+v", created.ObjectMeta)
	}
	if err := c.Create(ctx, client.Pods, "dev", pod, nil); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second Create error = %v, want AlreadyExists", err)
	}

	var got corev1.Pod
	if err := c.Get(ctx, client.Pods, "dev", "web", &got); err != nil || got.Name != "web" {
		t.Fatalf("Get = %v, %v", got.Name, err)
	}

	got.Labels["tier"] = "front"
	var updated corev1.Pod
	if err := c.Update(ctx, client.Pods, "dev", "web", &got, &updated); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := c.Update(ctx, client.Pods, "dev", "web", &got, nil); !apierrors.IsConflict(err) {
		t.Errorf("Update with a stale resourceVersion error = %v, want Conflict", err)
	}

	var list corev1.PodList
	if err := c.List(ctx, client.Pods, "dev", client.ListOptions{LabelSelector: "tier=front"}, &list); err != nil || len(list.Items) != 1 {
		t.Fatalf("List = %d items, %v", len(list.Items), err)
	}
	if q := srv.Requests()[len(srv.Requests())-1].Query; !strings.Contains(q, "labelSelector=tier%3Dfront") {
		t.Errorf("list query = %q, want the label selector", q)
	}

	if err := c.Delete(ctx, client.Pods, "dev", "web"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	err := c.Get(ctx, client.Pods, "dev", "web", &got)
	if !apierrors.IsNotFound(err) {
		t.Errorf("Get after Delete error = %v, want NotFound", err)
	}
	if err.Error() != `pods "web" not found` {
		t.Errorf("error message = %q", err)
	}
}

func TestNamespaceRequired(t *testing.T) {
	c, srv := newClient(t)
	if err := c.Create(t.Context(), client.Pods, "", &corev1.Pod{}, nil); err == nil {
		t.Error("Create of a pod without a namespace succeeded")
	}
	if len(srv.Requests()) != 0 {
		t.Error("a request was sent for an object without namespace")
	}
}

func TestTable(t *testing.T) {
	c, srv := newClient(t)
	srv.Seed(client.Pods, "dev", clienttest.Object{"metadata": map[string]any{"name": "a"}})
	srv.Seed(client.Pods, "dev", clienttest.Object{"metadata": map[string]any{"name": "b"}})

	table, err := c.Table(t.Context(), client.Pods, "dev", "", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(table.Rows) != 2 || table.Rows[0].Cells[0] != "a" || len(table.Rows[0].Object.Raw) == 0 {
		t.Errorf("table rows = %+v", table.Rows)
	}
	if accept := srv.Requests()[0].Accept; !strings.HasPrefix(accept, "application/json;as=Table;v=v1;g=meta.k8s.io") {
		t.Errorf("Accept = %q", accept)
	}
}

func TestDecodeTableFallback(t *testing.T) {
	raw := `{"kind":"PodList","metadata":{"resourceVersion":"7"},"items":[{"metadata":{"name":"a","creationTimestamp":"2020-01-01T00:00:00Z"}}]}`
	table, err := client.DecodeTable([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if table.ResourceVersion != "7" || len(table.Rows) != 1 || table.Rows[0].Cells[0] != "a" {
		t.Errorf("fallback table = %+v", table)
	}
	single, err := client.DecodeTable([]byte(`{"kind":"Pod","metadata":{"name":"b"}}`))
	if err != nil || len(single.Rows) != 1 || single.Rows[0].Cells[0] != "b" {
		t.Errorf("fallback table of one object = %+v, %v", single, err)
	}
}

func TestWatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, srv := newClient(t)

	events, err := c.Watch(ctx, client.Pods, "dev", client.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Seed(client.Pods, "dev", clienttest.Object{"metadata": map[string]any{"name": "web"}})
	ev := <-events
	var pod corev1.Pod
	if ev.Type != client.Added || ev.Decode(&pod) != nil || pod.Name != "web" {
		t.Fatalf("event = %s %s", ev.Type, ev.Object)
	}
	cancel()
	for range events {
	}
}

func TestWatchErrorEvent(t *testing.T) {
	srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"a"}}}` + "\n"))
		_, _ = w.Write([]byte(`{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version"}}` + "\n"))
	})
	c := client.New(startServer(t, srv), "t")
	events, err := c.Watch(t.Context(), client.Pods, "dev", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []client.Event
	for ev := range events {
		got = append(got, ev)
	}
	if len(got) != 2 || got[1].Type != client.Error || !apierrors.IsResourceExpired(got[1].Err) && !apierrors.IsGone(got[1].Err) {
		t.Fatalf("events = %+v", got)
	}
}

func TestLoginLogout(t *testing.T) {
	ctx := t.Context()
	srv := clienttest.NewServer(t)
	srv.AddUser("alice", "s3cret")

	if _, err := client.Login(ctx, srv.URL, "alice", "wrong"); !apierrors.IsUnauthorized(err) {
		t.Errorf("Login with a wrong password error = %v", err)
	}
	token, err := client.Login(ctx, srv.URL, "alice", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(srv.URL, token)
	who, err := c.WhoAmI(ctx)
	if err != nil || who.Username != "alice" {
		t.Fatalf("WhoAmI = %+v, %v", who, err)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if srv.TokenValid(token) {
		t.Error("token still valid after Logout")
	}
	if _, err := c.WhoAmI(ctx); !apierrors.IsUnauthorized(err) {
		t.Errorf("WhoAmI after Logout error = %v", err)
	}
}

func TestUnreachableServer(t *testing.T) {
	c := client.New("http://127.0.0.1:1", "t", client.WithTimeout(2*time.Second))
	err := c.Get(t.Context(), client.Nodes, "", "n1", nil)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the server http://127.0.0.1:1") {
		t.Errorf("error = %v", err)
	}
}

func TestNormalizeServer(t *testing.T) {
	tests := []struct{ in, want string }{
		{"example.com:8443", "https://example.com:8443"},
		{"http://localhost:8080/", "http://localhost:8080"},
		{"https://h/base/", "https://h/base"},
	}
	for _, tt := range tests {
		if got, err := client.NormalizeServer(tt.in); err != nil || got != tt.want {
			t.Errorf("NormalizeServer(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "ftp://h", "http://"} {
		if _, err := client.NormalizeServer(bad); err == nil {
			t.Errorf("NormalizeServer(%q) succeeded", bad)
		}
	}
}
