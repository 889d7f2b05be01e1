// Package imagetest builds the images that tests run on the Docker engine,
// with no registry: each is FROM scratch plus a static program (a Go HTTP
// echo server, Debian's static busybox) from a tar context. It is a test
// helper kept out of _test files so that every package's tests can use it.
package imagetest

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/berthpaas/berth/backend/node/runtime/docker"
)

// Images built by this package.
const (
	EchoImage  = "berth-test-echo:latest"
	ShellImage = "berth-test-shell:latest"
)

// BusyboxPath is where Debian's busybox-static package installs busybox.
const BusyboxPath = "/bin/busybox"

//go:embed testdata/echo/main.go
var echoSource string

// Client connects to the local Docker engine (DOCKER_HOST if set). If the
// engine does not answer, the test fails, or is skipped under -short.
func Client(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		if testing.Short() {
			t.Skipf("skipped under -short: the Docker engine does not answer: %v", err)
		}
		t.Fatalf("the Docker engine at %s does not answer (start it with scripts/setup; -short skips this test): %v", cli.DaemonHost(), err)
	}
	return cli
}

// RemoveContainers removes, when the test ends, every container that
// carries label ("key" or "key=value"), and the cgroup parents the
// runtime gave them (under /berth), which the engine leaves.
func RemoveContainers(t testing.TB, cli client.ContainerAPIClient, label string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		list, err := cli.ContainerList(ctx, container.ListOptions{
			All: true, Filters: filters.NewArgs(filters.Arg("label", label)),
		})
		if err != nil {
			t.Errorf("listing the test's containers: %v", err)
			return
		}
		var parents []string
		for _, c := range list {
			if info, err := cli.ContainerInspect(ctx, c.ID); err == nil && info.HostConfig != nil {
				parents = append(parents, info.HostConfig.CgroupParent)
			}
			err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
			// A container the test's runtime is removing at this moment
			// is on its way out too.
			if err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) && !strings.Contains(err.Error(), "already in progress") {
				t.Errorf("removing container %s: %v", c.Names, err)
			}
		}
		for _, p := range parents {
			removeCgroupParent(p)
		}
	})
}

// RemoveContainer removes a test's container, and the cgroup parent the
// runtime gave it (under /berth), which the engine leaves.
func RemoveContainer(ctx context.Context, cli client.ContainerAPIClient, id string) error {
	parent := ""
	if info, err := cli.ContainerInspect(ctx, id); err == nil && info.HostConfig != nil {
		parent = info.HostConfig.CgroupParent
	}
	err := cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err == nil {
		removeCgroupParent(parent)
	}
	return err
}

// removeCgroupParent removes a container's cgroup parent under /berth,
// and its pod's and runtime's when they are empty, from every hierarchy
// (rmdir removes only an empty cgroup; the runtime's own may be gone).
func removeCgroupParent(parent string) {
	parent = path.Clean(parent)
	if !strings.HasPrefix(parent, "/berth/") || strings.Count(parent, "/") != 4 {
		return
	}
	mounts, _ := filepath.Glob("/sys/fs/cgroup/*")
	mounts = append(mounts, "/sys/fs/cgroup")
	for _, mnt := range mounts {
		for dir := parent; dir != "/berth"; dir = path.Dir(dir) {
			syscall.Rmdir(filepath.Join(mnt, filepath.FromSlash(dir)))
		}
	}
}

// built remembers the images built by this process, by tag.
var built sync.Map // tag → *buildOnce

type buildOnce struct {
	once sync.Once
	err  error
}

// once builds an image at most once per process.
func once(t testing.TB, tag string, build func() error) string {
	t.Helper()
	b, _ := built.LoadOrStore(tag, &buildOnce{})
	bo := b.(*buildOnce)
	bo.once.Do(func() { bo.err = build() })
	if bo.err != nil {
		t.Fatalf("image %s: %v", tag, bo.err)
	}
	return tag
}

