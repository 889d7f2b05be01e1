package e2e

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/berthpaas/berth/backend/testenv"
	"github.com/berthpaas/berth/internal/testbin"
)

// kubectl runs kubectl, built from source at the version tools/kubectl
// pins (never the machine's own), against one master with one token, in
// a home and cache of its own so that discovery caches do not leak between
// tests.
type kubectl struct {
	t     *testing.T
	bin   string
	env   *testenv.Env
	token string
	home  string
}

func newKubectl(t *testing.T, env *testenv.Env, token string) *kubectl {
	t.Helper()
	bin := testbin.Kubectl(t)
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "kubeconfig"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return &kubectl{t: t, bin: bin, env: env, token: token, home: home}
}

// command returns the kubectl command for args, not started.
func (k *kubectl) command(ctx context.Context, args ...string) *exec.Cmd {
	base := []string{
		"--server", k.env.HTTPSURL,
		"--certificate-authority", k.env.CAFile,
		"--token", k.token,
		"--cache-dir", filepath.Join(k.home, "cache"),
		"--request-timeout", "30s",
	}
	cmd := exec.CommandContext(ctx, k.bin, append(base, args...)...)
	cmd.Env = []string{
		"HOME=" + k.home,
		"KUBECONFIG=" + filepath.Join(k.home, "kubeconfig"),
		"PATH=" + os.Getenv("PATH"),
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs kubectl and returns its output and exit code.
func (k *kubectl) run(args ...string) (stdout, stderr string, code int) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(k.t.Context(), time.Minute)
	defer cancel()
	cmd := k.command(ctx, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	default:
		k.t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// mustRun runs kubectl and fails the test unless it succeeds.
func (k *kubectl) mustRun(args ...string) string {
	k.t.Helper()
	out, errOut, code := k.run(args...)
	if code != 0 {
		k.t.Fatalf("kubectl %s: exit status %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// mustFail runs kubectl, expects exit status 1 and returns stderr.
func (k *kubectl) mustFail(args ...string) string {
	k.t.Helper()
	out, errOut, code := k.run(args...)
	if code != 1 {
		k.t.Fatalf("kubectl %s: exit status %d, want 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return errOut
}

func startKubectlEnv(t *testing.T) (*testenv.Env, *kubectl) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test with kubectl and a real master; skipped in -short mode")
	}
	t.Parallel()
	env := testenv.Start(t)
	return env, newKubectl(t, env, env.AdminToken)
}

func testdata(name string) string { return filepath.Join("testdata", name) }

func TestKubectlPodLifecycle(t *testing.T) {
	env, k := startKubectlEnv(t)

	if out := k.mustRun("create", "namespace", "demo"); !strings.Contains(out, "namespace/demo created") {
		t.Errorf("create namespace printed %q", out)
	}
	if out := k.mustRun("-n", "demo", "create", "-f", testdata("pod.yaml")); !strings.Contains(out, "pod/web created") {
		t.Errorf("create -f printed %q", out)
	}

	out := k.mustRun("-n", "demo", "get", "pods")
	if _, ok := lineWith(out, "NAME", "READY", "STATUS"); !ok {
		t.Errorf("get pods has no NAME/READY/STATUS header:\n%s", out)
	}
	if line, ok := lineWith(out, "web "); !ok || !strings.HasPrefix(line, "web") {
		t.Errorf("get pods does not list web:\n%s", out)
	}

	var pod v1.Pod
	if err := yaml.Unmarshal([]byte(k.mustRun("-n", "demo", "get", "pod", "web", "-o", "yaml")), &pod); err != nil {
		t.Fatalf("get pod -o yaml: %v", err)
	}
	if pod.Name != "web" || pod.Namespace != "demo" || pod.UID == "" || pod.ResourceVersion == "" {
		t.Errorf("get pod -o yaml: name %q namespace %q uid %q resourceVersion %q", pod.Name, pod.Namespace, pod.UID, pod.ResourceVersion)
	}
	if len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].Image != "registry.example/web:1" {
		t.Errorf("get pod -o yaml: containers %+v", pod.Spec.Containers)
	}

	t.Run("watch", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		watch := k.command(ctx, "-n", "demo", "get", "pods", "-w")
		var out, errOut syncBuffer
		watch.Stdout, watch.Stderr = &out, &errOut
		if err := watch.Start(); err != nil {
			t.Fatal(err)
		}
		stopped := false
		stop := func() {
			if !stopped {
				stopped = true
				cancel()
				_ = watch.Wait()
			}
		}
		t.Cleanup(stop)
		if !waitFor(30*time.Second, func() bool { _, ok := lineWith(out.String(), "web"); return ok }) {
			t.Fatalf("kubectl get pods -w printed no row for web within 30s\nstdout: %s\nstderr: %s", out.String(), errOut.String())
		}
		mustCode(t, env.Do(t, http.MethodPost, "/api/v1/namespaces/demo/pods", env.AdminToken, podObject("web2")), http.StatusCreated)
		mustCode(t, env.Do(t, http.MethodDelete, "/api/v1/namespaces/demo/pods/web", env.AdminToken, nil), http.StatusOK)
		if !waitFor(10*time.Second, func() bool { _, ok := lineWith(out.String(), "web2"); return ok }) {
			t.Fatalf("kubectl get pods -w printed nothing for web2 within 10s\nstdout: %s\nstderr: %s", out.String(), errOut.String())
		}
		stop()
		t.Logf("kubectl get pods -w printed:\n%s", out.String())
		if strings.Contains(strings.ToLower(errOut.String()), "error") {
			t.Errorf("kubectl get pods -w complained: %s", errOut.String())
		}
	})

	// web was deleted through the API while watching; a second delete is
	// the kubectl path: recreate it first.
	k.mustRun("-n", "demo", "create", "-f", testdata("pod.yaml"))
	if out := k.mustRun("-n", "demo", "delete", "pod", "web"); !strings.Contains(out, `pod "web" deleted`) {
		t.Errorf("delete printed %q", out)
	}
	out = k.mustRun("-n", "demo", "get", "pods")
	if _, ok := lineWith(out, "web "); ok {
		t.Errorf("get pods still lists web after delete:\n%s", out)
	}
	if _, ok := lineWith(out, "web2"); !ok {
		t.Errorf("get pods does not list web2:\n%s", out)
	}
}

func TestKubectlApply(t *testing.T) {
	env, k := startKubectlEnv(t)
	k.mustRun("create", "namespace", "demo")

	if out := k.mustRun("-n", "demo", "apply", "-f", testdata("apply-pod.yaml")); !strings.Contains(out, "pod/applied created") {
		t.Errorf("first apply printed %q, want pod/applied created", out)
	}
	if out := k.mustRun("-n", "demo", "apply", "-f", testdata("apply-pod-relabelled.yaml")); !strings.Contains(out, "pod/applied configured") {
		t.Errorf("apply of changed labels printed %q, want pod/applied configured", out)
	}
	resp := env.Do(t, http.MethodGet, "/api/v1/namespaces/demo/pods/applied", env.AdminToken, nil)
	mustCode(t, resp, http.StatusOK)
	var pod v1.Pod
	resp.JSON(t, &pod)
	if pod.Labels["tier"] != "frontend" || pod.Labels["app"] != "applied" {
		t.Errorf("labels after apply: %v", pod.Labels)
	}
	if pod.Annotations["kubectl.kubernetes.io/last-applied-configuration"] == "" {
		t.Errorf("apply left no last-applied-configuration annotation: %v", pod.Annotations)
	}
	if out := k.mustRun("-n", "demo", "apply", "-f", testdata("apply-pod-relabelled.yaml")); !strings.Contains(out, "pod/applied unchanged") {
		t.Errorf("repeated apply printed %q, want pod/applied unchanged", out)
	}
}

func TestKubectlErrors(t *testing.T) {
	_, k := startKubectlEnv(t)
	k.mustRun("create", "namespace", "demo")

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"not found", []string{"-n", "demo", "get", "pod", "nope"}, []string{"NotFound", `"nope" not found`}},
		{"no image", []string{"-n", "demo", "create", "-f", testdata("pod-without-image.yaml")}, []string{"spec.containers[0].image"}},
		{"unknown field", []string{"-n", "demo", "create", "-f", testdata("pod-unknown-field.yaml")}, []string{"imagePullPolicyy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errOut := k.mustFail(tt.args...)
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("kubectl %s: stderr %q does not contain %q", strings.Join(tt.args, " "), errOut, w)
				}
			}
		})
	}
	if out, _, _ := k.run("-n", "demo", "get", "pods", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("rejected pods were stored: %q", out)
	}
}

