package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
)

// cgroupCPUSeconds reads the CPU time a Docker container has used from its
// own cgroup (v1 cpuacct or v2 cpu.stat, cgroupfs or systemd driver).
func cgroupCPUSeconds(t *testing.T, id string) float64 {
	t.Helper()
	// Under the runtime's parent of the container's instance
	// (/berth/<scope>/<pod uid>/<instance>), or Docker's own.
	paths, _ := filepath.Glob("/sys/fs/cgroup/cpuacct/berth/*/*/*/" + id + "/cpuacct.usage")
	v2, _ := filepath.Glob("/sys/fs/cgroup/berth/*/*/*/" + id + "/cpu.stat")
	for _, path := range append(append(paths, v2...),
		"/sys/fs/cgroup/cpuacct/docker/"+id+"/cpuacct.usage",
		"/sys/fs/cgroup/cpu,cpuacct/docker/"+id+"/cpuacct.usage",
		"/sys/fs/cgroup/docker/"+id+"/cpu.stat",
		"/sys/fs/cgroup/system.slice/docker-"+id+".scope/cpu.stat",
	) {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if strings.HasSuffix(path, "cpuacct.usage") {
			ns, err := strconv.ParseFloat(strings.TrimSpace(string(data)), 64)
			if err != nil {
				t.Fatal(err)
			}
			return ns / 1e9
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				us, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatal(err)
				}
				return us / 1e6
			}
		}
	}
	t.Fatalf("no cgroup CPU counter for container %s", id)
	return 0
}

// A container that keeps a CPU busy is metered exactly through a SIGKILL
// of its agent and an outage of the master: the CPU seconds stored stay
// within one interval of the container's own cgroup counter (no gap, no
// double count); kubectl top pod and berth usage show it.
func TestUsageMetering(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	c := startPodClusterAt(t, "e2e-usage", addr, "--no-node")
	agent := startNode(t, c.url, nodeToken(t, c.env, "meter"), "meter", filepath.Join(t.TempDir(), "meter"), "--usage-interval", "1s")
	c.waitNodeReady("meter", time.Time{}, agent)
	busy := c.waitPod(c.create(c.shellPod("busy", v1.RestartPolicyAlways, "while :; do :; done")).Name, podStartTimeout, "running", isRunning)
	containerID := strings.TrimPrefix(busy.Status.ContainerStatuses[0].ContainerID, "docker://")
	from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)

	// stored is the CPU seconds of the pod's records and the end of its
	// newest window, read so that no window came in between.
	stored := func() (float64, time.Time) {
		for {
			before := newestWindow(t, c)
			var report berthv1.UsageReport
			resp := c.env.Do(t, "GET", "/apis/berth.dev/v1/namespaces/"+c.ns+"/usage?groupBy=pod&from="+from, c.env.AdminToken, nil)
			mustCode(t, resp, http.StatusOK)
			resp.JSON(t, &report)
			if after := newestWindow(t, c); after.Equal(before) {
				return report.Total.CPUCoreHours * 3600, after
			}
		}
	}
	// wantExact checks the stored CPU seconds against the cgroup counter
	// read before and after the newest window stored.
	wantExact := func(when string) {
		t.Helper()
		start := time.Now()
		low := cgroupCPUSeconds(t, containerID)
		var cpu float64
		var end time.Time
		if !waitFor(30*time.Second, func() bool { cpu, end = stored(); return end.After(start) }) {
			t.Fatalf("%s: no window stored after %s", when, start)
		}
		high := cgroupCPUSeconds(t, containerID)
		t.Logf("%s: stored %.2f CPU s; the cgroup counted %.2f to %.2f around the newest window's end", when, cpu, low, high)
		if cpu < low-1 || cpu > high+1 || cpu < 0.9*low || cpu > 1.1*high {
			t.Fatalf("%s: stored %.2f CPU s, the container's cgroup counted %.2f to %.2f", when, cpu, low, high)
		}
	}
	if !waitFor(time.Minute, func() bool { cpu, _ := stored(); return cpu > 5 }) {
		t.Fatal("no usage stored within a minute")
	}
	wantExact("running")

	// The agent is killed mid-run and comes back after a few intervals.
	agent.kill9()
	killed := time.Now()
	time.Sleep(3 * time.Second) // the outage the test is about
	agent.restart()
	c.waitNodeReady("meter", killed, agent)
	wantExact("after the agent's SIGKILL")

	// The master goes away for a few intervals: the windows wait on disk.
	c.up.terminate()
	time.Sleep(5 * time.Second) // the outage the test is about
	c.up = startUpArgs(t, c.up.dataDir, addr, "--no-node")
	c.connect()
	wantExact("after the master's outage")

	// kubectl top pod, as metrics-server would answer it.
	k := newKubectl(t, c.env, c.env.AdminToken)
	out, errOut, code := k.run("top", "pod", "-n", c.ns)
	if line, ok := lineWith(out, "busy"); code != 0 || !ok || !strings.Contains(line, "m ") || !strings.Contains(line, "Mi") {
		t.Fatalf("kubectl top pod: %d\n%s%s", code, out, errOut)
	}
	t.Logf("kubectl top pod:\n%s", out)

	// kubectl top node: the node's use, the busy container's CPU within
	// it, and the share of its capacity.
	out, errOut, code = k.run("top", "node", "meter")
	line, ok := lineWith(out, "meter")
	fields := strings.Fields(line)
	if code != 0 || !ok || len(fields) != 5 || !strings.HasSuffix(fields[1], "m") || !strings.HasSuffix(fields[2], "%") ||
		!strings.HasSuffix(fields[3], "Mi") || !strings.HasSuffix(fields[4], "%") {
		t.Fatalf("kubectl top node: %d\n%s%s", code, out, errOut)
	}
	if millicores, err := strconv.Atoi(strings.TrimSuffix(fields[1], "m")); err != nil || millicores < 100 {
		t.Fatalf("kubectl top node: %s CPU for a node running a busy loop\n%s", fields[1], out)
	}
	t.Logf("kubectl top node:\n%s", out)

	// berth usage: a CSV line for the pod with its CPU core-hours.
	cmd, stdout, stderr := berthCommand(t, t.Context(), "usage", "--server", c.url, "--token", c.env.AdminToken,
		"--project", c.ns, "--by", "pod", "-o", "csv", "--from", from)
	if err := cmd.Run(); err != nil {
		t.Fatalf("berth usage: %v\n%s", err, stderr.String())
	}
	line, ok = lineWith(stdout.String(), "busy,")
	if !ok {
		t.Fatalf("berth usage:\n%s", stdout.String())
	}
	if hours, err := strconv.ParseFloat(strings.Split(line, ",")[1], 64); err != nil || hours*3600 < 5 {
		t.Fatalf("berth usage: %q", line)
	}
}

// newestWindow is when the pod's newest stored window ended
// (metrics.k8s.io), zero while it has none.
func newestWindow(t *testing.T, c *podCluster) time.Time {
	t.Helper()
	resp := c.env.Do(t, "GET", fmt.Sprintf("/apis/metrics.k8s.io/v1beta1/namespaces/%s/pods/busy", c.ns), c.env.AdminToken, nil)
	if resp.Code == http.StatusNotFound {
		return time.Time{}
	}
	mustCode(t, resp, http.StatusOK)
	var m metricsv1beta1.PodMetrics
	resp.JSON(t, &m)
	return m.Timestamp.Time
}
