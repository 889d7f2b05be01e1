// Package testenv starts real Berth masters for integration tests: an
// embedded etcd in the test's temporary directory and a fresh database on
// one PostgreSQL shared by the test binary, started from the machine's
// binaries by Main.
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
//	func TestX(t *testing.T) { env := testenv.Start(t); ... }
package testenv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/etcdserver"
	"github.com/berthpaas/berth/backend/pgserver"
	"github.com/berthpaas/berth/backend/server"
	"github.com/jackc/pgx/v5"
	clientv3 "go.etcd.io/etcd/client/v3"
)

var (
	sharedPG *pgserver.Server
	dbSeq    atomic.Int64
)

// Main runs the tests of a package with a shared PostgreSQL (none in
// -short mode, where Start skips).
func Main(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "berth-test-pg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	sharedPG, err = pgserver.Start(ctx, filepath.Join(dir, "pg"), logger)
	if err != nil {
		fmt.Fprintf(os.Stderr, "start PostgreSQL for the integration tests: %v (scripts/setup installs it; -short skips these tests)\n", err)
		return 1
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sharedPG.Stop(ctx)
	}()
	return m.Run()
}

// Env is a running master.
type Env struct {
	// URL is the plain HTTP address; HTTPSURL the same port over TLS.
	URL, HTTPSURL string
	CAFile        string
	DataDir       string
	DatabaseURL   string
	AdminPassword string
	// AdminToken is a session token of the admin user.
	AdminToken string
	// Out holds what the server printed for its user.
	Out *bytes.Buffer
	// Etcd is the master's etcd client.
	Etcd *clientv3.Client
	// EtcdTLS is the master's client certificate of its embedded etcd,
	// which refuses clients without one (NewEtcdClient uses it).
	EtcdTLS etcdserver.ClientTLS
	// ClusterCIDR is the master's pod range: one of this test's own, which
	// no other test master running on the machine holds.
	ClusterCIDR netip.Prefix
	// ServiceCIDR is the master's service range, the test's own too
	// (ServiceCIDR).
	ServiceCIDR netip.Prefix

	stop func()
}

// Options tune Start.
type Options struct {
	// DataDir reuses a data directory (restart tests); default t.TempDir().
	DataDir string
	// DatabaseURL reuses a database; default a fresh one.
	DatabaseURL string
	// Controllers runs the scheduler and controllers in the master; off by
	// default so that tests see only their own writes.
	Controllers bool
	// Configure, if set, changes the master's configuration before it
	// starts (limits, listen address, ...).
	Configure func(*server.Config)
}

