package docker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/berthpaas/berth/internal/syncbuf"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/docker"
	"github.com/berthpaas/berth/backend/node/runtime/imagetest"
)

// env is what the integration tests share: one engine, one state
// directory, the test images and a namespace of their own.
type env struct {
	cli       *client.Client
	rt        *docker.Runtime
	opts      docker.Options
	echo      string
	shell     string
	namespace string
}

func setup(t *testing.T) *env {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with the runtime's options changed by edit.
func setupWith(t *testing.T, edit func(*docker.Options)) *env {
	t.Helper()
	cli := imagetest.Client(t)
	ctx := t.Context()
	e := &env{
		cli:       cli,
		namespace: fmt.Sprintf("berth-test-%d", time.Now().UnixNano()%1e9),
		opts: docker.Options{
			StateDir:       t.TempDir(),
			RestartBackOff: runtime.BackOff{Initial: time.Second},
			Logger:         slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		},
	}
	if edit != nil {
		edit(&e.opts)
	}
	imagetest.RemoveContainers(t, cli, runtime.LabelPodNamespace+"="+e.namespace)
	var wg sync.WaitGroup
	wg.Go(func() { e.echo = imagetest.BuildEchoImage(ctx, t, cli) })
	wg.Go(func() { e.shell = imagetest.BuildShellImage(ctx, t, cli) })
	wg.Wait()
	rt, err := docker.New(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	infra, err := rt.EnsureInfraImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.opts.InfraImage = infra
	e.rt = rt
	return e
}

// newRuntime is another runtime on the same state, as after an agent
// restart.
func (e *env) newRuntime(t *testing.T) *docker.Runtime {
	t.Helper()
	return e.newRuntimeAt(t, 0)
}

// newRuntimeAt is another runtime on the same state whose clock is ahead
// by skew: what it does is what the first would do that much later.
func (e *env) newRuntimeAt(t *testing.T, skew time.Duration) *docker.Runtime {
	t.Helper()
	opts := e.opts
	opts.Clock = func() time.Time { return time.Now().Add(skew) }
	rt, err := docker.New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

func (e *env) pod(name string, policy v1.RestartPolicy, containers ...v1.Container) *v1.Pod {
	grace := int64(1)
	for i := range containers {
		if containers[i].ImagePullPolicy == "" {
			containers[i].ImagePullPolicy = v1.PullIfNotPresent
		}
	}
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: e.namespace,
			UID: types.UID(fmt.Sprintf("%08x-%s", time.Now().UnixNano()&0xffffffff, name)),
		},
		Spec: v1.PodSpec{
			RestartPolicy:                 policy,
			Containers:                    containers,
			TerminationGracePeriodSeconds: &grace,
		},
	}
}

// shellCmd runs a shell script that exits at once on SIGTERM.
func (e *env) shellCmd(name, script string) v1.Container {
	return v1.Container{
		Name: name, Image: e.shell,
		Command: []string{"sh", "-c", "trap 'exit 0' TERM; " + script},
	}
}

// syncUntil syncs the pod until cond holds of its status.
func syncUntil(t *testing.T, rt *docker.Runtime, pod *v1.Pod, within time.Duration, what string, cond func(runtime.PodStatus) bool) runtime.PodStatus {
	t.Helper()
	return syncDataUntil(t, rt, pod, runtime.PodData{}, within, what, cond)
}

// syncDataUntil syncs the pod, with the secrets and config maps it uses,
// until cond holds of its status.
func syncDataUntil(t *testing.T, rt *docker.Runtime, pod *v1.Pod, data runtime.PodData, within time.Duration, what string, cond func(runtime.PodStatus) bool) runtime.PodStatus {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := rt.SyncPod(t.Context(), pod, data)
		if err != nil {
			t.Fatalf("SyncPod: %v", err)
		}
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: not %s within %s; status %+v", pod.Name, what, within, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func allRunning(st runtime.PodStatus) bool {
	if !st.InfraRunning || len(st.Containers) == 0 {
		return false
	}
	for _, c := range st.Containers {
		if c.State != runtime.StateRunning {
			return false
		}
	}
	return true
}

func (e *env) containers(t *testing.T, uid types.UID) []container.Summary {
	t.Helper()
	list, err := e.cli.ContainerList(t.Context(), container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", runtime.LabelPodUID+"="+string(uid))),
	})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func freePort(t *testing.T) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	var lastErr error
	for range 50 {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(body)
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, lastErr)
	return ""
}

