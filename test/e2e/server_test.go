package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/backend/testenv"
	"github.com/berthpaas/berth/internal/testbin"
)

// upProcess is a `berth up` running as a process of its own, with the
// private PostgreSQL and the embedded etcd in its data dir.
type upProcess struct {
	t       *testing.T
	cmd     *exec.Cmd
	dataDir string
	out     *syncBuffer
	errOut  *syncBuffer
	exited  chan struct{}
	err     error // set when exited is closed
}

var consoleLine = regexp.MustCompile(`Console:\s+(http://\S+?)/?\s`)

// berthCommand returns a berth command with a deadline, not started.
func berthCommand(t *testing.T, ctx context.Context, args ...string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, testbin.Berth(t), args...)
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 5 * time.Second
	return cmd, &out, &errOut
}

// startUp starts berth up on dataDir and stops it (and checks that its
// PostgreSQL went with it) when the test ends.
func startUp(t *testing.T, dataDir, listen string) *upProcess {
	t.Helper()
	// No node agent: these tests are about the master, and pods they
	// create must not leave containers behind on the shared engine.
	cmd, out, errOut := berthCommand(t, context.WithoutCancel(t.Context()), "up", "--data-dir", dataDir, "--listen", listen, "--log-level", "warn", "--no-node",
		"--router-listen", "127.0.0.1:0", "--router-tls-listen", "127.0.0.1:0")
	p := &upProcess{t: t, cmd: cmd, dataDir: dataDir, out: out, errOut: errOut, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start berth up: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	return p
}

// waitURL waits until berth up prints its console URL and returns it.
func (p *upProcess) waitURL() string {
	p.t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		if m := consoleLine.FindStringSubmatch(p.out.String()); m != nil {
			return m[1]
		}
		select {
		case <-p.exited:
			p.t.Fatalf("berth up exited before serving: %v\nstdout: %s\nstderr: %s", p.err, p.out.String(), p.errOut.String())
		case <-deadline:
			p.t.Fatalf("berth up printed no Console URL within 2m\nstdout: %s\nstderr: %s", p.out.String(), p.errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// terminate sends SIGTERM and requires a clean exit within 30s that leaves
// no PostgreSQL behind.
func (p *upProcess) terminate() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM berth up: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		// What it waits for: Go prints every goroutine's stack on SIGQUIT.
		before := len(p.errOut.String())
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
		}
		stacks := p.errOut.String()[before:]
		p.t.Fatalf("berth up did not exit within 30s of SIGTERM\nstderr before: %s\ngoroutines on SIGQUIT:\n%s", lastBytes(p.errOut.String()[:before], 8<<10), lastBytes(stacks, 200<<10))
	}
	if p.err != nil {
		p.t.Errorf("berth up exited with %v after SIGTERM\nstderr: %s", p.err, p.errOut.String())
	}
	if pids := postgresPIDs(p.t, p.dataDir); len(pids) > 0 {
		p.t.Errorf("postgres processes %v outlived berth up", pids)
	}
}

// kill ends the process and any PostgreSQL it left, so that nothing
// outlives the test.
func (p *upProcess) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	if !waitFor(10*time.Second, func() bool { return len(postgresPIDs(p.t, p.dataDir)) == 0 }) {
		for _, pid := range postgresPIDs(p.t, p.dataDir) {
			// postgres runs in a process group of its own: end its children too.
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}

// postgresPIDs lists the processes whose command line names dataDir: after
// berth up exits, only a stray postmaster would.
func postgresPIDs(t *testing.T, dataDir string) []int {
	t.Helper()
	out, err := exec.Command("pgrep", "-f", regexp.QuoteMeta(dataDir)).Output()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.ExitCode() == 1 {
		return nil
	}
	if err != nil {
		t.Fatalf("pgrep: %v", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mustFailFast runs berth with args, expects it to fail within 30s and
// returns what it printed on stderr.
func mustFailFast(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd, out, errOut := berthCommand(t, ctx, args...)
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("berth %s did not fail within 30s\nstdout: %s\nstderr: %s", strings.Join(args, " "), out.String(), errOut.String())
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
		t.Fatalf("berth %s: %v, want exit status 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return errOut.String()
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test of the berth binary with a private PostgreSQL; skipped in -short mode")
	}
}

// api is a client of a master started as a process; testenv.Env's
// helpers only need its URL.
func api(url string) *testenv.Env { return &testenv.Env{URL: url} }

func TestUpAndRestart(t *testing.T) {
	skipShort(t)
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")

	first := startUp(t, dataDir, "127.0.0.1:0")
	url := first.waitURL()
	out := first.out.String()
	m := regexp.MustCompile(`Password:\s+(\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "User:      admin") {
		t.Fatalf("berth up did not print the admin's credentials:\n%s", out)
	}
	password := m[1]
	passwordFile := filepath.Join(dataDir, "admin-password")
	info, err := os.Stat(passwordFile)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("%s has mode %o, want 600", passwordFile, mode)
	}
	if data, _ := os.ReadFile(passwordFile); strings.TrimSpace(string(data)) != password {
		t.Errorf("%s holds %q, berth up printed %q", passwordFile, data, password)
	}
	wantContains(t, "berth up's welcome", out, "berth login "+url, "--certificate-authority "+filepath.Join(dataDir, "tls", "ca.crt"))

	t.Run("second up on the same data dir", func(t *testing.T) {
		errOut := mustFailFast(t, "up", "--data-dir", dataDir, "--listen", "127.0.0.1:0")
		wantContains(t, "second berth up", errOut, "in use", fmt.Sprint(first.cmd.Process.Pid))
	})

	srv := api(url)
	admin := srv.Login(t, "admin", password)
	srv.AdminToken = admin
	createNamespace(t, srv, admin, "keep")
	mustCode(t, srv.Do(t, http.MethodPost, "/api/v1/namespaces/keep/pods", admin, podObject("kept")), http.StatusCreated)
	carol := srv.CreateUser(t, "carol", false)
	mustCode(t, srv.Do(t, http.MethodPost, "/apis/berth.dev/v1/namespaces/keep/members", admin, map[string]any{
		"metadata": map[string]string{"name": "carol"}, "spec": map[string]string{"role": "view"},
	}), http.StatusCreated)
	resp := srv.Do(t, http.MethodPost, "/apis/berth.dev/v1/tokens", carol, map[string]any{"metadata": map[string]string{"name": "ci"}})
	mustCode(t, resp, http.StatusCreated)
	var token struct {
		Status struct {
			Secret string `json:"secret"`
		} `json:"status"`
	}
	resp.JSON(t, &token)
	if token.Status.Secret == "" {
		t.Fatalf("token created without a secret: %s", resp.Body)
	}

	first.terminate()

	second := startUp(t, dataDir, "127.0.0.1:0")
	srv = api(second.waitURL())
	if data, _ := os.ReadFile(passwordFile); strings.TrimSpace(string(data)) != password {
		t.Errorf("the restart changed the admin password file to %q", data)
	}
	admin = srv.Login(t, "admin", password)
	resp = srv.Do(t, http.MethodGet, "/api/v1/namespaces/keep/pods/kept", admin, nil)
	mustCode(t, resp, http.StatusOK)
	var pod v1.Pod
	resp.JSON(t, &pod)
	if pod.Spec.Containers[0].Image != "registry.example/kept:1" {
		t.Errorf("pod after restart: %+v", pod.Spec)
	}
	srv.Login(t, "carol", "password-of-test-user")
	mustCode(t, srv.Do(t, http.MethodGet, "/api/v1/namespaces/keep/pods", token.Status.Secret, nil), http.StatusOK)
	mustCode(t, srv.Do(t, http.MethodGet, "/api/v1/namespaces/keep/pods", carol, nil), http.StatusOK)
	second.terminate()
}

func TestUpPortInUse(t *testing.T) {
	skipShort(t)
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	errOut := mustFailFast(t, "up", "--data-dir", t.TempDir(), "--listen", addr)
	wantContains(t, "berth up on a taken port", errOut, addr, "already in use", "--listen")
}

func TestUpDataDirNotWritable(t *testing.T) {
	skipShort(t)
	t.Parallel()
	// Root may write anywhere, but nothing can create a directory under a
	// regular file.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(file, "data")
	errOut := mustFailFast(t, "up", "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	wantContains(t, "berth up on an impossible data dir", errOut, "data dir", dataDir)
}

func TestVersion(t *testing.T) {
	skipShort(t)
	t.Parallel()
	cmd, out, errOut := berthCommand(t, t.Context(), "version")
	if err := cmd.Run(); err != nil {
		t.Fatalf("berth version: %v: %s", err, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "berth ") {
		t.Errorf("berth version printed %q, want \"berth ...\"", out.String())
	}
}

// lastBytes is the end of s, at most n bytes of it.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
