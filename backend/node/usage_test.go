package node_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/pgserver"

	"github.com/jackc/pgx/v5"
	v1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/backend/node"
	"github.com/berthpaas/berth/backend/node/runtime/fake"
	"github.com/berthpaas/berth/backend/testenv"
)

type storedWindow struct {
	container  string
	start, end time.Time
	cpu, run   float64
}

// storedWindows reads the raw usage records of a pod, oldest first.
func storedWindows(t *testing.T, env *testenv.Env, pod string) []storedWindow {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT container, window_start, window_end, cpu_seconds, running_seconds
		FROM usage_records WHERE pod = $1 ORDER BY container, window_start`, pod)
	if err != nil {
		t.Fatal(err)
	}
	var out []storedWindow
	for rows.Next() {
		var w storedWindow
		if err := rows.Scan(&w.container, &w.start, &w.end, &w.cpu, &w.run); err != nil {
			t.Fatal(err)
		}
		out = append(out, w)
	}
	return out
}

func spooled(t *testing.T, stateDir string) int {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(stateDir, "usage", "batch-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return len(names)
}

// A container's usage is recorded in windows that follow each other with
// no gap and no overlap from its start to its deletion, through a master
// outage (the windows wait on disk) and an agent restart (the cursors
// wait on disk): the CPU seconds stored are exactly what the container's
// counter grew by.
func TestUsageExactlyOnceThroughOutageAndRestart(t *testing.T) {
	env := testenv.Start(t)
	proxy := newCuttableProxy(t, strings.TrimPrefix(env.URL, "http://"))
	rt := fake.New(fake.Options{})
	cfg := node.Config{
		Master: proxy.URL(), BootstrapTokenFile: bootstrapToken(t, env, "n1"), Name: "n1",
		StateDir: t.TempDir(), Runtime: rt, UsageInterval: 100 * time.Millisecond,
	}
	ag := startAgent(t, cfg)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces", env.AdminToken, map[string]any{"metadata": map[string]string{"name": "demo"}}), http.StatusCreated)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", env.AdminToken,
		boundPod("busy", "n1", v1.EnvVar{Name: "FAKE_CPU_MILLICORES", Value: "500"})), http.StatusCreated)
	eventually(t, 10*time.Second, "usage stored", func() (bool, string) {
		n := len(storedWindows(t, env, "busy"))
		return n >= 4, "none yet"
	})

	proxy.setDown(true)
	eventually(t, 10*time.Second, "windows spooled during the outage", func() (bool, string) {
		return spooled(t, cfg.StateDir) >= 5, "too few"
	})
	proxy.setDown(false)
	eventually(t, 10*time.Second, "spool delivered", func() (bool, string) { return spooled(t, cfg.StateDir) == 0, "still spooled" })

	ag.stop(t)
	os.Remove(cfg.BootstrapTokenFile)
	stored := len(storedWindows(t, env, "busy"))
	startAgent(t, cfg)
	eventually(t, 10*time.Second, "usage stored after the restart", func() (bool, string) {
		return len(storedWindows(t, env, "busy")) >= stored+4, "none yet"
	})
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/demo/pods/busy?gracePeriodSeconds=0", env.AdminToken, nil), http.StatusOK)
	eventually(t, 10*time.Second, "pod gone and its last usage delivered", func() (bool, string) {
		return len(podUIDs(t, rt)) == 0 && spooled(t, cfg.StateDir) == 0, "not yet"
	})

	windows := storedWindows(t, env, "busy")
	byContainer := map[string][]storedWindow{}
	for _, w := range windows {
		byContainer[w.container] = append(byContainer[w.container], w)
	}
	app := byContainer["app"]
	if len(app) < 10 || len(byContainer["POD"]) < 10 {
		t.Fatalf("windows: %d of app, %d of POD", len(app), len(byContainer["POD"]))
	}
	var cpu, run float64
	for i, w := range app {
		if i > 0 && !w.start.Equal(app[i-1].end) {
			t.Fatalf("window %d starts at %s, the one before ended at %s", i, w.start, app[i-1].end)
		}
		cpu += w.cpu
		run += w.run
	}
	span := app[len(app)-1].end.Sub(app[0].start).Seconds()
	if math.Abs(run-span) > 1e-6 || math.Abs(cpu-0.5*span) > 1e-3 {
		t.Fatalf("stored %.6f CPU s over %.6f running s; the container used %.6f over %.6f", cpu, run, 0.5*span, span)
	}
}

// A PostgreSQL outage loses and doubles nothing: while the database is
// stopped the master answers the agent's deliveries 503 with a
// Retry-After, the windows wait on disk, and once PostgreSQL is started
// again they are stored; the CPU seconds stored are exactly what the
// container's counter grew by, in windows with no gap and no overlap.
func TestUsageExactlyOnceThroughAPostgreSQLOutage(t *testing.T) {
	pgDir := filepath.Join(t.TempDir(), "pg")
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pg := startPostgres(t, pgDir, logger)
	relay := newPGRelay(t, pg)
	env := testenv.Start(t, testenv.Options{DatabaseURL: relay.URL()})
	answers := newAnswerRecorder(t, env.URL, node.UsageRecordsPath)
	rt := fake.New(fake.Options{})
	cfg := node.Config{
		Master: answers.URL(), BootstrapTokenFile: bootstrapToken(t, env, "n1"), Name: "n1",
		StateDir: t.TempDir(), Runtime: rt, UsageInterval: 100 * time.Millisecond,
	}
	startAgent(t, cfg)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces", env.AdminToken, map[string]any{"metadata": map[string]string{"name": "demo"}}), http.StatusCreated)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", env.AdminToken,
		boundPod("busy", "n1", v1.EnvVar{Name: "FAKE_CPU_MILLICORES", Value: "500"})), http.StatusCreated)
	eventually(t, 10*time.Second, "usage stored", func() (bool, string) {
		return len(storedWindows(t, env, "busy")) >= 4, "none yet"
	})

	if err := pg.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	relay.point(nil)
	stopped := time.Now()
	refusedBefore := len(answers.refusals())
	// The outage is 30 s: the agent has backed off several times
	// by then, and the master's connections to PostgreSQL are all dead.
	eventually(t, 60*time.Second, "a 30 s outage: deliveries refused, windows spooled", func() (bool, string) {
		n, refused := spooled(t, cfg.StateDir), len(answers.refusals())-refusedBefore
		return n >= 5 && refused >= 3 && time.Since(stopped) >= 30*time.Second,
			fmt.Sprintf("%d batches spooled, %d deliveries refused, down for %v", n, refused, time.Since(stopped).Round(time.Second))
	})
	for _, r := range answers.refusals()[refusedBefore:] {
		if r.code != http.StatusServiceUnavailable || r.retryAfter != "5" {
			t.Fatalf("a delivery while PostgreSQL is down answered %d (Retry-After %q), want 503 (Retry-After 5)", r.code, r.retryAfter)
		}
	}
	pg = startPostgres(t, pgDir, logger)
	relay.point(pg)
	// The agent's back-off has grown to half a minute.
	eventually(t, 90*time.Second, "spool delivered", func() (bool, string) { return spooled(t, cfg.StateDir) == 0, "still spooled" })
	stored := len(storedWindows(t, env, "busy"))
	eventually(t, 10*time.Second, "usage stored after the outage", func() (bool, string) {
		return len(storedWindows(t, env, "busy")) >= stored+4, "none yet"
	})
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/demo/pods/busy?gracePeriodSeconds=0", env.AdminToken, nil), http.StatusOK)
	eventually(t, 10*time.Second, "pod gone and its last usage delivered", func() (bool, string) {
		return len(podUIDs(t, rt)) == 0 && spooled(t, cfg.StateDir) == 0, "not yet"
	})

	var app []storedWindow
	for _, w := range storedWindows(t, env, "busy") {
		if w.container == "app" {
			app = append(app, w)
		}
	}
	var cpu, run float64
	for i, w := range app {
		if i > 0 && !w.start.Equal(app[i-1].end) {
			t.Fatalf("window %d starts at %s, the one before ended at %s", i, w.start, app[i-1].end)
		}
		cpu += w.cpu
		run += w.run
	}
	span := app[len(app)-1].end.Sub(app[0].start).Seconds()
	if math.Abs(run-span) > 1e-6 || math.Abs(cpu-0.5*span) > 1e-3 {
		t.Fatalf("stored %.6f CPU s over %.6f running s; the container used %.6f over %.6f", cpu, run, 0.5*span, span)
	}
	// The rollups the reports read hold each window once too.
	var report berthv1.UsageReport
	resp := env.Do(t, "GET", "/apis/berth.dev/v1/namespaces/demo/usage?groupBy=pod&from="+app[0].start.Add(-time.Hour).Format(time.RFC3339), env.AdminToken, nil)
	mustCode(t, resp, http.StatusOK)
	resp.JSON(t, &report)
	if math.Abs(report.Total.CPUCoreHours*3600-cpu) > 1e-6 {
		t.Fatalf("report: %f CPU s, the records: %f", report.Total.CPUCoreHours*3600, cpu)
	}
}

func startPostgres(t *testing.T, dir string, logger *slog.Logger) *pgserver.Server {
	t.Helper()
	srv, err := pgserver.Start(t.Context(), dir, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	return srv
}

// pgRelay forwards connections from a Unix socket of its own to a
// PostgreSQL server's, so that the master keeps its database's address
// while the server is stopped and started again (on another port).
type pgRelay struct {
	dir string
	ln  net.Listener

	mu     sync.Mutex
	target string // guarded by mu; the server's socket, "" while it is stopped
}

func newPGRelay(t *testing.T, srv *pgserver.Server) *pgRelay {
	t.Helper()
	dir, err := os.MkdirTemp("", "berth-pgrelay-") // short: a socket path has 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, ".s.PGSQL.5432"))
	if err != nil {
		t.Fatal(err)
	}
	r := &pgRelay{dir: dir, ln: ln}
	r.point(srv)
	t.Cleanup(func() { ln.Close(); os.RemoveAll(dir) })
	go r.serve()
	return r
}

// URL is the berth database through the relay.
func (r *pgRelay) URL() string {
	q := url.Values{"host": {r.dir}, "port": {"5432"}, "user": {"berth"}, "sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", Path: "/berth", RawQuery: q.Encode()}).String()
}

// point forwards new connections to srv, or refuses them (nil).
func (r *pgRelay) point(srv *pgserver.Server) {
	target := ""
	if srv != nil {
		u, _ := url.Parse(srv.URL())
		target = filepath.Join(u.Query().Get("host"), ".s.PGSQL."+u.Query().Get("port"))
	}
	r.mu.Lock()
	r.target = target
	r.mu.Unlock()
}

func (r *pgRelay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		target := r.target
		r.mu.Unlock()
		go func() {
			defer c.Close()
			if target == "" {
				return
			}
			up, err := net.Dial("unix", target)
			if err != nil {
				return
			}
			defer up.Close()
			go func() { io.Copy(up, c); up.Close() }()
			io.Copy(c, up)
		}()
	}
}

type answer struct {
	code       int
	retryAfter string
}

// answerRecorder stands between the agent and the master and records
// the master's refusals of requests to one path.
type answerRecorder struct {
	srv *httptest.Server

	mu      sync.Mutex
	refused []answer // guarded by mu
}

func newAnswerRecorder(t *testing.T, master, path string) *answerRecorder {
	t.Helper()
	target, err := url.Parse(master)
	if err != nil {
		t.Fatal(err)
	}
	r := &answerRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path == path && resp.StatusCode >= 400 {
			r.mu.Lock()
			r.refused = append(r.refused, answer{resp.StatusCode, resp.Header.Get("Retry-After")})
			r.mu.Unlock()
		}
		return nil
	}
	r.srv = httptest.NewServer(proxy)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *answerRecorder) URL() string { return r.srv.URL }

func (r *answerRecorder) refusals() []answer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.refused)
}