// syncBuffer is shared with the other tests.
type syncBuffer = syncbuf.Buffer

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: needs the Docker engine")
	}
	e := setup(t)

	t.Run("info", func(t *testing.T) {
		t.Parallel()
		info, err := e.rt.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if info.CPUs <= 0 || info.MemoryBytes <= 0 || !strings.HasPrefix(info.RuntimeVersion, "docker://") || info.KernelVersion == "" {
			t.Errorf("info %+v", info)
		}
		if !slices.Contains(info.Images, e.echo) {
			t.Errorf("images %q lack %s", info.Images, e.echo)
		}
	})
	t.Run("echo", func(t *testing.T) { t.Parallel(); testEcho(t, e) })
	t.Run("shell", func(t *testing.T) { t.Parallel(); testShell(t, e) })
	t.Run("attach", func(t *testing.T) { t.Parallel(); testAttach(t, e) })
	t.Run("port forward", func(t *testing.T) { t.Parallel(); testPortForward(t, e) })
	t.Run("restart", func(t *testing.T) { t.Parallel(); testRestart(t, e) })
	t.Run("image pull", func(t *testing.T) { t.Parallel(); testImagePull(t, e) })
	t.Run("adopt and kill", func(t *testing.T) { t.Parallel(); testAdoptKill(t, e) })
	t.Run("infra replaced", func(t *testing.T) { t.Parallel(); testInfraReplaced(t, e) })
	t.Run("docker socket refused", func(t *testing.T) { t.Parallel(); testSocketRefused(t, e) })
	t.Run("subPath escape", func(t *testing.T) { t.Parallel(); testSubPathEscape(t, e) })
	t.Run("subPath of a hostPath", func(t *testing.T) { t.Parallel(); testSubPathHostPath(t, e) })
	t.Run("subPath swap race", func(t *testing.T) { t.Parallel(); testSubPathSwapRace(t, e) })
	t.Run("limits", func(t *testing.T) { t.Parallel(); testLimits(t, e) })
	t.Run("infra stops on SIGTERM", func(t *testing.T) { t.Parallel(); testInfraStops(t, e) })
	t.Run("secrets and config maps", func(t *testing.T) { t.Parallel(); testPodData(t, e) })
	t.Run("finished containers' counters", func(t *testing.T) { t.Parallel(); testFinished(t, e) })
}

