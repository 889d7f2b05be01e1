// Package browser tests the web console as a person uses it: Debian's
// Chromium, driven by chromedp, against a real `berth up` (embedded etcd,
// private PostgreSQL, a node agent on the local Docker engine). It fails
// on any JavaScript exception or console error, and saves a screenshot of
// every page it visits in $BERTH_SCREENSHOTS (default out/screenshots at
// the repository root) for a person to look at. -short skips it.
package browser

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/berthpaas/berth/internal/testbin"
)

// TestMain runs the tests, then removes the berth binary testbin built for
// them.
func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// repoRoot is the repository's top directory.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
