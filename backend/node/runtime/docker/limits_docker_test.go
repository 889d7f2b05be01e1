package docker_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	v1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/docker"
)

// testLimits runs a pod on a runtime with small bounds: a fork bomb stops
// at the pids limit, and `docker inspect` shows the limits and the log
// rotation on every container.
func testLimits(t *testing.T, e *env) {
	const pids, memory = 64, 96 << 20
	opts := e.opts
	opts.Limits = docker.Limits{PidsLimit: pids, DefaultMemory: memory, LogMaxSize: 1 << 20, LogMaxFiles: 3}
	rt, err := docker.New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	// Bounded, so that the test stays harmless on a runtime without the
	// limit: 500 processes, far past it. The shell that cannot fork any
	// more gives up; the main process then holds on without forking.
	bomb := e.shellCmd("bomb", "(i=0; while [ $i -lt 500 ]; do sleep 3600 & i=$((i+1)); done) 2>/dev/null; exec sleep 3600")
	pod := e.pod("limits", v1.RestartPolicyAlways, bomb)
	killAtEnd(t, rt, pod)
	syncUntil(t, rt, pod, 20*time.Second, "running", allRunning)

	ctx := t.Context()
	var id string
	for _, c := range e.containers(t, pod.UID) {
		info, err := e.cli.ContainerInspect(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		h := info.HostConfig
		if h.PidsLimit == nil || *h.PidsLimit != pids {
			t.Errorf("%s: PidsLimit %v, want %d", c.Names, h.PidsLimit, pids)
		}
		if h.Memory != memory || h.MemorySwap != memory {
			t.Errorf("%s: Memory %d MemorySwap %d, want both %d", c.Names, h.Memory, h.MemorySwap, memory)
		}
		if lc := h.LogConfig; lc.Type != "json-file" || lc.Config["max-size"] != "1048576" || lc.Config["max-file"] != "3" {
			t.Errorf("%s: log config %+v", c.Names, lc)
		}
		if c.Labels[runtime.LabelContainer] == "bomb" {
			id = c.ID
		}
	}
	var last container.PidsStats
	waitFor(t, 30*time.Second, "the bomb at the pids limit", func() bool {
		last = pidsStats(t, e, id)
		if last.Current > pids {
			t.Fatalf("%d processes in the container, past the limit %d", last.Current, pids)
		}
		// The shell that hit the limit has exited, freeing its pid.
		return last.Current >= pids-2
	})
	t.Logf("pids %+v", last)
	if last.Limit != pids {
		t.Errorf("pids limit in the cgroup: %d, want %d", last.Limit, pids)
	}
}

func pidsStats(t *testing.T, e *env, id string) container.PidsStats {
	t.Helper()
	resp, err := e.cli.ContainerStats(t.Context(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st container.StatsResponse
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.PidsStats
}