func testEcho(t *testing.T, e *env) {
	ctx := t.Context()
	hostPort := freePort(t)
	pod := e.pod("echo", v1.RestartPolicyAlways, v1.Container{
		Name: "web", Image: e.echo,
		Ports: []v1.ContainerPort{{ContainerPort: 8080, HostPort: hostPort}},
	})
	st := syncUntil(t, e.rt, pod, 20*time.Second, "running", allRunning)
	if st.IP == "" {
		t.Fatalf("no pod IP: %+v", st)
	}
	if body := httpGet(t, "http://"+st.IP+":8080/hello"); !strings.Contains(body, "GET /hello") {
		t.Errorf("pod IP answered %q", body)
	}
	if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/via-host-port", hostPort)); !strings.Contains(body, "GET /via-host-port") {
		t.Errorf("host port answered %q", body)
	}

	t.Run("logs follow", func(t *testing.T) {
		lctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var buf syncBuffer
		tail := int64(0)
		done := make(chan error, 1)
		go func() {
			done <- e.rt.Logs(lctx, string(pod.UID), "web", runtime.LogOptions{Follow: true, TailLines: &tail}, &buf)
		}()
		// A request until its line shows: those sent before the follow
		// began are not in the tail.
		marker := fmt.Sprintf("/marker-%d", time.Now().UnixNano())
		var sent time.Time
		waitFor(t, 10*time.Second, "the request's line in the followed log", func() bool {
			if strings.Contains(buf.String(), marker) {
				return true
			}
			sent = time.Now()
			httpGet(t, "http://"+st.IP+":8080"+marker)
			return false
		})
		t.Logf("log line after %s", time.Since(sent))
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Logs: %v", err)
		}
	})

	t.Run("long lines and carriage returns", func(t *testing.T) {
		httpGet(t, "http://"+st.IP+":8080/print?bytes=70000&end=cr")
		httpGet(t, "http://"+st.IP+":8080/print?bytes=10&end=cr")
		// The engine writes its log a moment after the container's write.
		var out string
		waitFor(t, 5*time.Second, "the lines in the log", func() bool {
			var buf bytes.Buffer
			if err := e.rt.Logs(ctx, string(pod.UID), "web", runtime.LogOptions{}, &buf); err != nil {
				t.Fatal(err)
			}
			out = buf.String()
			return strings.Contains(out, strings.Repeat("x", 70000)+"\r\n") && strings.Contains(out, "\n"+strings.Repeat("x", 10)+"\r\n")
		})
	})

	t.Run("stop and start", func(t *testing.T) {
		uid := string(pod.UID)
		if err := e.rt.StopPod(ctx, uid, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		for _, rt := range []*docker.Runtime{e.rt, e.newRuntime(t)} {
			st, err := rt.SyncPod(ctx, pod, runtime.PodData{})
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Containers) != 1 || st.Containers[0].State != runtime.StateExited {
				t.Fatalf("stopped pod after a sync: %+v", st)
			}
		}
		if err := e.rt.StartPod(ctx, uid); err != nil {
			t.Fatal(err)
		}
		st := syncUntil(t, e.rt, pod, 10*time.Second, "running again", allRunning)
		if st.Containers[0].RestartCount != 0 {
			t.Errorf("start made a new instance: %+v", st.Containers[0])
		}
		httpGet(t, "http://"+st.IP+":8080/again")
	})
}

func testShell(t *testing.T, e *env) {
	ctx := t.Context()
	pod := e.pod("shell", v1.RestartPolicyAlways, e.shellCmd("sh", "sleep 3600 & wait"))
	syncUntil(t, e.rt, pod, 20*time.Second, "running", allRunning)
	uid := string(pod.UID)

	exec := func(t *testing.T, s runtime.Streams, cmd ...string) int {
		t.Helper()
		code, err := e.rt.Exec(ctx, uid, "sh", cmd, s)
		if err != nil {
			t.Fatalf("Exec %q: %v", cmd, err)
		}
		return code
	}
	t.Run("exec", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := exec(t, runtime.Streams{Stdout: &out, Stderr: &errOut}, "echo", "hi"); code != 0 || out.String() != "hi\n" {
			t.Errorf("echo hi: code %d stdout %q stderr %q", code, out.String(), errOut.String())
		}
		if code := exec(t, runtime.Streams{Stdout: &out}, "sh", "-c", "exit 3"); code != 3 {
			t.Errorf("exit 3: code %d", code)
		}
		out.Reset()
		if code := exec(t, runtime.Streams{Stdout: &out, Stderr: &errOut}, "sh", "-c", "echo $POD_NAME $POD_NAMESPACE; echo oops >&2"); code != 0 ||
			out.String() != "shell "+e.namespace+"\n" || errOut.String() != "oops\n" {
			t.Errorf("env and stderr: stdout %q stderr %q", out.String(), errOut.String())
		}
	})
	t.Run("exec stdin", func(t *testing.T) {
		var out bytes.Buffer
		if code := exec(t, runtime.Streams{Stdin: strings.NewReader("hello\n"), Stdout: &out}, "cat"); code != 0 || out.String() != "hello\n" {
			t.Errorf("cat: code %d out %q", code, out.String())
		}
	})
	t.Run("exec tty", func(t *testing.T) {
		var out bytes.Buffer
		resize := make(chan runtime.TerminalSize, 1)
		resize <- runtime.TerminalSize{Width: 100, Height: 40}
		code := exec(t, runtime.Streams{Stdout: &out, TTY: true, Resize: resize}, "echo", "hi")
		if code != 0 || !strings.Contains(out.String(), "hi\r\n") {
			t.Errorf("tty echo: code %d out %q", code, out.String())
		}
	})
	t.Run("diff", func(t *testing.T) {
		exec(t, runtime.Streams{}, "touch", "/tmp/x")
		changes, err := e.rt.Diff(ctx, uid, "sh")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(changes, runtime.Change{Path: "/tmp/x", Kind: "A"}) {
			t.Errorf("diff %v lacks A /tmp/x", changes)
		}
	})
	t.Run("not found", func(t *testing.T) {
		if _, err := e.rt.Exec(ctx, uid, "nope", []string{"true"}, runtime.Streams{}); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("exec in a missing container: %v", err)
		}
	})
}

