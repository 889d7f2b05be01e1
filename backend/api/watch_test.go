package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// openWatch starts a watch as the admin and returns its events; the
// stream closes with the test.
func openWatch(t *testing.T, env *testenv.Env, path string) (int, <-chan watchEvent) {
	t.Helper()
	return watchAs(t, env, env.AdminToken, path)
}

func next(t *testing.T, events <-chan watchEvent) (string, v1.Pod) {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("watch closed")
		}
		var p v1.Pod
		json.Unmarshal(ev.Object, &p)
		return ev.Type, p
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event within 5s")
	}
	return "", v1.Pod{}
}

func TestWatchOrderAndResume(t *testing.T) {
	env := testenv.Start(t)
	tok := env.AdminToken
	createNamespace(t, env, tok, "demo")
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", tok, pod("before", nil)), 201)
	var list v1.PodList
	env.Do(t, "GET", "/api/v1/namespaces/demo/pods", tok, nil).JSON(t, &list)

	code, events := openWatch(t, env, "/api/v1/namespaces/demo/pods?watch=1&resourceVersion="+list.ResourceVersion)
	if code != 200 {
		t.Fatalf("watch: %d", code)
	}
	var rvs []int
	for i := range 5 {
		mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", tok, pod(fmt.Sprintf("p%d", i), map[string]string{"i": fmt.Sprint(i)})), 201)
	}
	mustCode(t, env.Do(t, "PATCH", "/api/v1/namespaces/demo/pods/p0", tok, `{"metadata":{"labels":{"x":"1"}}}`, "application/merge-patch+json"), 200)
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/demo/pods/p1", tok, nil), 200)
	want := []struct{ typ, name string }{
		{"ADDED", "p0"}, {"ADDED", "p1"}, {"ADDED", "p2"}, {"ADDED", "p3"}, {"ADDED", "p4"}, {"MODIFIED", "p0"}, {"DELETED", "p1"},
	}
	for _, w := range want {
		typ, p := next(t, events)
		if typ != w.typ || p.Name != w.name {
			t.Fatalf("event %s %s, want %s %s", typ, p.Name, w.typ, w.name)
		}
		rv, _ := strconv.Atoi(p.ResourceVersion)
		rvs = append(rvs, rv)
	}
	for i := 1; i < len(rvs); i++ {
		if rvs[i] <= rvs[i-1] {
			t.Fatalf("resource versions out of order: %v", rvs)
		}
	}

	// Resuming from the version of the third event replays what followed it.
	_, resumed := openWatch(t, env, fmt.Sprintf("/api/v1/namespaces/demo/pods?watch=1&resourceVersion=%d", rvs[2]))
	for _, w := range want[3:] {
		typ, p := next(t, resumed)
		if typ != w.typ || p.Name != w.name {
			t.Fatalf("resumed event %s %s, want %s %s", typ, p.Name, w.typ, w.name)
		}
	}

	// Without a version, the current state arrives first as ADDED events.
	_, fromNow := openWatch(t, env, "/api/v1/namespaces/demo/pods?watch=1&labelSelector=i%3D2")
	if typ, p := next(t, fromNow); typ != "ADDED" || p.Name != "p2" {
		t.Fatalf("initial event %s %s", typ, p.Name)
	}
	// A label change that leaves the selector shows as DELETED.
	mustCode(t, env.Do(t, "PATCH", "/api/v1/namespaces/demo/pods/p2", tok, `{"metadata":{"labels":{"i":"9"}}}`, "application/merge-patch+json"), 200)
	if typ, p := next(t, fromNow); typ != "DELETED" || p.Name != "p2" {
		t.Fatalf("selector exit event %s %s", typ, p.Name)
	}
}

func TestWatchCompacted(t *testing.T) {
	env := testenv.Start(t)
	tok := env.AdminToken
	createNamespace(t, env, tok, "demo")
	resp := env.Do(t, "POST", "/api/v1/namespaces/demo/pods", tok, pod("a", nil))
	var first v1.Pod
	resp.JSON(t, &first)
	var last v1.Pod
	env.Do(t, "POST", "/api/v1/namespaces/demo/pods", tok, pod("b", nil)).JSON(t, &last)
	rev, _ := strconv.ParseInt(last.ResourceVersion, 10, 64)
	if _, err := env.Etcd.Compact(t.Context(), rev); err != nil {
		t.Fatal(err)
	}
	resp = env.Do(t, "GET", "/api/v1/namespaces/demo/pods?watch=1&resourceVersion="+first.ResourceVersion, tok, nil)
	mustCode(t, resp, http.StatusGone)
	var status metav1.Status
	resp.JSON(t, &status)
	if status.Reason != metav1.StatusReasonExpired {
		t.Errorf("reason %q, want Expired", status.Reason)
	}
	// A continue token from before the compaction is gone too.
	var page v1.PodList
	env.Do(t, "GET", "/api/v1/namespaces/demo/pods?limit=1", tok, nil).JSON(t, &page)
	env.Do(t, "POST", "/api/v1/namespaces/demo/pods", tok, pod("c", nil))
	var c v1.Pod
	env.Do(t, "GET", "/api/v1/namespaces/demo/pods/c", tok, nil).JSON(t, &c)
	rev, _ = strconv.ParseInt(c.ResourceVersion, 10, 64)
	env.Etcd.Compact(t.Context(), rev)
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/demo/pods?limit=1&continue="+page.Continue, tok, nil), http.StatusGone)
}

func TestWatchBookmarkAfterInitialObjects(t *testing.T) {
	env := testenv.Start(t)
	tok := env.AdminToken
	createNamespace(t, env, tok, "demo")
	for _, name := range []string{"a", "b"} {
		mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", tok, pod(name, nil)), 201)
	}
	var list v1.PodList
	env.Do(t, "GET", "/api/v1/namespaces/demo/pods", tok, nil).JSON(t, &list)
	_, events := openWatch(t, env, "/api/v1/namespaces/demo/pods?watch=1&allowWatchBookmarks=true")
	for _, want := range []string{"ADDED", "ADDED", "BOOKMARK"} {
		typ, p := next(t, events)
		if typ != want {
			t.Fatalf("event %s, want %s", typ, want)
		}
		if typ == "BOOKMARK" && p.ResourceVersion != list.ResourceVersion {
			t.Fatalf("bookmark at %s, want the list's %s", p.ResourceVersion, list.ResourceVersion)
		}
	}
}
