package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	v1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/remotecommand"
	"github.com/berthpaas/berth/client"
)

// podStartTimeout bounds how long a pod of a local image takes to run,
// with the scheduler, the agent and Docker all busy with parallel tests.
const podStartTimeout = 2 * time.Minute

// TestPodOperations runs pods on `berth up`'s own node and uses them as a
// person would: HTTP, logs, exec, attach, diff, stop and start, delete.
func TestPodOperations(t *testing.T) {
	t.Parallel()
	c := startPodCluster(t, "e2e-pods")

	t.Run("runs and answers HTTP, logs follow", func(t *testing.T) {
		t.Parallel()
		testPodServesAndLogs(t, c.in(t))
	})
	t.Run("exec and diff", func(t *testing.T) {
		t.Parallel()
		testPodExecAndDiff(t, c.in(t))
	})
	t.Run("attach with a TTY", func(t *testing.T) {
		t.Parallel()
		testPodAttach(t, c.in(t))
	})
	t.Run("stop and start", func(t *testing.T) {
		t.Parallel()
		testPodStopStart(t, c.in(t))
	})
	t.Run("delete removes containers then the object", func(t *testing.T) {
		t.Parallel()
		testPodDelete(t, c.in(t))
	})
	t.Run("viewer cannot exec", func(t *testing.T) {
		t.Parallel()
		testPodViewerExec(t, c.in(t))
	})
}

func testPodServesAndLogs(t *testing.T, c *podCluster) {
	c.create(c.echoPod("web"))
	pod := c.waitPod("web", podStartTimeout, "running", isRunning)
	if pod.Status.HostIP == "" || pod.Spec.NodeName == "" {
		t.Errorf("running pod has node %q hostIP %q", pod.Spec.NodeName, pod.Status.HostIP)
	}
	if body := httpGet(t, pod, "/hello"); !strings.HasPrefix(body, "GET /hello\n") {
		t.Errorf("GET /hello answered %q", body)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs, err := c.api.PodLogs(ctx, c.ns, "web", client.LogOptions{Follow: true})
	if err != nil {
		t.Fatalf("logs?follow=true: %v", err)
	}
	defer logs.Close()
	lines := readLines(logs)
	for i := range 3 {
		path := fmt.Sprintf("/followed-%d", i)
		sent := time.Now()
		httpGet(t, pod, path)
		if !awaitLine(lines, "GET "+path+" ", time.Second) {
			t.Fatalf("no log line for %s within 1s of the request", path)
		}
		t.Logf("log line for %s after %v", path, time.Since(sent).Round(time.Millisecond))
	}
}

// readLines sends each line read from r on the returned channel, which is
// closed when r ends.
func readLines(r io.Reader) <-chan string {
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines
}

// awaitLine reads lines until one contains want, within timeout.
func awaitLine(lines <-chan string, want string, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return false
			}
			if strings.Contains(line, want) {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// execSession runs cmd in the pod through client.DialExec and returns its
// stdout, stderr and exit code.
func (c *podCluster) execSession(pod string, cmd ...string) (string, string, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), time.Minute)
	defer cancel()
	sess, err := c.api.DialExec(ctx, c.ns, pod, remotecommand.Options{Stdout: true, Stderr: true, Command: cmd})
	if err != nil {
		c.t.Fatalf("exec %q in %s: %v", cmd, pod, err)
	}
	var out, errOut strings.Builder
	code, err := sess.Run(ctx, nil, &out, &errOut, nil)
	if err != nil {
		c.t.Fatalf("exec %q in %s: %v", cmd, pod, err)
	}
	return out.String(), errOut.String(), code
}