func testAttach(t *testing.T, e *env) {
	c := e.shellCmd("io", "read line; echo got $line")
	c.Stdin = true
	pod := e.pod("attach", v1.RestartPolicyNever, c)
	syncUntil(t, e.rt, pod, 20*time.Second, "running", allRunning)
	var out syncBuffer
	err := e.rt.Attach(t.Context(), string(pod.UID), "io", runtime.Streams{Stdin: strings.NewReader("x\n"), Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "got x") {
		t.Errorf("attach output %q", out.String())
	}
}

// testPortForward dials a server that listens only on the pod's loopback,
// which nothing outside the pod's network namespace reaches.
func testPortForward(t *testing.T, e *env) {
	ctx := t.Context()
	pod := e.pod("forward", v1.RestartPolicyAlways, e.shellCmd("web",
		"mkdir -p /tmp/www && echo pod-local > /tmp/www/index.html && httpd -f -p 127.0.0.1:9000 -h /tmp/www & wait"))
	st := syncUntil(t, e.rt, pod, 20*time.Second, "running", allRunning)
	uid := string(pod.UID)
	client := &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return e.rt.DialPort(ctx, uid, 9000)
		},
	}}
	var body string
	waitFor(t, 10*time.Second, "httpd answering on the pod's loopback", func() bool {
		resp, err := client.Get("http://pod/index.html")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK
	})
	if body != "pod-local\n" {
		t.Errorf("forwarded GET answered %q", body)
	}
	// The server is on the pod's loopback only: the pod's address is
	// refused, so DialPort did reach inside the pod.
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort(st.IP, "9000"), 2*time.Second); err == nil {
		conn.Close()
		t.Errorf("the pod's address %s answers on 9000: the test proves nothing", st.IP)
	}
	if conn, err := e.rt.DialPort(ctx, uid, 9001); err == nil {
		conn.Close()
		t.Error("DialPort to a port nothing listens on succeeded")
	}
	if _, err := e.rt.DialPort(ctx, "no-such-pod", 9000); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("DialPort to a missing pod: %v, want ErrNotFound", err)
	}
}

