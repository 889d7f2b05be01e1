package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// offline makes the CLI's configuration name no server: a command that
// asked one would fail.
func offline(t *testing.T) {
	t.Helper()
	t.Setenv("BERTH_CONFIG", filepath.Join(t.TempDir(), "no-config.json"))
}

// definitionDir writes files into a new directory and returns it.
func definitionDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestHostImageRenderOffline renders Berth's own Debian host from its
// path, with no server, for each architecture: the include merged, the
// per-architecture packages and ${basearch} resolved.
func TestHostImageRenderOffline(t *testing.T) {
	offline(t)
	tests := []struct {
		basearch, ref, kernel, otherKernel string
	}{
		{"x86_64", "berth/debian/12/x86_64/host", "linux-image-amd64", "linux-image-arm64"},
		{"aarch64", "berth/debian/12/aarch64/host", "linux-image-arm64", "linux-image-amd64"},
	}
	for _, tc := range tests {
		t.Run(tc.basearch, func(t *testing.T) {
			out := mustRun(t, "", "hostimage", "render", "../ostree-compose/berth-host-debian.yaml", "--basearch", tc.basearch)
			var tf struct {
				Ref          string     `json:"ref"`
				Basearch     string     `json:"basearch"`
				Packages     []string   `json:"packages"`
				Units        []string   `json:"units"`
				OstreeLayers []string   `json:"ostree-layers"`
				AddFiles     [][]string `json:"add-files"`
				Include      any        `json:"include"`
			}
			if err := json.Unmarshal([]byte(out), &tf); err != nil {
				t.Fatalf("render printed no JSON treefile: %v\n%s", err, out)
			}
			if tf.Ref != tc.ref || tf.Basearch != tc.basearch {
				t.Errorf("ref %q basearch %q, want %q %q", tf.Ref, tf.Basearch, tc.ref, tc.basearch)
			}
			if !slices.Contains(tf.Packages, tc.kernel) || slices.Contains(tf.Packages, tc.otherKernel) || !slices.Contains(tf.Packages, "docker.io") {
				t.Errorf("packages %v: want %s and docker.io, not %s", tf.Packages, tc.kernel, tc.otherKernel)
			}
			// The base's lists come first, the host's after (rpm-ostree's
			// include rules); include itself is resolved away.
			if !slices.Equal(tf.Units, []string{"docker.service", "berth-node.service"}) || !slices.Equal(tf.OstreeLayers, []string{"berth/node"}) ||
				len(tf.AddFiles) != 3 || tf.Include != nil {
				t.Errorf("units %v, layers %v, add-files %v, include %v", tf.Units, tf.OstreeLayers, tf.AddFiles, tf.Include)
			}
		})
	}
}

// TestHostImageValidateOffline validates treefiles on this machine, with
// no server: a valid one says what it composes; each invalid one exits
// with an error counting its problems and prints each, naming its file
// and key, on stderr.
func TestHostImageValidateOffline(t *testing.T) {
	offline(t)
	const sources = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n"
	tests := []struct {
		name  string
		files map[string]string
		args  []string // after the treefile's path; "" for none
		out   string   // on stdout when valid
		errs  []string // on stderr, one line each, when not
	}{
		{
			name:  "valid",
			files: map[string]string{"host.yaml": "include: base.yaml\nref: t/${basearch}\nrepos: [debian]\npackages: [systemd]\n", "base.yaml": "units: [x.service]\n", "debian.sources": sources},
			args:  []string{"--basearch", "aarch64"},
			out:   "host.yaml is valid: ref t/aarch64, 1 packages, 3 files read, composed by ostree\n",
		},
		{
			name:  "unknown key and missing packages",
			files: map[string]string{"host.yaml": "ref: t\nrepos: [debian]\nfrobnicate: 1\n", "debian.sources": sources},
			errs:  []string{"host.yaml: frobnicate: unknown key", "host.yaml: packages: required"},
		},
		{
			name:  "include cycle",
			files: map[string]string{"host.yaml": "include: base.yaml\nref: t\nrepos: [debian]\npackages: [a]\n", "base.yaml": "include: host.yaml\n", "debian.sources": sources},
			errs:  []string{"base.yaml: include: include cycle: host.yaml → base.yaml → host.yaml"},
		},
		{
			name: "add-files outside /usr and /etc, missing source, bad unit, repo without a file",
			files: map[string]string{"host.yaml": "ref: t\nrepos: [nowhere]\npackages: [a]\nunits: [\"bad name\"]\n" +
				"add-files:\n  - [missing.txt, /usr/share/x]\n  - [here.txt, /opt/x]\n", "here.txt": "x\n"},
			errs: []string{"host.yaml: add-files[0]: source missing.txt: no such file in the definition", "host.yaml: add-files[1]",
				`host.yaml: units[0]: "bad name" is not a systemd unit name`, "host.yaml: repos[0]"},
		},
		{
			name:  "not YAML",
			files: map[string]string{"host.yaml": "ref: [unclosed\n"},
			errs:  []string{"host.yaml: "},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := definitionDir(t, tc.files)
			stdout, stderr, err := run(t, "", append([]string{"hostimage", "validate", filepath.Join(dir, "host.yaml")}, tc.args...)...)
			if tc.errs == nil {
				if err != nil || !strings.HasSuffix(stdout, tc.out) {
					t.Fatalf("stdout %q, stderr %q, err %v; want %q", stdout, stderr, err, tc.out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "the definition is invalid") {
				t.Fatalf("err %v, want the definition invalid (stdout %q)", err, stdout)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			for _, want := range tc.errs {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, want) }) {
					t.Errorf("no problem %q on stderr:\n%s", want, stderr)
				}
			}
			want := fmt.Sprintf("the definition is invalid: %d problems", len(lines))
			if len(lines) == 1 {
				want = "the definition is invalid: 1 problem"
			}
			if err.Error() != want {
				t.Errorf("err %q, want %q (one a line of stderr)", err, want)
			}
		})
	}
}

// TestHostImageLocalRoot: a treefile on this machine may name nothing
// outside its --root, and must itself be inside it.
func TestHostImageLocalRoot(t *testing.T) {
	offline(t)
	outside := definitionDir(t, map[string]string{"secret.txt": "x\n"})
	dir := definitionDir(t, map[string]string{
		"defs/host.yaml":      "ref: t\nrepos: [debian]\npackages: [a]\nadd-files:\n  - [../" + filepath.Base(outside) + "/secret.txt, /etc/x]\n",
		"defs/debian.sources": "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n",
	})
	_, stderr, err := run(t, "", "hostimage", "validate", filepath.Join(dir, "defs", "host.yaml"))
	if err == nil || !strings.Contains(stderr, "add-files[0]") {
		t.Errorf("an add-files source outside the definition's directory: err %v, stderr %q", err, stderr)
	}
	other := t.TempDir()
	if _, _, err := run(t, "", "hostimage", "render", filepath.Join(dir, "defs", "host.yaml"), "--root", other); err == nil || !strings.Contains(err.Error(), "is not inside --root") {
		t.Errorf("a treefile outside --root: %v", err)
	}
}
