package bench

import (
	"os"
	"testing"

	"github.com/berthpaas/berth/backend/testenv"
	"github.com/berthpaas/berth/internal/testbin"
)

// TestMain runs the benchmarks, then removes the berth binary testbin built
// for them.
func TestMain(m *testing.M) {
	code := testenv.Main(m)
	testbin.Cleanup()
	os.Exit(code)
}
