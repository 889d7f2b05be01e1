package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/testenv"
	"github.com/berthpaas/berth/cli"
	v1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// berthCLI runs the berth CLI in-process with one config file.
type berthCLI struct {
	t          *testing.T
	configPath string
}

// useConfig points BERTH_CONFIG at a config file of the test's own; the
// tests using it must not be parallel.
func useConfig(t *testing.T, name string) *berthCLI {
	t.Helper()
	c := &berthCLI{t: t, configPath: filepath.Join(t.TempDir(), name, "config.json")}
	t.Setenv("BERTH_CONFIG", c.configPath)
	return c
}

// in returns the CLI for use in the subtest t.
func (c *berthCLI) in(t *testing.T) *berthCLI { return &berthCLI{t: t, configPath: c.configPath} }

func (c *berthCLI) config() cli.Config {
	c.t.Helper()
	cfg, err := cli.LoadConfig(c.configPath)
	if err != nil {
		c.t.Fatal(err)
	}
	return *cfg
}

// runContext runs berth with args and stdin until ctx ends or the command
// does.
func (c *berthCLI) runContext(ctx context.Context, stdout, stderr *syncBuffer, stdin string, args ...string) error {
	root := cli.NewRootCommand()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

func (c *berthCLI) run(stdin string, args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	var out, errOut syncBuffer
	ctx, cancel := context.WithTimeout(c.t.Context(), time.Minute)
	defer cancel()
	err = c.runContext(ctx, &out, &errOut, stdin, args...)
	return out.String(), errOut.String(), err
}

func (c *berthCLI) mustRun(stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(stdin, args...)
	if err != nil {
		c.t.Fatalf("berth %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func (c *berthCLI) mustFail(stdin string, args ...string) error {
	c.t.Helper()
	out, _, err := c.run(stdin, args...)
	if err == nil {
		c.t.Fatalf("berth %s succeeded, want an error; it printed %q", strings.Join(args, " "), out)
	}
	return err
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: %q does not contain %q", what, got, w)
		}
	}
}

func TestCLI(t *testing.T) {
	env := testenv.Start(t)
	admin := useConfig(t, "admin")

	// Session: login, whoami, projects.
	out := admin.mustRun(env.AdminPassword+"\n", "login", env.URL, "-u", "admin", "--password-stdin")
	wantContains(t, "login", out, "Logged in to "+env.URL, "as admin")
	info, err := os.Stat(admin.configPath)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("config file mode %o, want 600", mode)
	}
	if cfg := admin.config(); cfg.Token == "" || cfg.Username != "admin" || cfg.Server != env.URL {
		t.Errorf("config after login: server %q username %q token set %v", cfg.Server, cfg.Username, cfg.Token != "")
	}
	if out := admin.mustRun("", "whoami"); strings.TrimSpace(out) != "admin" {
		t.Errorf("whoami = %q, want admin", out)
	}
	wantContains(t, "project create", admin.mustRun("", "project", "create", "demo"), "project/demo created")
	if _, ok := lineWith(admin.mustRun("", "project", "list"), "demo"); !ok {
		t.Errorf("project list does not show demo")
	}
	wantContains(t, "project use", admin.mustRun("", "project", "use", "demo"), `"demo"`)
	if ns := admin.config().Namespace; ns != "demo" {
		t.Errorf("config namespace after project use = %q", ns)
	}
	out = admin.mustRun("bob-password-1\n", "user", "create", "bob", "--password-stdin")
	wantContains(t, "user create", out, "user/bob created")
	if strings.Contains(out, "password:") {
		t.Errorf("user create --password-stdin printed a password: %q", out)
	}
	wantContains(t, "add-member", admin.mustRun("", "project", "add-member", "demo", "bob", "--role", "view"),
		"member/bob added to project demo as view")

	// Objects: create, apply, get in every format.
	out = admin.mustRun("", "create", "-f", testdata("app.yaml"))
	wantContains(t, "create -f", out, "pod/web created", "service/web created")
	out = admin.mustRun("", "apply", "-f", testdata("app.yaml"))
	wantContains(t, "apply of the same file", out, "pod/web unchanged", "service/web unchanged")
	out = admin.mustRun("", "apply", "-f", testdata("app-relabelled.yaml"))
	wantContains(t, "apply of changed labels", out, "pod/web configured", "service/web unchanged")

	out = admin.mustRun("", "get", "pods")
	if _, ok := lineWith(out, "NAME", "STATUS"); !ok {
		t.Errorf("get pods has no header:\n%s", out)
	}
	if _, ok := lineWith(out, "web", "Pending"); !ok {
		t.Errorf("get pods does not list web:\n%s", out)
	}
	var list v1.PodList
	if err := json.Unmarshal([]byte(admin.mustRun("", "get", "pods", "-o", "json")), &list); err != nil {
		t.Fatalf("get pods -o json: %v", err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "web" {
		t.Errorf("get pods -o json: %+v", list.Items)
	}
	list = v1.PodList{}
	if err := yaml.Unmarshal([]byte(admin.mustRun("", "get", "pods", "-o", "yaml")), &list); err != nil {
		t.Fatalf("get pods -o yaml: %v", err)
	}
	if len(list.Items) != 1 || list.Items[0].Namespace != "demo" {
		t.Errorf("get pods -o yaml: %+v", list.Items)
	}
	if out := admin.mustRun("", "get", "pods", "-o", "name"); strings.TrimSpace(out) != "pod/web" {
		t.Errorf("get pods -o name = %q", out)
	}
	narrow, _ := lineWith(admin.mustRun("", "get", "pods"), "NAME")
	wide, _ := lineWith(admin.mustRun("", "get", "pods", "-o", "wide"), "NAME")
	if len(strings.Fields(wide)) <= len(strings.Fields(narrow)) {
		t.Errorf("get pods -o wide header %q has no more columns than %q", wide, narrow)
	}
	var pod v1.Pod
	if err := json.Unmarshal([]byte(admin.mustRun("", "get", "pod", "web", "-o", "json")), &pod); err != nil {
		t.Fatalf("get pod web -o json: %v", err)
	}
	if pod.Name != "web" || pod.UID == "" || pod.Labels["release"] != "canary" {
		t.Errorf("get pod web -o json: name %q uid %q labels %v", pod.Name, pod.UID, pod.Labels)
	}
	admin.mustRun("", "create", "-f", testdata("pod-db.yaml"))
	if out := admin.mustRun("", "get", "pods", "-l", "app=db", "-o", "name"); strings.TrimSpace(out) != "pod/db" {
		t.Errorf("get pods -l app=db = %q", out)
	}
	if out := admin.mustRun("", "get", "svc", "web", "-o", "name"); strings.TrimSpace(out) != "service/web" {
		t.Errorf("get svc web -o name = %q", out)
	}

	t.Run("watch", func(t *testing.T) { testCLIWatch(t, env, admin.in(t)) })

	wantContains(t, "delete", admin.mustRun("", "delete", "pod", "web"), `pod "web" deleted`)
	if out := admin.mustRun("", "get", "pods", "-o", "name"); strings.Contains(out, "pod/web\n") {
		t.Errorf("get pods after delete still lists web: %q", out)
	}

	t.Run("tokens", func(t *testing.T) { testCLITokens(t, env, admin.in(t)) })

	err = admin.mustFail("", "create", "-f", testdata("pod-without-image.yaml"))
	wantContains(t, "create of a pod without image", err.Error(), "pod/imageless", "is invalid", "spec.containers[0].image")

	t.Run("view role", func(t *testing.T) {
		bob := useConfig(t, "bob") // BERTH_CONFIG is the admin's again after the subtest
		bob.mustRun("bob-password-1\n", "login", env.URL, "-u", "bob", "--password-stdin")
		if out := bob.mustRun("", "-n", "demo", "get", "pods", "-o", "name"); !strings.Contains(out, "pod/db") {
			t.Errorf("bob (view) cannot list pods: %q", out)
		}
		err := bob.mustFail("", "-n", "demo", "create", "-f", testdata("pod-db.yaml"))
		wantContains(t, "bob (view) creating a pod", strings.ToLower(err.Error()), "forbidden")
		err = bob.mustFail("", "-n", "demo", "delete", "pod", "db")
		wantContains(t, "bob (view) deleting a pod", strings.ToLower(err.Error()), "forbidden")
	})

	token := admin.config().Token
	wantContains(t, "logout", admin.mustRun("", "logout"), "Logged out")
	if cfg := admin.config(); cfg.Token != "" {
		t.Errorf("logout kept the token in the config")
	}
	mustCode(t, env.Do(t, http.MethodGet, "/api/v1/namespaces", token, nil), http.StatusUnauthorized)
	err = admin.mustFail("", "--token", token, "whoami")
	wantContains(t, "whoami with a revoked token", err.Error(), "log in again")
}

func testCLIWatch(t *testing.T, env *testenv.Env, admin *berthCLI) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- admin.runContext(ctx, &out, &errOut, "", "get", "pods", "-w") }()
	if !waitFor(10*time.Second, func() bool { _, ok := lineWith(out.String(), "web"); return ok }) {
		t.Fatalf("get pods -w printed no row for web\nstdout: %s\nstderr: %s", out.String(), errOut.String())
	}
	mustCode(t, env.Do(t, http.MethodPost, "/api/v1/namespaces/demo/pods", env.AdminToken, podObject("watched")), http.StatusCreated)
	if !waitFor(10*time.Second, func() bool { _, ok := lineWith(out.String(), "watched"); return ok }) {
		t.Errorf("get pods -w printed nothing for a new pod within 10s\nstdout: %s\nstderr: %s", out.String(), errOut.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("get pods -w ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("get pods -w did not end within 10s of its context")
	}
	if header := strings.Count(out.String(), "NAME"); header != 1 {
		t.Errorf("get pods -w printed the header %d times:\n%s", header, out.String())
	}
	mustCode(t, env.Do(t, http.MethodDelete, "/api/v1/namespaces/demo/pods/watched", env.AdminToken, nil), http.StatusOK)
}

func testCLITokens(t *testing.T, env *testenv.Env, admin *berthCLI) {
	out, errOut, err := admin.run("", "token", "create", "ci")
	if err != nil {
		t.Fatalf("token create: %v: %s", err, errOut)
	}
	secret := strings.TrimSpace(out)
	if secret == "" || strings.ContainsAny(secret, " \n") {
		t.Fatalf("token create printed %q on stdout, want the secret alone", out)
	}
	wantContains(t, "token create stderr", errOut, "token/ci created")
	mustCode(t, env.Do(t, http.MethodGet, "/api/v1/namespaces/demo/pods", secret, nil), http.StatusOK)
	if _, ok := lineWith(admin.mustRun("", "token", "list"), "ci"); !ok {
		t.Errorf("token list does not show ci")
	}
	if out := admin.mustRun("", "token", "list"); strings.Contains(out, secret) {
		t.Errorf("token list shows the secret")
	}
	wantContains(t, "token revoke", admin.mustRun("", "token", "revoke", "ci"), `token "ci" revoked`)
	mustCode(t, env.Do(t, http.MethodGet, "/api/v1/namespaces/demo/pods", secret, nil), http.StatusUnauthorized)
}
