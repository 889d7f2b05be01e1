package node_test

import (
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/backend/node"
	"github.com/berthpaas/berth/backend/node/runtime/imagetest"
	"github.com/berthpaas/berth/backend/testenv"
)

// A container that exits on its own between two samples (the interval is
// an hour) still has its usage recorded: one window from its start to the
// instant it exited, holding the CPU time its cgroup counted (the
// container prints its counter as it ends). The engine deletes a
// container's cgroup before it reports the exit; the runtime's parent
// cgroup kept the count, and is removed once the window is recorded, and
// the pod's cgroups once the pod is deleted.
func TestUsageOfAContainerThatExitsOnItsOwn(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	cli := imagetest.Client(t)
	info, err := cli.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.CgroupDriver != "cgroupfs" {
		t.Skipf("the engine's cgroup driver is %q: the runtime keeps the counters of exited containers only under cgroupfs", info.CgroupDriver)
	}
	const ns = "exitusage"
	_, shell := startDockerAgent(t, env, ns, node.Config{Name: "exit-node", UsageInterval: time.Hour})
	pod := boundPod("burn", "exit-node")
	pod.Spec.RestartPolicy = v1.RestartPolicyNever
	pod.Spec.Containers[0].Image = shell
	pod.Spec.Containers[0].ImagePullPolicy = v1.PullNever
	// Busy for 3 s, then the container's own CPU counter, in ns (cgroup
	// v1, or v2's usage_usec).
	pod.Spec.Containers[0].Command = []string{"sh", "-c", `timeout 3 sh -c 'while :; do :; done'
		echo cpu_ns=$(cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null || awk '$1 == "usage_usec" { printf "%d\n", $2 * 1000 }' /sys/fs/cgroup/cpu.stat)`}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/"+ns+"/pods", env.AdminToken, pod), http.StatusCreated)
	eventually(t, 60*time.Second, "pod succeeded", func() (bool, string) {
		p, _ := getPod(t, env, ns, "burn")
		if p == nil {
			return false, "no pod"
		}
		return p.Status.Phase == v1.PodSucceeded, string(p.Status.Phase)
	})
	p, _ := getPod(t, env, ns, "burn")
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "docker://")
	inspect, err := cli.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	started, err1 := time.Parse(time.RFC3339Nano, inspect.State.StartedAt)
	finished, err2 := time.Parse(time.RFC3339Nano, inspect.State.FinishedAt)
	if err1 != nil || err2 != nil {
		t.Fatalf("started %q, finished %q", inspect.State.StartedAt, inspect.State.FinishedAt)
	}
	resp := env.Do(t, "GET", "/api/v1/namespaces/"+ns+"/pods/burn/log", env.AdminToken, nil)
	// The shell also says "Terminated", on stderr, in either order.
	_, rest, _ := strings.Cut(string(resp.Body), "cpu_ns=")
	line, _, _ := strings.Cut(rest, "\n")
	counted, err := strconv.ParseUint(line, 10, 64)
	if err != nil || counted < 5e8 {
		t.Fatalf("the container's CPU counter: %q (%v), want at least 0.5 s", resp.Body, err)
	}

	var app []storedWindow
	eventually(t, 30*time.Second, "the exited container's usage stored", func() (bool, string) {
		app = app[:0]
		for _, w := range storedWindows(t, env, "burn") {
			if w.container == "app" {
				app = append(app, w)
			}
		}
		return len(app) > 0, "no window of app"
	})
	if len(app) != 1 {
		t.Fatalf("%d windows of app, want one: %+v", len(app), app)
	}
	w, cpu := app[0], float64(counted)/1e9
	if d := w.start.Sub(started); d.Abs() > time.Microsecond {
		t.Errorf("the window starts at %s, the container started at %s", w.start, started)
	}
	if d := w.end.Sub(finished); d.Abs() > time.Microsecond {
		t.Errorf("the window ends at %s, the container finished at %s", w.end, finished)
	}
	if math.Abs(w.cpu-cpu) > 0.05*cpu || w.cpu < cpu {
		t.Errorf("stored %.6f CPU s; the container's cgroup counted %.6f as it ended", w.cpu, cpu)
	}
	t.Logf("window %s – %s: %.6f CPU s stored, %.6f counted by the container", w.start, w.end, w.cpu, cpu)

	// Recorded, the exited instance's cgroup is gone; the infra's runs.
	for _, dir := range podCgroups(t, string(p.UID)) {
		insts, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, inst := range insts {
			if fi, err := os.Stat(inst); err != nil || !fi.IsDir() {
				continue
			}
			if live, _ := filepath.Glob(filepath.Join(inst, "*", "cgroup.procs")); len(live) == 0 {
				t.Errorf("cgroup %s of an exited container is left after its usage was recorded", inst)
			}
		}
	}
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/"+ns+"/pods/burn", env.AdminToken, nil), http.StatusOK)
	eventually(t, 30*time.Second, "pod removed", func() (bool, string) {
		_, code := getPod(t, env, ns, "burn")
		return code == http.StatusNotFound, http.StatusText(code)
	})
	if left := podCgroups(t, string(p.UID)); len(left) > 0 {
		t.Errorf("cgroups of the deleted pod are left: %v", left)
	}
}

// podCgroups finds a pod's cgroup directories in every hierarchy.
func podCgroups(t *testing.T, uid string) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"/sys/fs/cgroup/*/berth/*/" + uid, "/sys/fs/cgroup/berth/*/" + uid} {
		dirs, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dirs...)
	}
	return out
}
