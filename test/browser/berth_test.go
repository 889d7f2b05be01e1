package browser

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	dockerclient "github.com/docker/docker/client"
	v1 "k8s.io/api/core/v1"

	noderuntime "github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/imagetest"
	"github.com/berthpaas/berth/backend/testenv"
	"github.com/berthpaas/berth/internal/syncbuf"
	"github.com/berthpaas/berth/internal/testbin"
)

// The sample images of `make examples`.
const (
	helloImage = "berth-examples/hello:latest"
	shellImage = "berth-examples/shell:latest"
)

var consoleLine = regexp.MustCompile(`Console:\s+(http://\S+?)/?\s`)

// cluster is a `berth up` process with its node agent on the local Docker
// engine, and the admin signed in to its API.
type cluster struct {
	url     string
	api     *testenv.Env // URL and AdminToken set
	admin   string       // the admin's password
	docker  *dockerclient.Client
	dataDir string
	listen  string   // the address berth up listens on (127.0.0.1:0 unless it restarts)
	flags   []string // berth up's own flags, kept across restarts
	up      *upProcess

	mu      sync.Mutex
	podUIDs map[string]bool // guarded by mu: pods whose containers the test removes at the end
}

// upProcess is one run of berth up.
type upProcess struct {
	cmd         *exec.Cmd
	url         string // the console's, once it serves
	out, errOut syncBuffer
	exited      chan struct{}
	exitErr     error // set before exited closes
}

// startCluster starts berth up on a fresh data dir and stops it when the
// test ends, removing the containers of the pods it saw.
func startCluster(t *testing.T) *cluster {
	return startClusterAt(t, "127.0.0.1:0")
}

// startClusterAt is startCluster listening on listen, with berth up's
// flags: a fixed address lets the test restart berth up under an open tab.
func startClusterAt(t *testing.T, listen string, flags ...string) *cluster {
	t.Helper()
	c := &cluster{docker: imagetest.Client(t), podUIDs: map[string]bool{}, listen: listen, flags: flags}
	ensureExampleImages(t)
	// Registered first, so that it runs after berth up has stopped.
	t.Cleanup(c.removeContainers(t))

	c.dataDir = filepath.Join(t.TempDir(), "data")
	t.Cleanup(func() {
		if c.up != nil {
			stopUp(t, c.up, c.dataDir)
		}
	})
	c.launch(t)
	pw, err := os.ReadFile(filepath.Join(c.dataDir, "admin-password"))
	if err != nil {
		t.Fatalf("admin password: %v", err)
	}
	c.admin = strings.TrimSpace(string(pw))
	c.api = &testenv.Env{URL: c.url}
	c.api.AdminToken = c.api.Login(t, "admin", c.admin)
	// Runs before berth up stops: the last look at the project's pods.
	t.Cleanup(func() { c.trackPods(t, "demo") })
	return c
}

// launch starts berth up on the cluster's data dir and waits until it
// prints its console's URL.
func (c *cluster) launch(t *testing.T) {
	t.Helper()
	pods := testenv.ClusterCIDR(t, c.dataDir)
	flags := append([]string{"--cluster-cidr", pods.String(), "--service-cluster-ip-range", testenv.ServiceCIDR(pods).String(),
		"--router-listen", "127.0.0.1:0", "--router-tls-listen", "127.0.0.1:0"}, c.flags...)
	c.up = startUp(t, c.dataDir, c.listen, flags...)
	c.url = c.up.url
}

