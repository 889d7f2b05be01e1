// Package browser tests the web console as a person uses it: Debian's
// Chromium, driven by chromedp, against a real `berth up` (embedded etcd,
// private PostgreSQL, a node agent on the local Docker engine). It fails
// on any JavaScript exception or console error, and saves a screenshot of
// every page it visits in $BERTH_SCREENSHOTS (default out/screenshots at
// the repository root) for a person to look at. -short skips it.
package browser

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// binDir holds the berth binary built for the tests; TestMain removes it.
var binDir string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "berth-browser-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	return m.Run()
}

// repoRoot is the repository's top directory.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var (
	buildOnce sync.Once
	buildErr  error
	buildOut  []byte
)

// berthBinary builds ./cmd/berth once per test binary, static as `make
// build` makes it, and returns its path.
func berthBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "berth")
	buildOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/berth")
		cmd.Dir = repoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/berth: %v\n%s", buildErr, buildOut)
	}
	return bin
}