// Start runs a master for the test and stops it when the test ends.
func Start(t testing.TB, opts ...Options) *Env {
	t.Helper()
	if sharedPG == nil {
		t.Skip("integration test: needs the real PostgreSQL that testenv.Main starts; skipped in -short mode")
	}
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.DatabaseURL == "" {
		o.DatabaseURL = freshDatabase(t)
	}
	env := &Env{DataDir: o.DataDir, DatabaseURL: o.DatabaseURL, Out: &bytes.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := server.Config{
		DataDir: o.DataDir, Listen: "127.0.0.1:0", DatabaseURL: o.DatabaseURL,
		Logger: logger, Out: env.Out, TestMode: true, NoControllers: !o.Controllers,
		Ready:       func(u string, c *clientv3.Client) { env.Etcd = c; ready <- u },
		ClusterCIDR: ClusterCIDR(t, o.DataDir),
		// The router on free ports of its own: a route's status.url
		// names them.
		RouterListen: "127.0.0.1:0", RouterTLSListen: "127.0.0.1:0", RouterListenSet: true, RouterTLSListenSet: true,
	}
	cfg.ServiceCIDR = ServiceCIDR(cfg.ClusterCIDR)
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	env.ClusterCIDR, env.ServiceCIDR = cfg.ClusterCIDR, cfg.ServiceCIDR
	go func() { done <- server.Run(ctx, cfg) }()
	select {
	case env.URL = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("berth master did not start: %v", err)
	case <-time.After(90 * time.Second):
		cancel()
		t.Fatal("berth master did not start within 90s")
	}
	var stopped atomic.Bool
	env.stop = func() {
		if stopped.Swap(true) {
			return
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("berth master stopped with: %v", err)
		}
	}
	t.Cleanup(env.stop)
	env.HTTPSURL = "https" + strings.TrimPrefix(env.URL, "http")
	env.CAFile = filepath.Join(o.DataDir, "tls", "ca.crt")
	etcdPKI := filepath.Join(o.DataDir, "etcd-pki")
	env.EtcdTLS = etcdserver.ClientTLS{
		CAFile:   filepath.Join(etcdPKI, "ca.crt"),
		CertFile: filepath.Join(etcdPKI, "client.crt"),
		KeyFile:  filepath.Join(etcdPKI, "client.key"),
	}
	pw, err := os.ReadFile(filepath.Join(o.DataDir, "admin-password"))
	if err != nil {
		t.Fatalf("admin password: %v", err)
	}
	env.AdminPassword = strings.TrimSpace(string(pw))
	env.AdminToken = env.Login(t, "admin", env.AdminPassword)
	return env
}

// NewEtcdClient opens another client of the master's etcd, closed when
// the test ends.
func (e *Env) NewEtcdClient(t testing.TB) *clientv3.Client {
	t.Helper()
	c, err := etcdserver.NewClient(e.Etcd.Endpoints(), e.EtcdTLS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Stop shuts the master down now (it is also stopped at the end of the test).
func (e *Env) Stop() { e.stop() }

func freshDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, sharedPG.URL())
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("berth_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	u, err := url.Parse(sharedPG.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Response is an HTTP answer.
type Response struct {
	Code   int
	Body   []byte
	Header http.Header
}

// JSON decodes the body into v.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Do sends a request with a bearer token ("" for none). A non-[]byte body
// is sent as JSON.
func (e *Env) Do(t testing.TB, method, path, token string, body any, contentType ...string) Response {
	t.Helper()
	var rd io.Reader
	ct := "application/json"
	if len(contentType) > 0 {
		ct = contentType[0]
	}
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Code: resp.StatusCode, Body: data, Header: resp.Header}
}

// Login returns a session token for user.
func (e *Env) Login(t testing.TB, user, password string) string {
	t.Helper()
	resp := e.Do(t, http.MethodPost, "/auth/login", "", map[string]string{"username": user, "password": password})
	if resp.Code != http.StatusOK {
		t.Fatalf("login %q: %d %s", user, resp.Code, resp.Body)
	}
	var out struct {
		Token string `json:"token"`
	}
	resp.JSON(t, &out)
	return out.Token
}

// CreateUser creates a user as the admin and returns a session token of it.
func (e *Env) CreateUser(t testing.TB, name string, clusterAdmin bool) string {
	t.Helper()
	const password = "password-of-" + "test-user"
	resp := e.Do(t, http.MethodPost, "/apis/berth.dev/v1/users", e.AdminToken, map[string]any{
		"metadata": map[string]string{"name": name},
		"spec":     map[string]any{"password": password, "clusterAdmin": clusterAdmin},
	})
	if resp.Code != http.StatusCreated {
		t.Fatalf("create user %q: %d %s", name, resp.Code, resp.Body)
	}
	return e.Login(t, name, password)
}

// BootstrapToken creates, as the admin, a bootstrap token that lets node
// join once, and returns its secret.
func (e *Env) BootstrapToken(t testing.TB, node string) string {
	t.Helper()
	resp := e.Do(t, http.MethodPost, "/apis/berth.dev/v1/tokens", e.AdminToken, map[string]any{
		"metadata": map[string]string{"name": fmt.Sprintf("join-%s-%d", node, dbSeq.Add(1))},
		"spec":     map[string]string{"kind": "bootstrap", "nodeName": node},
	})
	if resp.Code != http.StatusCreated {
		t.Fatalf("create a bootstrap token for node %q: %d %s", node, resp.Code, resp.Body)
	}
	var tok struct {
		Status struct{ Secret string } `json:"status"`
	}
	resp.JSON(t, &tok)
	return tok.Status.Secret
}

// TLSClient is an HTTP client that trusts the master's CA.
func (e *Env) TLSClient(t testing.TB) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(e.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
