package browser

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// consoleBudget is the quality bar's limit on the console's JavaScript and
// CSS, uncompressed.
const consoleBudget = 250 << 10

// TestAssetBudget sums frontend/js/**/*.js and frontend/css/*.css.
func TestAssetBudget(t *testing.T) {
	root := filepath.Join(repoRoot(), "frontend")
	var total, js, css int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		isJS := strings.HasPrefix(rel, "js/") && strings.HasSuffix(rel, ".js")
		isCSS := strings.HasPrefix(rel, "css/") && strings.HasSuffix(rel, ".css")
		if !isJS && !isCSS {
			return nil
		}
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		total += info.Size()
		if isJS {
			js += info.Size()
		} else {
			css += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("console assets: %d bytes (%.1f KB): JS %d, CSS %d; budget %d KB", total, float64(total)/1024, js, css, consoleBudget>>10)
	if js == 0 || css == 0 {
		t.Fatalf("found no JS (%d bytes) or no CSS (%d bytes) under %s", js, css, root)
	}
	if total > consoleBudget {
		t.Errorf("the console's JS and CSS weigh %d bytes, over the %d KB budget", total, consoleBudget>>10)
	}
}