// BuildEchoImage builds berth-test-echo:latest, FROM scratch with the HTTP
// echo server of testdata/echo (see its doc), and returns its tag.
func BuildEchoImage(ctx context.Context, t testing.TB, cli client.ImageAPIClient) string {
	t.Helper()
	return once(t, EchoImage, func() error {
		dockerfile := "FROM scratch\nCOPY echo /echo\nUSER 65532:65532\nEXPOSE 8080\nENTRYPOINT [\"/echo\"]\n"
		hash := hashOf(echoSource, goruntime.Version(), dockerfile)
		if current(ctx, cli, EchoImage, hash) {
			return nil
		}
		dir, err := os.MkdirTemp("", "berth-imagetest-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin, err := compile(ctx, dir, "echo", echoSource)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		files := []docker.ContextFile{{Name: "echo", Mode: 0o755, Data: data}}
		return docker.BuildImage(ctx, cli, EchoImage, hash, dockerfile, files)
	})
}

// BuildShellImage builds berth-test-shell:latest, FROM scratch with
// Debian's static busybox in /bin, a link for each of its applets (sh, ls,
// cat, echo, sleep, touch, ...), /tmp and a root user, and returns its tag.
func BuildShellImage(ctx context.Context, t testing.TB, cli client.ImageAPIClient) string {
	t.Helper()
	return once(t, ShellImage, func() error {
		bb, err := os.ReadFile(BusyboxPath)
		if err != nil {
			return fmt.Errorf("busybox (Debian package busybox-static, installed by scripts/setup): %w", err)
		}
		out, err := exec.CommandContext(ctx, BusyboxPath, "--list").Output()
		if err != nil {
			return fmt.Errorf("busybox --list: %w", err)
		}
		applets := strings.Fields(string(out))
		dockerfile := "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD [\"sh\"]\n"
		hash := hashOf(string(bb), strings.Join(applets, " "), dockerfile)
		if current(ctx, cli, ShellImage, hash) {
			return nil
		}
		files := []docker.ContextFile{
			{Name: "rootfs/bin", Mode: 0o755, Dir: true},
			{Name: "rootfs/bin/busybox", Mode: 0o755, Data: bb},
			{Name: "rootfs/tmp", Mode: 0o1777, Dir: true},
			{Name: "rootfs/root", Mode: 0o700, Dir: true},
			{Name: "rootfs/etc", Mode: 0o755, Dir: true},
			{Name: "rootfs/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")},
			{Name: "rootfs/etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnogroup:x:65534:\n")},
		}
		for _, a := range applets {
			if a != "busybox" && !strings.Contains(a, "/") {
				files = append(files, docker.ContextFile{Name: "rootfs/bin/" + a, Mode: 0o777, Link: "busybox"})
			}
		}
		return docker.BuildImage(ctx, cli, ShellImage, hash, dockerfile, files)
	})
}

// compile builds a one-file Go program that imports only the standard
// library into a static binary dir/name.
func compile(ctx context.Context, dir, name, source string) (string, error) {
	src := filepath.Join(dir, name+".go")
	if err := os.WriteFile(src, []byte(source), 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	// "go" is the toolchain running the tests: go test puts its GOROOT/bin
	// first on the PATH of the test binaries it starts.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-buildvcs=false", "GO111MODULE=on")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s (CGO_ENABLED=0): %w\n%s", name, err, out)
	}
	return bin, nil
}

// current reports whether the image tag exists and was built from the
// inputs that hash to hash.
func current(ctx context.Context, cli client.ImageAPIClient, tag, hash string) bool {
	img, err := cli.ImageInspect(ctx, tag)
	return err == nil && img.Config != nil && img.Config.Labels[docker.LabelImageHash] == hash
}

func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// HelloImage is Berth's sample application (examples/hello) as the tests
// build it: it answers "Hello from Berth! pod=<POD_NAME> ...".
const HelloImage = "berth-test-hello:latest"

// BuildHelloImage builds berth-test-hello:latest, FROM scratch with the
// program of examples/hello as `make examples` builds it, and returns its
// tag.
func BuildHelloImage(ctx context.Context, t testing.TB, cli client.ImageAPIClient) string {
	t.Helper()
	return once(t, HelloImage, func() error {
		_, here, _, _ := goruntime.Caller(0)
		src, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "..", "..", "examples", "hello", "main.go"))
		if err != nil {
			return fmt.Errorf("examples/hello: %w", err)
		}
		dockerfile := "FROM scratch\nCOPY hello /hello\nUSER 65532:65532\nEXPOSE 8080\nENTRYPOINT [\"/hello\"]\n"
		hash := hashOf(string(src), goruntime.Version(), dockerfile)
		if current(ctx, cli, HelloImage, hash) {
			return nil
		}
		dir, err := os.MkdirTemp("", "berth-imagetest-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin, err := compile(ctx, dir, "hello", string(src))
		if err != nil {
			return err
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		return docker.BuildImage(ctx, cli, HelloImage, hash, dockerfile, []docker.ContextFile{{Name: "hello", Mode: 0o755, Data: data}})
	})
}
