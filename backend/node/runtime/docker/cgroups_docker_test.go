package docker_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	v1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/docker"
)

// cgroupDirs finds what matches rel (a glob below /berth) in every cgroup
// hierarchy.
func cgroupDirs(t *testing.T, rel string) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"/sys/fs/cgroup/*/berth/" + rel, "/sys/fs/cgroup/berth/" + rel} {
		dirs, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dirs...)
	}
	return out
}

// testFinished: a container that exits on its own leaves its final
// counters in the parent cgroup the runtime gave it; Finished reports
// them with its start and end, until ReleaseFinished removes the parent.
// A runtime that starts removes the cgroups of pods and instances that
// have no container; KillPod removes the pod's, and Close the runtime's
// own once it has no pod.
func testFinished(t *testing.T, e *env) {
	ctx := t.Context()
	info, err := e.cli.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.CgroupDriver != "cgroupfs" {
		t.Skipf("the engine's cgroup driver is %q: the runtime keeps the counters of exited containers only under cgroupfs", info.CgroupDriver)
	}
	opts := e.opts
	opts.StateDir = t.TempDir()
	rt, err := docker.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			rt.Close()
		}
	})
	pod := e.pod("finished", v1.RestartPolicyNever, e.shellCmd("burn", `timeout 1 sh -c 'while :; do :; done'; true`))
	uid := string(pod.UID)
	st := syncUntil(t, rt, pod, 30*time.Second, "burn exited", func(s runtime.PodStatus) bool {
		return len(s.Containers) == 1 && s.Containers[0].State == runtime.StateExited
	})
	id := st.Containers[0].ID

	done, err := rt.Finished(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[0].ID != id || done[0].PodUID != uid || done[0].Container != "burn" {
		t.Fatalf("finished = %+v, want the one of container %s", done, id)
	}
	inspect, err := e.cli.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	f := done[0]
	if f.StartedAt.Format(time.RFC3339Nano) != inspect.State.StartedAt || f.FinishedAt.Format(time.RFC3339Nano) != inspect.State.FinishedAt {
		t.Errorf("finished from %s to %s; the engine says %s to %s", f.StartedAt, f.FinishedAt, inspect.State.StartedAt, inspect.State.FinishedAt)
	}
	if f.CPUNanos < 1e7 || f.MemoryPeakBytes <= 0 {
		t.Errorf("final counters: %d ns of CPU, memory peak %d", f.CPUNanos, f.MemoryPeakBytes)
	}
	if again, err := rt.Finished(ctx, uid); err != nil || len(again) != 1 || again[0].CPUNanos != f.CPUNanos {
		t.Errorf("finished again, before the release = %+v, %v", again, err)
	}
	if err := rt.ReleaseFinished(ctx, []string{id}); err != nil {
		t.Fatal(err)
	}
	if again, err := rt.Finished(ctx, uid); err != nil || len(again) != 0 {
		t.Errorf("finished after the release = %+v, %v", again, err)
	}
	insts := cgroupDirs(t, "*/"+uid+"/*-*")
	if len(insts) == 0 {
		t.Fatal("no cgroup left for the running infra container")
	}
	scope := filepath.Base(filepath.Dir(filepath.Dir(insts[0])))

	// Cgroups of a pod that is gone, and of a container removed behind
	// the runtime's back, go when a runtime starts.
	for _, dir := range cgroupDirs(t, scope) {
		if err := os.MkdirAll(filepath.Join(dir, "0123-gone", "abcdef-0"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pod2 := e.pod("removed", v1.RestartPolicyNever, e.shellCmd("quick", "true"))
	syncUntil(t, rt, pod2, 30*time.Second, "quick exited", func(s runtime.PodStatus) bool {
		return len(s.Containers) == 1 && s.Containers[0].State == runtime.StateExited
	})
	removed := syncUntil(t, rt, pod2, time.Second, "observed", func(runtime.PodStatus) bool { return true }).Containers[0].ID
	if err := e.cli.ContainerRemove(ctx, removed, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if n := len(cgroupDirs(t, scope+"/"+string(pod2.UID)+"/*-*")); n < 2 {
		t.Fatalf("%d instance cgroups of pod %s before the restart", n, pod2.UID)
	}
	restarted, err := docker.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restarted.Close() })
	if left := cgroupDirs(t, scope+"/0123-gone"); len(left) > 0 {
		t.Errorf("cgroups of a pod that is gone survive a restart: %v", left)
	}
	if left := cgroupDirs(t, scope+"/"+string(pod2.UID)+"/*-*"); len(left) != len(cgroupDirs(t, scope+"/"+uid+"/*-*")) {
		t.Errorf("the cgroups of pod %s after the restart: %v (only its infra's should be left, as for pod %s)", pod2.UID, left, uid)
	}

	for _, p := range []*v1.Pod{pod, pod2} {
		if err := rt.KillPod(ctx, string(p.UID), time.Second); err != nil {
			t.Fatal(err)
		}
		if left := cgroupDirs(t, scope+"/"+string(p.UID)); len(left) > 0 {
			t.Errorf("cgroups of killed pod %s: %v", p.Name, left)
		}
	}
	closed = true
	rt.Close()
	if left := cgroupDirs(t, scope); len(left) > 0 {
		t.Errorf("the runtime's cgroups after its last pod and Close: %v", left)
	}
}