func testPodExecAndDiff(t *testing.T, c *podCluster) {
	c.create(c.shellPod("tools", v1.RestartPolicyAlways, "sleep 3600 & wait"))
	c.waitPod("tools", podStartTimeout, "running", isRunning)

	out, errOut, code := berthCLIProcess(t, c.url, c.env.AdminToken, c.ns, "",
		"exec", "tools", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
	if code != 7 || out != "out\n" || !strings.Contains(errOut, "err\n") {
		t.Errorf("berth exec: exit %d stdout %q stderr %q, want 7, \"out\\n\" and err", code, out, errOut)
	}
	out, _, code = berthCLIProcess(t, c.url, c.env.AdminToken, c.ns, "piped\n", "exec", "-i", "tools", "--", "cat")
	if code != 0 || out != "piped\n" {
		t.Errorf("berth exec -i cat: exit %d stdout %q", code, out)
	}

	if out, errOut, code := c.execSession("tools", "touch", "/tmp/x"); code != 0 {
		t.Fatalf("exec touch /tmp/x: exit %d %q %q", code, out, errOut)
	}
	changes, err := c.api.PodDiff(t.Context(), c.ns, "tools", "")
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	if !slices.Contains(changes, runtime.Change{Path: "/tmp/x", Kind: "A"}) {
		t.Errorf("diff after touch /tmp/x: %+v, want A /tmp/x", changes)
	}
	out, errOut, code = berthCLIProcess(t, c.url, c.env.AdminToken, c.ns, "", "diff", "tools")
	if _, ok := lineWith(out, "A /tmp/x"); code != 0 || !ok {
		t.Errorf("berth diff: exit %d stdout %q stderr %q, want a line A /tmp/x", code, out, errOut)
	}
}

func testPodAttach(t *testing.T, c *podCluster) {
	pod := newPod("tty", v1.Container{
		Name: "sh", Image: c.shell, ImagePullPolicy: v1.PullIfNotPresent, Stdin: true, TTY: true,
	})
	c.create(pod)
	c.waitPod("tty", podStartTimeout, "running", isRunning)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	sess, err := c.api.DialAttach(ctx, c.ns, "tty", remotecommand.Options{Stdin: true, Stdout: true, TTY: true})
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	stdin, stdinW := io.Pipe()
	defer stdinW.Close()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		_, err := sess.Run(ctx, stdin, &out, nil, nil)
		done <- err
	}()
	if _, err := stdinW.Write([]byte("echo hi\n")); err != nil {
		t.Fatalf("write to the attached shell: %v", err)
	}
	hi := regexp.MustCompile(`(?m)^hi\r?$`)
	if !waitFor(20*time.Second, func() bool { return hi.MatchString(out.String()) }) {
		t.Fatalf("the attached shell printed no line \"hi\" within 20s: %q", out.String())
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Error("attach session did not end within 10s of its context")
	}
}

func testPodStopStart(t *testing.T, c *podCluster) {
	c.create(c.echoPod("stopper"))
	before := c.waitPod("stopper", podStartTimeout, "running", isRunning)

	if err := c.api.DoPodAction(t.Context(), c.ns, "stopper", client.StopPod); err != nil {
		t.Fatalf("stop: %v", err)
	}
	stopped := c.waitPod("stopper", time.Minute, "stopped", func(p *v1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Terminated != nil
	})
	term := stopped.Status.ContainerStatuses[0].State.Terminated
	if term.FinishedAt.IsZero() {
		t.Errorf("stopped container has no finish time: %+v", term)
	}
	out, errOut, code := berthCLIProcess(t, c.url, c.env.AdminToken, c.ns, "", "ps")
	if line, ok := lineWith(out, "stopper", "Exited ("); code != 0 || !ok {
		t.Errorf("berth ps after stop: exit %d, no line with stopper and Exited (:\n%s%s", code, out, errOut)
	} else {
		t.Logf("berth ps: %s", line)
	}

	if err := c.api.DoPodAction(t.Context(), c.ns, "stopper", client.StartPod); err != nil {
		t.Fatalf("start: %v", err)
	}
	after := c.waitPod("stopper", time.Minute, "running again", isRunning)
	httpGet(t, after, "/again")
	out, _, _ = berthCLIProcess(t, c.url, c.env.AdminToken, c.ns, "", "ps")
	if _, ok := lineWith(out, "stopper", "Up"); !ok {
		t.Errorf("berth ps after start shows stopper not up:\n%s", out)
	}
	if b, a := before.Status.ContainerStatuses[0], after.Status.ContainerStatuses[0]; a.State.Running.StartedAt.Before(&b.State.Running.StartedAt) {
		t.Errorf("start time went back from %v to %v", b.State.Running.StartedAt, a.State.Running.StartedAt)
	}
}

func testPodDelete(t *testing.T, c *podCluster) {
	c.create(c.echoPod("doomed"))
	pod := c.waitPod("doomed", podStartTimeout, "running", isRunning)
	uid := string(pod.UID)
	if n := len(podContainers(t, c.docker, uid)); n != 2 {
		t.Errorf("running pod has %d containers, want an infra and an app container", n)
	}

	if err := c.api.Delete(t.Context(), client.Pods, c.ns, "doomed"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	gone := waitFor(time.Minute, func() bool {
		var p v1.Pod
		err := c.api.Get(t.Context(), client.Pods, c.ns, "doomed", &p)
		if err == nil {
			return false
		}
		if !apierrors.IsNotFound(err) {
			t.Fatalf("get deleted pod: %v", err)
		}
		if left := podContainers(t, c.docker, uid); len(left) > 0 {
			t.Fatalf("the pod object is gone but %d of its containers remain: %v", len(left), left[0].Names)
		}
		return true
	})
	if !gone {
		t.Fatalf("pod still present a minute after delete; containers: %d", len(podContainers(t, c.docker, uid)))
	}
}

func testPodViewerExec(t *testing.T, c *podCluster) {
	c.create(c.shellPod("guarded", v1.RestartPolicyAlways, "sleep 3600 & wait"))
	c.waitPod("guarded", podStartTimeout, "running", isRunning)
	viewerToken := c.env.CreateUser(t, "viewer", false)
	mustCode(t, c.env.Do(t, http.MethodPost, "/apis/berth.dev/v1/namespaces/"+c.ns+"/members", c.env.AdminToken, map[string]any{
		"metadata": map[string]string{"name": "viewer"}, "spec": map[string]string{"role": "view"},
	}), http.StatusCreated)
	viewer := client.New(c.url, viewerToken)

	var pod v1.Pod
	if err := viewer.Get(t.Context(), client.Pods, c.ns, "guarded", &pod); err != nil {
		t.Fatalf("the viewer cannot read the pod: %v", err)
	}
	_, err := viewer.DialExec(t.Context(), c.ns, "guarded", remotecommand.Options{Stdout: true, Command: []string{"id"}})
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("viewer exec: %v, want a 403 refusal", err)
	}
	_, errOut, code := berthCLIProcess(t, c.url, viewerToken, c.ns, "", "exec", "guarded", "--", "id")
	if code == 0 || !strings.Contains(strings.ToLower(errOut), "forbidden") {
		t.Errorf("viewer berth exec: exit %d stderr %q, want forbidden", code, errOut)
	}
}

