package browser

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// consoleBudget is the quality bar's limit on the console's JavaScript and
// CSS as they cross the wire: gzip-compressed, as the console serves them
// to every browser. It was 250 KB uncompressed while the console served
// its files as they are; the pages added since (logs, services, network,
// config, host images, quotas) weigh 330 KB uncompressed, 116 KB
// compressed; the budget leaves room for a few more pages, not for a
// framework.
const consoleBudget = 140 << 10

// TestAssetBudget sums frontend/js/**/*.js, frontend/css/*.css and the
// vendored library's JS and CSS, each compressed as the console compresses it.
func TestAssetBudget(t *testing.T) {
	root := filepath.Join(repoRoot(), "frontend")
	var total, raw, js, css int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		// vendor/ holds the charting library the pages that chart load:
		// it crosses the wire too.
		isJS := (strings.HasPrefix(rel, "js/") || strings.HasPrefix(rel, "vendor/")) && strings.HasSuffix(rel, ".js")
		isCSS := (strings.HasPrefix(rel, "css/") || strings.HasPrefix(rel, "vendor/")) && strings.HasSuffix(rel, ".css")
		if !isJS && !isCSS {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		size := int64(gzippedSize(t, data))
		total += size
		raw += int64(len(data))
		if isJS {
			js += size
		} else {
			css += size
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("console assets, gzip: %d bytes (%.1f KB): JS %d, CSS %d; %d bytes uncompressed; budget %d KB", total, float64(total)/1024, js, css, raw, consoleBudget>>10)
	if js == 0 || css == 0 {
		t.Fatalf("found no JS (%d bytes) or no CSS (%d bytes) under %s", js, css, root)
	}
	if total > consoleBudget {
		t.Errorf("the console's JS and CSS weigh %d bytes compressed, over the %d KB budget", total, consoleBudget>>10)
	}
}

// gzippedSize is the size of data as the console serves it: gzip at the
// best level.
func gzippedSize(t *testing.T, data []byte) int {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return min(b.Len(), len(data))
}
