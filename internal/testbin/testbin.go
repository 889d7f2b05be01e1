// Package testbin builds the programs that tests run as processes: the
// berth binary, static as `make build` builds it (the infra image runs it
// FROM scratch), and kubectl from source at the version pinned in
// tools/kubectl/go.mod, so that no test depends on what the machine has
// installed.
//
// Each program is built at most once per test binary, into a directory that
// Cleanup removes; a TestMain that uses this package defers Cleanup. Builds
// of all test binaries on the machine take turns (a file lock), so that the
// packages `go test ./...` runs in parallel do not compile the same program
// side by side: the first build fills Go's build cache, the next ones link
// from it in seconds.
package testbin

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildTimeout bounds one build; kubectl from a cold cache takes minutes on
// a busy two-core machine.
const buildTimeout = 15 * time.Minute

// KubectlModule is the directory, relative to the repository root, of the
// module that pins kubectl.
const KubectlModule = "tools/kubectl"

var (
	mu     sync.Mutex
	dir    string                // guarded by mu; created by the first build
	builds = map[string]*build{} // guarded by mu; by program name
)

// build is one program's build, done once.
type build struct {
	once sync.Once
	path string
	err  error
}

// Berth returns the path of the berth binary built from ./cmd/berth with
// CGO_ENABLED=0, -trimpath and stripped, as `make build` builds it.
func Berth(t testing.TB) string {
	t.Helper()
	return get(t, "berth", func(ctx context.Context, root, out string) error {
		return goBuild(ctx, root, out, "-ldflags=-s -w", "./cmd/berth")
	})
}

// Kubectl returns the path of kubectl built from the k8s.io/kubectl module
// at the version tools/kubectl/go.mod requires, stamped with the matching
// Kubernetes version (v0.32.3 is kubectl v1.32.3), as `kubectl version`
// and its User-Agent report it.
func Kubectl(t testing.TB) string {
	t.Helper()
	return get(t, "kubectl", func(ctx context.Context, root, out string) error {
		modDir := filepath.Join(root, KubectlModule)
		version, err := kubectlVersion(filepath.Join(modDir, "go.mod"))
		if err != nil {
			return err
		}
		return goBuild(ctx, modDir, out, "-ldflags="+kubectlLDFlags(version), ".")
	})
}

// Cleanup removes every program built so far. TestMain calls it after
// m.Run.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
		dir = ""
	}
	builds = map[string]*build{}
}

// get builds the program name with do once per test binary and returns its
// path, or fails t with the build's output.
func get(t testing.TB, name string, do func(ctx context.Context, root, out string) error) string {
	t.Helper()
	mu.Lock()
	b, ok := builds[name]
	if !ok {
		b = &build{}
		builds[name] = b
	}
	mu.Unlock()
	b.once.Do(func() { b.path, b.err = buildProgram(name, do) })
	if b.err != nil {
		t.Fatalf("build %s: %v", name, b.err)
	}
	return b.path
}

func buildProgram(name string, do func(ctx context.Context, root, out string) error) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	out, err := outputDir()
	if err != nil {
		return "", err
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	unlock, err := lockBuilds()
	if err != nil {
		return "", err
	}
	defer unlock()
	path := filepath.Join(out, name)
	if err := do(ctx, root, path); err != nil {
		return "", err
	}
	return path, nil
}

// outputDir is this test binary's directory of built programs.
func outputDir() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if dir == "" {
		d, err := os.MkdirTemp("", "berth-testbin-")
		if err != nil {
			return "", err
		}
		dir = d
	}
	return dir, nil
}

// RepoRoot is the directory of the main module's go.mod: tests run in
// their package's directory, inside the module.
func RepoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the berth module (go env GOMOD is %q)", gomod)
	}
	return filepath.Dir(gomod), nil
}

// goBuild builds pkg in dir into out: static and without VCS stamping, as
// `make build` does. "go" is the toolchain running the tests: go test puts
// its GOROOT/bin first on the PATH of the test binaries it starts.
func goBuild(ctx context.Context, dir, out, ldflags, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", ldflags, "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false", "GOWORK=off")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s in %s: %w\n%s", pkg, dir, err, output.String())
	}
	return nil
}

// lockBuilds takes the machine-wide build lock and returns its release.
func lockBuilds() (func(), error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "berth-testbin.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("build lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("build lock: %w", err)
	}
	return func() { f.Close() }, nil
}

var kubectlRequire = regexp.MustCompile(`^\s*(?:require\s+)?k8s\.io/kubectl\s+(v0\.(\d+)\.(\d+))\s*(?://.*)?$`)

// kubectlVersion reads the k8s.io/kubectl requirement of the go.mod at path
// and returns the Kubernetes version it is released with: module v0.Y.Z is
// Kubernetes v1.Y.Z.
func kubectlVersion(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := kubectlRequire.FindStringSubmatch(sc.Text()); m != nil {
			return "v1." + m[2] + "." + m[3], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s requires no k8s.io/kubectl v0.Y.Z", path)
}

// kubectlLDFlags stamps version into the packages a Kubernetes release
// build stamps (hack/lib/version.sh): component-base for `kubectl
// version`, client-go for the User-Agent.
func kubectlLDFlags(version string) string {
	minor := strings.Split(version, ".")[1]
	flags := []string{"-s", "-w"}
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		flags = append(flags,
			"-X", pkg+".gitVersion="+version,
			"-X", pkg+".gitMajor=1",
			"-X", pkg+".gitMinor="+minor,
			"-X", pkg+".gitTreeState=clean")
	}
	return strings.Join(flags, " ")
}
