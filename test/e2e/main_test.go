// Package e2e tests Berth from the outside: the installed kubectl, the
// berth CLI and the berth binary itself against real masters (embedded
// etcd, real PostgreSQL). -short skips them.
package e2e

import (
	"fmt"
	"github.com/berthpaas/berth/internal/syncbuf"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/testenv"
)

// binDir holds the berth binary built for the server tests; TestMain
// removes it.
var binDir string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "berth-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	return testenv.Main(m)
}

var (
	buildOnce sync.Once
	buildErr  error
	buildOut  []byte
)

// berthBinary builds ./cmd/berth once per test binary and returns its path.
func berthBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "berth")
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/berth")
		cmd.Dir = root
		// Static, as make build makes it: the infra image runs it FROM scratch.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/berth: %v\n%s", buildErr, buildOut)
	}
	return bin
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
