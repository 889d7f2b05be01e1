package node_test

import (
	"context"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