// startUp starts berth up on dataDir, listening on listen, with the
// extra flags, and waits until it prints its console's URL. The caller
// stops it (stopUp).
func startUp(t *testing.T, dataDir, listen string, flags ...string) *upProcess {
	t.Helper()
	up := &upProcess{exited: make(chan struct{})}
	cmd := exec.Command(testbin.Berth(t), append([]string{"up", "--data-dir", dataDir, "--listen", listen, "--log-level", "warn"}, flags...)...)
	cmd.Stdout, cmd.Stderr = &up.out, &up.errOut
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start berth up: %v", err)
	}
	up.cmd = cmd
	go func() {
		up.exitErr = cmd.Wait()
		close(up.exited)
	}()
	deadline := time.After(2 * time.Minute)
	for {
		if m := consoleLine.FindStringSubmatch(up.out.String()); m != nil {
			up.url = m[1]
			return up
		}
		select {
		case <-up.exited:
			t.Fatalf("berth up exited before serving: %v\nstdout: %s\nstderr: %s", up.exitErr, up.out.String(), up.errOut.String())
		case <-deadline:
			t.Fatalf("berth up printed no Console URL within 2m\nstdout: %s\nstderr: %s", up.out.String(), up.errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends berth up as a restart would (SIGTERM); its containers run on.
func (c *cluster) stop(t *testing.T) {
	t.Helper()
	stopUp(t, c.up, c.dataDir)
	c.up = nil
}

// stopUp ends berth up with SIGTERM (SIGKILL after 30s) and any PostgreSQL
// it left, so that nothing outlives the test.
func stopUp(t *testing.T, up *upProcess, dataDir string) {
	_ = up.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-up.exited:
	case <-time.After(30 * time.Second):
		t.Errorf("berth up did not exit within 30s of SIGTERM; killing it")
		_ = up.cmd.Process.Kill()
		<-up.exited
	}
	out, err := exec.Command("pgrep", "-f", regexp.QuoteMeta(dataDir)).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			t.Errorf("process %d (PostgreSQL?) outlived berth up; killing its group", pid)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}

// trackPods remembers the pods of namespace ns, whose containers the test
// removes when it ends.
func (c *cluster) trackPods(t *testing.T, ns string) []v1.Pod {
	t.Helper()
	var list v1.PodList
	resp := c.api.Do(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods", c.api.AdminToken, nil)
	if resp.Code != http.StatusOK {
		t.Errorf("list pods of %s: HTTP %d %s", ns, resp.Code, resp.Body)
		return nil
	}
	resp.JSON(t, &list)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range list.Items {
		c.podUIDs[string(p.UID)] = true
	}
	return list.Items
}

// pod reads a pod through the API.
func (c *cluster) pod(t *testing.T, ns, name string) v1.Pod {
	t.Helper()
	var pod v1.Pod
	resp := c.api.Do(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods/"+name, c.api.AdminToken, nil)
	if resp.Code != http.StatusOK {
		t.Fatalf("get pod %s/%s: HTTP %d %s", ns, name, resp.Code, resp.Body)
	}
	resp.JSON(t, &pod)
	c.mu.Lock()
	c.podUIDs[string(pod.UID)] = true
	c.mu.Unlock()
	return pod
}

// service reads a service through the API.
func (c *cluster) service(t *testing.T, ns, name string) v1.Service {
	t.Helper()
	var svc v1.Service
	resp := c.api.Do(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/services/"+name, c.api.AdminToken, nil)
	if resp.Code != http.StatusOK {
		t.Fatalf("get service %s/%s: HTTP %d %s", ns, name, resp.Code, resp.Body)
	}
	resp.JSON(t, &svc)
	return svc
}

// removeContainers returns the cleanup that removes the Docker containers
// of every pod the test saw. Other masters share the engine, so it goes by
// pod UID, never by namespace.
func (c *cluster) removeContainers(t *testing.T) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c.mu.Lock()
		defer c.mu.Unlock()
		for uid := range c.podUIDs {
			list, err := c.docker.ContainerList(ctx, container.ListOptions{
				All: true, Filters: filters.NewArgs(filters.Arg("label", noderuntime.LabelPodUID+"="+uid)),
			})
			if err != nil {
				t.Errorf("listing the containers of pod %s: %v", uid, err)
				continue
			}
			for _, ctr := range list {
				err := imagetest.RemoveContainer(ctx, c.docker, ctr.ID)
				if err != nil && !strings.Contains(err.Error(), "No such container") && !strings.Contains(err.Error(), "already in progress") {
					t.Errorf("removing container %s: %v", ctr.Names, err)
				}
			}
		}
	}
}

// ensureExampleImages builds the sample images as `make examples` does
// when the Docker engine does not have them.
func ensureExampleImages(t *testing.T) {
	t.Helper()
	for _, img := range []string{helloImage, shellImage} {
		if exec.Command("docker", "image", "inspect", img).Run() == nil {
			continue
		}
		t.Logf("%s is missing: building it as `make examples` does", img)
		dir := t.TempDir()
		switch img {
		case helloImage:
			build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, "hello"), "./examples/hello")
			build.Dir = repoRoot()
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			mustRun(t, build)
			copyFile(t, filepath.Join(repoRoot(), "examples/hello/Dockerfile"), filepath.Join(dir, "Dockerfile"), 0o644)
		case shellImage:
			bin := filepath.Join(dir, "rootfs", "bin")
			if err := os.MkdirAll(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(dir, "rootfs", "tmp"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(dir, "rootfs", "tmp"), 0o1777); err != nil {
				t.Fatal(err)
			}
			copyFile(t, "/bin/busybox", filepath.Join(bin, "busybox"), 0o755)
			applets := mustRun(t, exec.Command("/bin/busybox", "--list"))
			for _, a := range strings.Fields(applets) {
				if a != "busybox" {
					if err := os.Symlink("busybox", filepath.Join(bin, a)); err != nil {
						t.Fatal(err)
					}
				}
			}
			copyFile(t, filepath.Join(repoRoot(), "examples/shell/Dockerfile"), filepath.Join(dir, "Dockerfile"), 0o644)
		}
		mustRun(t, exec.Command("docker", "build", "-q", "-t", img, dir))
	}
}

func mustRun(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s%s", strings.Join(cmd.Args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is shared with the other tests.
type syncBuffer = syncbuf.Buffer
