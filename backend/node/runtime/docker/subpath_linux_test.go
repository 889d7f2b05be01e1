//go:build linux

package docker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBindSubPath resolves subPaths against volumes laid out as a
// container could lay them out, with openat2 and with the fallback for
// kernels without it.
func TestBindSubPath(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: bind mounts need root")
	}
	tests := []struct {
		name    string
		subPath string
		// layout prepares the volume root; host is a directory outside it
		// that holds the file "secret".
		layout  func(t *testing.T, root, host string)
		wantErr string
		// wantFile is a file that the staged path must show.
		wantFile string
		// created: the runtime made the subPath, with the volume's mode.
		created bool
	}{
		{name: "directory", subPath: "data", wantFile: "marker",
			layout: func(t *testing.T, root, _ string) { mkfile(t, filepath.Join(root, "data", "marker")) }},
		{name: "nested, created", subPath: "a/b/c", created: true,
			layout: func(t *testing.T, root, _ string) {}},
		{name: "file", subPath: "data/marker",
			layout: func(t *testing.T, root, _ string) { mkfile(t, filepath.Join(root, "data", "marker")) }},
		{name: "symlink to /", subPath: "escape", wantErr: "symbolic link",
			layout: func(t *testing.T, root, _ string) { symlink(t, "/", filepath.Join(root, "escape")) }},
		{name: "symlink to a host directory", subPath: "escape", wantErr: "symbolic link",
			layout: func(t *testing.T, root, host string) { symlink(t, host, filepath.Join(root, "escape")) }},
		{name: "symlink to ..", subPath: "up", wantErr: "symbolic link",
			layout: func(t *testing.T, root, _ string) { symlink(t, "..", filepath.Join(root, "up")) }},
		{name: "symlink in an intermediate component", subPath: "a/etc", wantErr: "symbolic link",
			layout: func(t *testing.T, root, _ string) { symlink(t, "/", filepath.Join(root, "a")) }},
		{name: "relative symlink in the volume", subPath: "link", wantErr: "symbolic link",
			layout: func(t *testing.T, root, _ string) {
				mkfile(t, filepath.Join(root, "data", "marker"))
				symlink(t, "data", filepath.Join(root, "link"))
			}},
		{name: "dot dot", subPath: "data/../../x", wantErr: "'..'",
			layout: func(t *testing.T, root, _ string) {}},
		{name: "absolute", subPath: "/etc", wantErr: "relative",
			layout: func(t *testing.T, root, _ string) {}},
	}
	for _, mode := range []string{"openat2", "openat"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "openat" {
				openat2Missing.Lock()
				openat2Missing.yes = true
				openat2Missing.Unlock()
				t.Cleanup(func() {
					openat2Missing.Lock()
					openat2Missing.yes = false
					openat2Missing.Unlock()
				})
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					dir := t.TempDir()
					root, host, podDir := filepath.Join(dir, "volume"), filepath.Join(dir, "host"), filepath.Join(dir, "pod")
					for _, d := range []string{root, host, podDir} {
						if err := os.Mkdir(d, 0o755); err != nil {
							t.Fatal(err)
						}
					}
					if err := os.Chmod(root, 0o777); err != nil {
						t.Fatal(err)
					}
					mkfile(t, filepath.Join(host, "secret"))
					tt.layout(t, root, host)
					target := filepath.Join(podDir, subPathsDir, "v", "c", "0")
					t.Cleanup(func() {
						if err := unmountSubPaths(podDir); err != nil {
							t.Error(err)
						}
					})
					got, err := bindSubPath(root, tt.subPath, target, nil)
					if tt.wantErr != "" {
						if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
							t.Fatalf("err = %v, want one that says %q", err, tt.wantErr)
						}
						if _, err := os.Lstat(target); err == nil {
							t.Errorf("staging path %s exists after a refusal", target)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					if got != target {
						t.Errorf("staged at %q, want %q", got, target)
					}
					if tt.wantFile != "" {
						if _, err := os.Stat(filepath.Join(target, tt.wantFile)); err != nil {
							t.Errorf("staged path: %v", err)
						}
					}
					want, err := os.Stat(filepath.Join(root, tt.subPath))
					if err != nil {
						t.Fatal(err)
					}
					staged, err := os.Stat(target)
					if err != nil {
						t.Fatal(err)
					}
					if !os.SameFile(want, staged) {
						t.Errorf("staged path is not %s", tt.subPath)
					}
					if tt.created && want.Mode().Perm() != 0o777 {
						t.Errorf("created with mode %v, want the volume's 0777", want.Mode().Perm())
					}
					// Binding again (a restarted container) replaces
					// the mount rather than stacking one on it.
					if _, err := bindSubPath(root, tt.subPath, target, nil); err != nil {
						t.Fatal(err)
					}
					if mounts, err := mountsUnder(podDir); err != nil || len(mounts) != 1 {
						t.Errorf("mounts under the pod: %q, %v; want one", mounts, err)
					}
				})
			}
		})
	}
}

// TestUnmountSubPathsBeforeRemoval: killing a pod must never delete the
// files that a staged subPath shows, also when the pod's directory is
// named through a symbolic link (the mount table names the real path).
func TestUnmountSubPathsBeforeRemoval(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: bind mounts need root")
	}
	for _, viaLink := range []bool{false, true} {
		dir := t.TempDir()
		root, podDir := filepath.Join(dir, "volume"), filepath.Join(dir, "pod")
		mkfile(t, filepath.Join(root, "data", "keep"))
		if err := os.Mkdir(podDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if viaLink {
			symlink(t, podDir, filepath.Join(dir, "link"))
			podDir = filepath.Join(dir, "link")
		}
		if _, err := bindSubPath(root, "data", filepath.Join(podDir, subPathsDir, "v", "c", "0"), nil); err != nil {
			t.Fatal(err)
		}
		if err := unmountSubPaths(podDir); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(podDir, subPathsDir)); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, "data", "keep")); err != nil {
			t.Errorf("via a link %t: the volume's file after the pod's removal: %v", viaLink, err)
		}
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	if got := unescapeMountinfo(`/a\040b\011c\134`); got != "/a b\tc\\" {
		t.Errorf("got %q", got)
	}
}

func mkfile(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, to, at string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(to, at); err != nil {
		t.Fatal(err)
	}
}