func TestKubectlDiscovery(t *testing.T) {
	_, k := startKubectlEnv(t)

	if _, errOut, code := k.run("get", "nodes"); code != 0 {
		t.Errorf("get nodes: exit status %d: %s", code, errOut)
	}
	out := k.mustRun("api-resources")
	for _, want := range [][]string{
		{"pods", "po", "v1", "true", "Pod"},
		{"namespaces", "ns", "v1", "false", "Namespace"},
		{"services", "svc", "v1", "true", "Service"},
		{"nodes", "no", "v1", "false", "Node"},
	} {
		if _, ok := lineWith(out, want...); !ok {
			t.Errorf("api-resources has no line with %v:\n%s", want, out)
		}
	}
	if out := k.mustRun("version", "-o", "yaml"); !strings.Contains(out, "serverVersion") {
		t.Errorf("version has no serverVersion:\n%s", out)
	}
}

func TestKubectlNonAdminSeesOwnNamespaces(t *testing.T) {
	env, admin := startKubectlEnv(t)
	admin.mustRun("create", "namespace", "team-admin")
	bobToken := env.CreateUser(t, "bob", false)
	bob := newKubectl(t, env, bobToken)
	bob.mustRun("create", "namespace", "team-bob")

	out := bob.mustRun("get", "ns", "-o", "name")
	if got := strings.Fields(out); len(got) != 1 || got[0] != "namespace/team-bob" {
		t.Errorf("bob's get ns -o name = %q, want only namespace/team-bob", got)
	}
	out = admin.mustRun("get", "ns", "-o", "name")
	for _, want := range []string{"namespace/team-admin", "namespace/team-bob"} {
		if !strings.Contains(out, want) {
			t.Errorf("admin's get ns lacks %s:\n%s", want, out)
		}
	}
	errOut := bob.mustFail("-n", "team-admin", "get", "pods")
	if !strings.Contains(errOut, "Forbidden") {
		t.Errorf("bob reading another's namespace: %q, want Forbidden", errOut)
	}
}
