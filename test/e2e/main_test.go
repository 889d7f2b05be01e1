// Package e2e tests Berth from the outside: kubectl (built from source at
// the version tools/kubectl pins), the berth CLI and the berth binary
// itself against real masters (embedded etcd, real PostgreSQL). -short
// skips them.
package e2e

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/testenv"
	"github.com/berthpaas/berth/internal/syncbuf"
	"github.com/berthpaas/berth/internal/testbin"
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

// run runs the tests, then removes the berth and kubectl binaries that
// testbin built for them.
func run(m *testing.M) int {
	defer testbin.Cleanup()
	return testenv.Main(m)
}

// syncBuffer is shared with the other tests.
type syncBuffer = syncbuf.Buffer

// waitFor polls cond until it holds or the timeout passes, and reports
// whether it held.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// podObject is a minimal valid pod.
func podObject(name string) map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "labels": map[string]string{"app": name}},
		"spec": map[string]any{"containers": []any{map[string]any{
			"name": "app", "image": "registry.example/" + name + ":1",
		}}},
	}
}

func mustCode(t *testing.T, resp testenv.Response, want int) {
	t.Helper()
	if resp.Code != want {
		t.Fatalf("got HTTP %d, want %d: %s", resp.Code, want, resp.Body)
	}
}

func createNamespace(t *testing.T, env *testenv.Env, token, name string) {
	t.Helper()
	mustCode(t, env.Do(t, http.MethodPost, "/api/v1/namespaces", token,
		map[string]any{"metadata": map[string]string{"name": name}}), http.StatusCreated)
}

// lineWith returns the first line of out that contains every one of words.
func lineWith(out string, words ...string) (string, bool) {
next:
	for _, line := range strings.Split(out, "\n") {
		for _, w := range words {
			if !strings.Contains(line, w) {
				continue next
			}
		}
		return line, true
	}
	return "", false
}
