package e2e

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// forwarding is the line kubectl port-forward prints once it listens.
var forwarding = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`)

// TestKubectlPortForwardAndStreams runs the pinned kubectl's streaming
// commands against pods that really run: port-forward over both of its
// transports, exec over SPDY (older kubectl, client-go's SPDY executor),
// and piped stdin to stdinOnce containers (run -i --rm, attach -i), which
// must end when the input does.
func TestKubectlPortForwardAndStreams(t *testing.T) {
	t.Parallel()
	c := startPodCluster(t, "e2e-forward")
	k := newKubectl(t, c.env, c.env.AdminToken)
	c.create(c.echoPod("web"))
	c.waitPod("web", podStartTimeout, "running", isRunning)
	c.create(c.shellPod("sh", v1.RestartPolicyAlways, "sleep 3600 & wait"))
	c.waitPod("sh", podStartTimeout, "running", isRunning)

	for _, tt := range []struct {
		name string
		// websockets is KUBECTL_PORT_FORWARD_WEBSOCKETS: kubectl 1.32
		// tunnels SPDY in a websocket unless it is false.
		websockets string
	}{
		{name: "port-forward over a websocket", websockets: "true"},
		{name: "port-forward over SPDY", websockets: "false"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			// At -v=4 client-go says when it falls back from the websocket
			// to SPDY: each transport must work on its own.
			cmd := k.command(ctx, "-v=4", "-n", c.ns, "port-forward", "pod/web", ":8080")
			cmd.Env = append(cmd.Env, "KUBECTL_PORT_FORWARD_WEBSOCKETS="+tt.websockets)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errOut syncBuffer
			cmd.Stderr = &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cancel()
				_ = cmd.Wait()
			}()
			port := ""
			lines := bufio.NewScanner(stdout)
			for port == "" && lines.Scan() {
				if m := forwarding.FindStringSubmatch(lines.Text()); m != nil {
					port = m[1]
				}
			}
			if port == "" {
				t.Fatalf("kubectl port-forward printed no forwarding line; stderr: %s", errOut.String())
			}
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			// Two requests on two connections: one session carries both.
			for _, path := range []string{"/through-the-forward", "/again"} {
				hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
				resp, err := hc.Get("http://127.0.0.1:" + port + path)
				if err != nil {
					t.Fatalf("GET %s through the forward: %v; stderr: %s", path, err, errOut.String())
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !strings.HasPrefix(string(body), "GET "+path+"\n") {
					t.Errorf("GET %s through the forward answered %q", path, body)
				}
			}
			if strings.Contains(errOut.String(), "fallback to secondary dialer") {
				t.Errorf("kubectl fell back from its first transport; stderr:\n%s", errOut.String())
			}
		})
	}

	t.Run("berth port-forward", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd, out, errOut := berthCommand(t, ctx, "--server", c.url, "--token", c.env.AdminToken, "-n", c.ns, "port-forward", "web", ":8080")
		home := t.TempDir()
		cmd.Env = append(os.Environ(), "HOME="+home, "BERTH_CONFIG="+filepath.Join(home, "config.json"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cancel()
			_ = cmd.Wait()
		}()
		var port string
		if !waitFor(30*time.Second, func() bool {
			m := forwarding.FindStringSubmatch(out.String())
			if m != nil {
				port = m[1]
			}
			return m != nil
		}) {
			t.Fatalf("berth port-forward printed no forwarding line\nstdout: %q\nstderr: %s", out.String(), errOut.String())
		}
		hc := &http.Client{Timeout: 10 * time.Second}
		resp, err := hc.Get("http://127.0.0.1:" + port + "/through-berth")
		if err != nil {
			t.Fatalf("GET through berth port-forward: %v; stderr: %s", err, errOut.String())
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(body), "GET /through-berth\n") {
			t.Errorf("GET through berth port-forward answered %q", body)
		}
	})

	t.Run("exec over SPDY", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := k.command(ctx, "-n", c.ns, "exec", "-i", "sh", "--", "sh", "-c", "cat; exit 4")
		cmd.Env = append(cmd.Env, "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false")
		cmd.Stdin = strings.NewReader("over spdy\n")
		var out, errOut syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 4 || out.String() != "over spdy\n" {
			t.Errorf("kubectl exec over SPDY: %v (exit %d), stdout %q, stderr %s; want exit 4 and the input back", err, code, out.String(), errOut.String())
		}
	})

	t.Run("run -i --rm with piped input ends", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := k.command(ctx, "-n", c.ns, "run", "once", "-i", "--rm", "--restart=Never",
			"--image="+c.shell, "--image-pull-policy=IfNotPresent", "--command", "--", "cat")
		cmd.Stdin = strings.NewReader("piped input\n")
		var out, errOut syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("kubectl run -i --rm: %v\nstdout: %q\nstderr: %s", err, out.String(), errOut.String())
		}
		if !strings.Contains(out.String(), "piped input\n") {
			t.Errorf("kubectl run -i --rm printed %q, want the input back; stderr: %s", out.String(), errOut.String())
		}
	})

	t.Run("attach -i to a stdinOnce container ends with the input", func(t *testing.T) {
		pod := c.shellPod("reader", v1.RestartPolicyNever, "cat; echo done")
		pod.Spec.Containers[0].Stdin = true
		pod.Spec.Containers[0].StdinOnce = true
		c.create(pod)
		c.waitPod("reader", podStartTimeout, "running", isRunning)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := k.command(ctx, "-n", c.ns, "attach", "-i", "reader")
		cmd.Stdin = strings.NewReader("attached\n")
		var out, errOut syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("kubectl attach -i: %v\nstdout: %q\nstderr: %s", err, out.String(), errOut.String())
		}
		if !strings.Contains(out.String(), "attached\ndone\n") {
			t.Errorf("kubectl attach -i printed %q, want the input back and done; stderr: %s", out.String(), errOut.String())
		}
		c.waitPod("reader", podStartTimeout, "succeeded", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodSucceeded })
	})

	t.Run("viewer cannot port-forward", func(t *testing.T) {
		viewerToken := c.env.CreateUser(t, "fviewer", false)
		mustCode(t, c.env.Do(t, http.MethodPost, "/apis/berth.dev/v1/namespaces/"+c.ns+"/members", c.env.AdminToken, map[string]any{
			"metadata": map[string]string{"name": "fviewer"}, "spec": map[string]string{"role": "view"},
		}), http.StatusCreated)
		viewer := newKubectl(t, c.env, viewerToken)
		out, errOut, code := viewer.run("-n", c.ns, "port-forward", "pod/web", ":8080")
		if code == 0 || !strings.Contains(strings.ToLower(errOut), "forbidden") {
			t.Errorf("viewer kubectl port-forward: exit %d stdout %q stderr %q, want forbidden", code, out, errOut)
		}
	})
}