func testRestart(t *testing.T, e *env) {
	tests := []struct {
		name   string
		policy v1.RestartPolicy
		script string
		check  func(t *testing.T, pod *v1.Pod)
	}{
		{
			name: "always", policy: v1.RestartPolicyAlways, script: "echo run; exit 1",
			check: func(t *testing.T, pod *v1.Pod) {
				// The first restart comes at once, the second after a
				// back-off, as the kubelet's.
				sawBackOff := false
				st := syncUntil(t, e.rt, pod, 20*time.Second, "restarted twice", func(st runtime.PodStatus) bool {
					c := st.Containers[0]
					sawBackOff = sawBackOff || c.Reason == "CrashLoopBackOff" && c.RestartCount == 1
					return c.RestartCount >= 2
				})
				if !sawBackOff {
					t.Errorf("no CrashLoopBackOff before the second restart; last %+v", st.Containers[0])
				}
				var buf bytes.Buffer
				if err := e.rt.Logs(t.Context(), string(pod.UID), "c", runtime.LogOptions{Previous: true}, &buf); err != nil || buf.String() != "run\n" {
					t.Errorf("previous logs %q, %v", buf.String(), err)
				}
			},
		},
		{
			name: "never", policy: v1.RestartPolicyNever, script: "sleep 1; echo done; exit 1",
			check: func(t *testing.T, pod *v1.Pod) {
				var buf syncBuffer
				start := time.Now()
				if err := e.rt.Logs(t.Context(), string(pod.UID), "c", runtime.LogOptions{Follow: true}, &buf); err != nil {
					t.Fatal(err)
				}
				if time.Since(start) > 10*time.Second || !strings.Contains(buf.String(), "done") {
					t.Errorf("follow ended after %s with %q", time.Since(start), buf.String())
				}
				syncUntil(t, e.rt, pod, 10*time.Second, "exited", func(st runtime.PodStatus) bool {
					return st.Containers[0].State == runtime.StateExited
				})
				// An hour later, past any back-off, it is still not run again.
				st := syncUntil(t, e.newRuntimeAt(t, time.Hour), pod, 0, "exited", func(runtime.PodStatus) bool { return true })
				if c := st.Containers[0]; c.State != runtime.StateExited || c.Reason != "Error" || c.ExitCode != 1 || c.RestartCount != 0 {
					t.Errorf("status %+v", c)
				}
			},
		},
		{
			name: "on failure after success", policy: v1.RestartPolicyOnFailure, script: "exit 0",
			check: func(t *testing.T, pod *v1.Pod) {
				syncUntil(t, e.rt, pod, 10*time.Second, "exited", func(st runtime.PodStatus) bool {
					return st.Containers[0].State == runtime.StateExited
				})
				st := syncUntil(t, e.newRuntimeAt(t, time.Hour), pod, 0, "", func(runtime.PodStatus) bool { return true })
				if c := st.Containers[0]; c.State != runtime.StateExited || c.Reason != "Completed" || c.RestartCount != 0 {
					t.Errorf("status %+v", c)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := e.pod("restart-"+strings.ReplaceAll(tt.name, " ", "-"), tt.policy, e.shellCmd("c", tt.script))
			if _, err := e.rt.SyncPod(t.Context(), pod, runtime.PodData{}); err != nil {
				t.Fatal(err)
			}
			tt.check(t, pod)
		})
	}
}

func testImagePull(t *testing.T, e *env) {
	pod := e.pod("unpullable", v1.RestartPolicyAlways, v1.Container{Name: "c", Image: "registry.invalid/nope:1"})
	st, err := e.rt.SyncPod(t.Context(), pod, runtime.PodData{})
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Containers[0]; c.State != runtime.StateWaiting || c.Reason != "ErrImagePull" || c.Message == "" {
		t.Fatalf("status %+v", c)
	}
	t.Logf("pull message: %s", st.Containers[0].Message)
	st, err = e.rt.SyncPod(t.Context(), pod, runtime.PodData{})
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Containers[0]; c.State != runtime.StateWaiting || c.Reason != "ImagePullBackOff" {
		t.Errorf("second sync: %+v", c)
	}
	pods, err := e.rt.ListPods(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if p.UID == string(pod.UID) && (len(p.Containers) != 1 || p.Containers[0].Reason != "ImagePullBackOff") {
			t.Errorf("ListPods: %+v", p)
		}
	}
}

func testAdoptKill(t *testing.T, e *env) {
	ctx := t.Context()
	pod := e.pod("adopt", v1.RestartPolicyAlways, v1.Container{Name: "web", Image: e.echo},
		v1.Container{
			Name: "side", Image: e.shell, Command: []string{"sh", "-c", "trap 'exit 0' TERM; echo hi > /shared/f; sleep 3600 & wait"},
			VolumeMounts: []v1.VolumeMount{{Name: "shared", MountPath: "/shared"}},
		})
	pod.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{{Name: "shared", MountPath: "/shared"}}
	pod.Spec.Volumes = []v1.Volume{{Name: "shared", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}}}
	syncUntil(t, e.rt, pod, 20*time.Second, "running", allRunning)
	if n := len(e.containers(t, pod.UID)); n != 3 {
		t.Fatalf("%d containers, want infra + 2", n)
	}

	rt := e.newRuntime(t)
	pods, err := rt.ListPods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(pods, func(p runtime.PodStatus) bool { return p.UID == string(pod.UID) })
	if i < 0 {
		t.Fatalf("ListPods of a new runtime does not find the pod")
	}
	if p := pods[i]; p.Name != "adopt" || p.Namespace != e.namespace || !allRunning(p) || len(p.Containers) != 2 || p.IP == "" {
		t.Errorf("adopted pod %+v", p)
	}
	for range 2 {
		if _, err := rt.SyncPod(ctx, pod, runtime.PodData{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.containers(t, pod.UID)); n != 3 {
		t.Errorf("%d containers after syncs by the new runtime, want 3", n)
	}
	dir := e.opts.StateDir + "/pods/" + string(pod.UID)
	if b, err := os.ReadFile(dir + "/volumes/shared/f"); err != nil || string(b) != "hi\n" {
		t.Errorf("emptyDir file: %q, %v", b, err)
	}

	if err := rt.KillPod(ctx, string(pod.UID), time.Second); err != nil {
		t.Fatal(err)
	}
	if n := len(e.containers(t, pod.UID)); n != 0 {
		t.Errorf("%d containers left after KillPod", n)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory after KillPod: %v", err)
	}
	if err := rt.KillPod(ctx, string(pod.UID), time.Second); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("second KillPod: %v, want ErrNotFound", err)
	}
}

func testInfraReplaced(t *testing.T, e *env) {
	ctx := t.Context()
	pod := e.pod("reinfra", v1.RestartPolicyAlways, v1.Container{Name: "web", Image: e.echo})
	syncUntil(t, e.rt, pod, 20*time.Second, "running", allRunning)
	for _, c := range e.containers(t, pod.UID) {
		if c.Labels[runtime.LabelContainer] == runtime.InfraContainerName {
			if err := e.cli.ContainerKill(ctx, c.ID, "KILL"); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := syncUntil(t, e.rt, pod, 20*time.Second, "running on a new infra", allRunning)
	if st.Containers[0].RestartCount != 1 {
		t.Errorf("app container %+v, want restart count 1", st.Containers[0])
	}
	if body := httpGet(t, "http://"+st.IP+":8080/new-infra"); !strings.Contains(body, "/new-infra") {
		t.Errorf("pod answered %q", body)
	}
	infras := 0
	for _, c := range e.containers(t, pod.UID) {
		if c.Labels[runtime.LabelContainer] == runtime.InfraContainerName {
			infras++
			if c.Labels[runtime.LabelRestartCount] != "1" {
				t.Errorf("infra %v", c.Labels)
			}
		}
	}
	if infras != 1 {
		t.Errorf("%d infra containers, want 1", infras)
	}
}

func testSocketRefused(t *testing.T, e *env) {
	opts := e.opts
	opts.AllowHostPath = func(*v1.Pod) bool { return true }
	rt, err := docker.New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	c := e.shellCmd("c", "sleep 3600 & wait")
	c.VolumeMounts = []v1.VolumeMount{{Name: "sock", MountPath: "/var/run/docker.sock"}}
	pod := e.pod("socket", v1.RestartPolicyAlways, c)
	pod.Spec.Volumes = []v1.Volume{{Name: "sock", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/var/run/docker.sock"}}}}
	st, err := rt.SyncPod(t.Context(), pod, runtime.PodData{})
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Containers[0]; c.State != runtime.StateWaiting || c.Reason != "CreateContainerConfigError" || !strings.Contains(c.Message, "Docker socket") {
		t.Errorf("status %+v", c)
	}
}