// TestPodStatus checks the status a node reports for each restart policy
// and for an image that cannot be pulled.
func TestPodStatus(t *testing.T) {
	t.Parallel()
	c := startPodCluster(t, "e2e-status")

	terminatedWith := func(phase v1.PodPhase, code int32) func(*v1.Pod) bool {
		return func(p *v1.Pod) bool {
			if p.Status.Phase != phase || len(p.Status.ContainerStatuses) != 1 {
				return false
			}
			term := p.Status.ContainerStatuses[0].State.Terminated
			return term != nil && term.ExitCode == code
		}
	}
	tests := []struct {
		name   string
		policy v1.RestartPolicy
		script string
		want   func(*v1.Pod) bool
	}{
		{"always restarts", v1.RestartPolicyAlways, "sleep 0.2; exit 1", func(p *v1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 2
		}},
		{"onfailure succeeds", v1.RestartPolicyOnFailure, "exit 0", terminatedWith(v1.PodSucceeded, 0)},
		{"never fails", v1.RestartPolicyNever, "exit 1", terminatedWith(v1.PodFailed, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := c.in(t)
			name := strings.ReplaceAll(tt.name, " ", "-")
			c.create(c.shellPod(name, tt.policy, tt.script))
			pod := c.waitPod(name, podStartTimeout, "in its final state", tt.want)
			final := time.Now()
			cs := pod.Status.ContainerStatuses[0]
			switch tt.policy {
			case v1.RestartPolicyAlways:
				if pod.Status.Phase != v1.PodRunning && pod.Status.Phase != v1.PodPending {
					t.Errorf("phase %q of a restarting pod", pod.Status.Phase)
				}
			default:
				if cs.RestartCount != 0 {
					t.Errorf("restartCount %d, want 0", cs.RestartCount)
				}
				// A resync of the agent passes over the pod, on the
				// agent's clock: a restart would show by then, in
				// Docker's event stream however brief.
				started := watchContainers(t, c.docker, runtime.LabelPodUID+"="+string(pod.UID), final, startActions)
				c.waitHeartbeats(pod.Spec.NodeName, final, heartbeatsFor(1), c.up.errOut)
				started.none(t)
				var again v1.Pod
				if err := c.api.Get(t.Context(), client.Pods, c.ns, name, &again); err != nil {
					t.Fatal(err)
				}
				if !tt.want(&again) || again.Status.ContainerStatuses[0].RestartCount != 0 {
					t.Errorf("the pod did not stay in its final state: %s", describePod(&again))
				}
			}
		})
	}

	t.Run("unpullable image", func(t *testing.T) {
		t.Parallel()
		c := c.in(t)
		c.create(newPod("nope", v1.Container{Name: "app", Image: "registry.invalid/nope:1"}))
		pod := c.waitPod("nope", podStartTimeout, "waiting on its image", func(p *v1.Pod) bool {
			if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].State.Waiting == nil {
				return false
			}
			r := p.Status.ContainerStatuses[0].State.Waiting.Reason
			return r == "ErrImagePull" || r == "ImagePullBackOff"
		})
		w := pod.Status.ContainerStatuses[0].State.Waiting
		if !strings.Contains(w.Message, "registry.invalid/nope:1") {
			t.Errorf("waiting message %q does not name the image", w.Message)
		}
		if pod.Status.Phase != v1.PodPending {
			t.Errorf("phase %q, want Pending", pod.Status.Phase)
		}
		out, _, _ := berthCLIProcess(t, c.url, c.env.AdminToken, c.ns, "", "ps")
		if _, ok := lineWith(out, "nope", "Waiting ("); !ok {
			t.Errorf("berth ps does not show the pod waiting:\n%s", out)
		}
	})
}
