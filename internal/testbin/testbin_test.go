package testbin

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

func TestKubectlVersion(t *testing.T) {
	tests := []struct {
		name, gomod, want, wantErr string
	}{
		{"block", "module x\n\nrequire (\n\tk8s.io/component-base v0.32.3\n\tk8s.io/kubectl v0.32.3\n)\n", "v1.32.3", ""},
		{"single line", "module x\nrequire k8s.io/kubectl v0.31.10 // pinned\n", "v1.31.10", ""},
		{"indirect neighbour only", "module x\nrequire k8s.io/kubectl-convert v0.32.3\n", "", "requires no k8s.io/kubectl"},
		{"missing", "module x\n", "", "requires no k8s.io/kubectl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "go.mod")
			if err := os.WriteFile(path, []byte(tt.gomod), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := kubectlVersion(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("kubectlVersion = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("kubectlVersion = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestKubectl builds the pinned kubectl and checks that it reports the
// version tools/kubectl/go.mod pins, whatever kubectl the machine has.
func TestKubectl(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kubectl from source; skipped in -short mode")
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	want, err := kubectlVersion(filepath.Join(root, KubectlModule, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	bin := Kubectl(t)
	if again := Kubectl(t); again != bin {
		t.Errorf("second Kubectl = %s, want the first build %s", again, bin)
	}
	out, err := exec.CommandContext(t.Context(), bin, "version", "--client", "-o", "json").Output()
	if err != nil {
		t.Fatalf("%s version: %v", bin, err)
	}
	var v struct {
		ClientVersion struct{ GitVersion, Major, Minor string }
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("kubectl version -o json: %v\n%s", err, out)
	}
	c := v.ClientVersion
	if c.GitVersion != want || c.Major != "1" || c.Minor != strings.Split(want, ".")[1] {
		t.Errorf("kubectl version = %+v, want %s", v.ClientVersion, want)
	}
}

// TestBerth builds berth and checks it is static: the infra image runs it
// FROM scratch.
func TestBerth(t *testing.T) {
	if testing.Short() {
		t.Skip("builds berth; skipped in -short mode")
	}
	f, err := elf.Open(Berth(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("berth has a program interpreter: it is dynamically linked")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("berth links %v dynamically", libs)
	}
}
