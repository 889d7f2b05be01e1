package hostimage_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthpaas/berth/hostimage"
)

// TestRepoCompressesAtLevelOne: objects are compressed at zlib's level 1
// (larger than at ostree's default level 6), in a new repository and in
// one an earlier Berth configured under core.zlib-level, which ostree
// ignores.
func TestRepoCompressesAtLevelOne(t *testing.T) {
	if _, err := exec.LookPath("ostree"); err != nil {
		t.Fatal("ostree is not installed: scripts/setup installs it")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	// Text as compressible as a program's: levels 1 and 6 differ on it.
	rng := rand.New(rand.NewPCG(1, 2))
	var text strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&text, "entry %d: value %d of %d\n", i, rng.IntN(1000), rng.IntN(50))
	}
	if err := os.WriteFile(filepath.Join(tree, "data"), []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ostree := func(repo string, args ...string) string {
		t.Helper()
		out, err := exec.Command("ostree", append([]string{"--repo=" + repo}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ostree %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	// stored commits the tree and returns the size of its file's object.
	stored := func(repo string) int64 {
		t.Helper()
		commit := ostree(repo, "commit", "--orphan", "--tree=dir="+tree)
		sum := strings.Fields(ostree(repo, "ls", "-C", commit, "/data"))[4]
		info, err := os.Stat(filepath.Join(repo, "objects", sum[:2], sum[2:]+".filez"))
		if err != nil {
			t.Fatal(err)
		}
		return info.Size()
	}
	defaultRepo := filepath.Join(dir, "default")
	ostree(defaultRepo, "init", "--mode=archive")
	atDefault := stored(defaultRepo)

	for _, tc := range []struct {
		name    string
		prepare func(path string)
	}{
		{"new repository", func(string) {}},
		{"core.zlib-level of an earlier Berth", func(path string) {
			ostree(path, "init", "--mode=archive")
			ostree(path, "config", "set", "core.zlib-level", "1")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "repo")
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			tc.prepare(path)
			if _, err := hostimage.OpenRepo(t.Context(), path, hostimage.GPG{}); err != nil {
				t.Fatal(err)
			}
			if got := stored(path); got <= atDefault {
				t.Errorf("object of %d bytes, at the default level %d: not compressed at level 1", got, atDefault)
			}
			if level := ostree(path, "config", "get", "archive.zlib-level"); level != "1" {
				t.Errorf("archive.zlib-level = %q, want 1", level)
			}
		})
	}
}
