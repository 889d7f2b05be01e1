package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// TestKubectlPodLogsAndExec runs the pinned kubectl against pods that
// really run: logs -f, exec with an exit code, exec with stdin.
func TestKubectlPodLogsAndExec(t *testing.T) {
	t.Parallel()
	c := startPodCluster(t, "e2e-kubectl")
	k := newKubectl(t, c.env, c.env.AdminToken)
	c.create(c.echoPod("web"))
	web := c.waitPod("web", podStartTimeout, "running", isRunning)
	c.create(c.shellPod("sh", v1.RestartPolicyAlways, "sleep 3600 & wait"))
	c.waitPod("sh", podStartTimeout, "running", isRunning)

	t.Run("logs -f", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		follow := k.command(ctx, "-n", c.ns, "logs", "-f", "web")
		var out, errOut syncBuffer
		follow.Stdout, follow.Stderr = &out, &errOut
		if err := follow.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cancel()
			_ = follow.Wait()
		}()
		// The first line of the echo server says it listens: once it is
		// printed, the stream is open.
		if !waitFor(30*time.Second, func() bool { return strings.Contains(out.String(), "listening on") }) {
			t.Fatalf("kubectl logs -f printed nothing within 30s\nstdout: %q\nstderr: %s", out.String(), errOut.String())
		}
		sent := time.Now()
		httpGet(t, web, "/written-after-follow")
		if !waitFor(5*time.Second, func() bool { return strings.Contains(out.String(), "GET /written-after-follow ") }) {
			t.Fatalf("kubectl logs -f did not print a line written after it started within 5s\nstdout: %q\nstderr: %s", out.String(), errOut.String())
		}
		t.Logf("kubectl logs -f printed the line after %v", time.Since(sent).Round(time.Millisecond))
	})

	t.Run("exec with an exit code", func(t *testing.T) {
		out, errOut, code := k.run("-n", c.ns, "exec", "sh", "--", "sh", "-c", "echo hi; exit 3")
		if code != 3 || out != "hi\n" {
			t.Errorf("kubectl exec: exit %d stdout %q stderr %q, want 3 and \"hi\\n\"", code, out, errOut)
		}
	})

	t.Run("exec -i with stdin", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := k.command(ctx, "-n", c.ns, "exec", "-i", "sh", "--", "cat")
		cmd.Stdin = strings.NewReader("x\n")
		var out, errOut syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("echo x | kubectl exec -i sh -- cat: %v\nstdout: %q\nstderr: %s", err, out.String(), errOut.String())
		}
		if out.String() != "x\n" {
			t.Errorf("echo x | kubectl exec -i sh -- cat printed %q, want \"x\\n\"", out.String())
		}
	})

	t.Run("viewer token cannot exec", func(t *testing.T) {
		viewerToken := c.env.CreateUser(t, "kviewer", false)
		mustCode(t, c.env.Do(t, http.MethodPost, "/apis/berth.dev/v1/namespaces/"+c.ns+"/members", c.env.AdminToken, map[string]any{
			"metadata": map[string]string{"name": "kviewer"}, "spec": map[string]string{"role": "view"},
		}), http.StatusCreated)
		viewer := newKubectl(t, c.env, viewerToken)
		out, errOut, code := viewer.run("-n", c.ns, "exec", "sh", "--", "id")
		if code == 0 || !strings.Contains(strings.ToLower(errOut), "forbidden") {
			t.Errorf("viewer kubectl exec: exit %d stdout %q stderr %q, want forbidden", code, out, errOut)
		}
	})
}
