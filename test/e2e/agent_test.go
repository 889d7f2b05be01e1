package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	dockerclient "github.com/docker/docker/client"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/client"
)

// TestAgentsSpreadAndAdopt runs a master without a node of its own and two
// `berth node` agents on the same Docker engine: the scheduler spreads an
// RC's pods over both, and an agent killed with SIGKILL and restarted
// adopts its containers without starting any twice.
func TestAgentsSpreadAndAdopt(t *testing.T) {
	t.Parallel()
	c := startPodCluster(t, "e2e-agents", "--no-node")
	stateDir := t.TempDir()
	agents := map[string]*nodeProcess{}
	for _, name := range []string{"agent-a", "agent-b"} {
		agents[name] = startNode(t, c.url, nodeToken(t, c.env, name), name, filepath.Join(stateDir, name))
	}
	for name, n := range agents {
		c.waitNodeReady(name, time.Time{}, n)
	}

	rc := replicationController("spread", 4, c.echoPod("spread").Spec)
	if err := c.api.Create(t.Context(), client.ReplicationControllers, c.ns, rc, nil); err != nil {
		t.Fatalf("create RC: %v", err)
	}
	pods := c.waitPods("app=spread", 4, podStartTimeout)
	perNode := map[string][]v1.Pod{}
	for _, p := range pods {
		perNode[p.Spec.NodeName] = append(perNode[p.Spec.NodeName], p)
	}
	if len(perNode["agent-a"]) != 2 || len(perNode["agent-b"]) != 2 {
		t.Fatalf("RC pods per node: agent-a %d, agent-b %d, want 2 and 2", len(perNode["agent-a"]), len(perNode["agent-b"]))
	}
	for _, p := range pods {
		wantOwnContainers(t, c.docker, &p)
	}

	// kill -9 agent-a: its containers keep running; once restarted it
	// adopts them. From the kill on, Docker's event stream shows any
	// container of the namespace that stops, or starts twice.
	killedAt := time.Now()
	changes := watchContainers(t, c.docker, runtime.LabelPodNamespace+"="+c.ns, killedAt, lifecycleActions)
	agents["agent-a"].kill9()
	for _, p := range perNode["agent-a"] {
		wantOwnContainers(t, c.docker, &p)
	}
	agents["agent-a"].restart()
	ready := c.waitNodeReady("agent-a", killedAt, agents["agent-a"])
	// Two resyncs of the restarted agent, on its own clock: a duplicate
	// would exist by now.
	c.waitHeartbeats("agent-a", ready, heartbeatsFor(2), agents["agent-a"].out)
	after := c.waitPods("app=spread", 4, time.Minute)
	for _, p := range after {
		wantOwnContainers(t, c.docker, &p)
		before, ok := findPod(pods, p.Name)
		if !ok {
			t.Errorf("pod %s is new after the agent's restart: %s", p.Name, describePod(&p))
			continue
		}
		if got, want := p.Status.ContainerStatuses[0], before.Status.ContainerStatuses[0]; got.ContainerID != want.ContainerID || got.RestartCount != want.RestartCount {
			t.Errorf("pod %s container %s (restarts %d) became %s (restarts %d)", p.Name, want.ContainerID, want.RestartCount, got.ContainerID, got.RestartCount)
		}
	}
	changes.none(t)
}

// masterOutage is how long TestMasterOutage keeps the master away: longer
// than four heartbeat intervals, after which the agent counts its Ready
// condition as new when the master is back.
const masterOutage = 30 * time.Second

// TestMasterOutage stops the master for masterOutage under a running
// agent: the containers keep running meanwhile, and once the master is
// back on the same address and data dir the pods are unchanged.
func TestMasterOutage(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	c := startPodClusterAt(t, "e2e-outage", addr, "--no-node")
	agent := startNode(t, c.url, nodeToken(t, c.env, "steady"), "steady", filepath.Join(t.TempDir(), "steady"))
	c.waitNodeReady("steady", time.Time{}, agent)

	var before []*v1.Pod
	for i := range 2 {
		name := fmt.Sprintf("steady-%d", i)
		c.create(c.echoPod(name))
		before = append(before, c.waitPod(name, podStartTimeout, "running", isRunning))
	}

	c.up.terminate()
	down := time.Now()
	// Docker's event stream shows at once any container of the namespace
	// that stops or starts while the master is away; the test ends there.
	changes := watchContainers(t, c.docker, runtime.LabelPodNamespace+"="+c.ns, down, lifecycleActions)
	outage := time.NewTimer(masterOutage - time.Since(down))
	defer outage.Stop()
	select {
	case <-outage.C:
	case <-changes.changed:
	}
	changes.none(t)
	for _, p := range before {
		wantOwnContainers(t, c.docker, p)
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, p := range before {
		httpGet(t, p, "/during-outage")
	}

	back := time.Now()
	c.up = startUpArgs(t, c.up.dataDir, addr, "--no-node")
	c.connect()
	if c.url != "http://"+addr {
		t.Fatalf("the master came back on %s, want http://%s", c.url, addr)
	}
	c.waitNodeReady("steady", back, agent)
	for _, want := range before {
		got := c.waitPod(want.Name, 30*time.Second, "running", isRunning)
		wantOwnContainers(t, c.docker, got)
		g, w := got.Status.ContainerStatuses[0], want.Status.ContainerStatuses[0]
		if g.ContainerID != w.ContainerID || g.RestartCount != w.RestartCount || got.Status.PodIP != want.Status.PodIP {
			t.Errorf("pod %s: container %s restarts %d ip %s became %s restarts %d ip %s", want.Name,
				w.ContainerID, w.RestartCount, want.Status.PodIP, g.ContainerID, g.RestartCount, got.Status.PodIP)
		}
		httpGet(t, got, "/after-outage")
	}
}

// waitNodeReady waits until the node reports Ready with a heartbeat later
// than since, and returns the time of that heartbeat.
func (c *podCluster) waitNodeReady(name string, since time.Time, agent *nodeProcess) time.Time {
	c.t.Helper()
	var last v1.Node
	var beat time.Time
	ok := waitFor(time.Minute, func() bool {
		if err := c.api.Get(c.t.Context(), client.Nodes, "", name, &last); err != nil {
			return false
		}
		ready, network := false, true
		for _, cond := range last.Status.Conditions {
			switch cond.Type {
			case v1.NodeReady:
				beat = cond.LastHeartbeatTime.Time
				ready = cond.Status == v1.ConditionTrue && beat.After(since)
			case v1.NodeNetworkUnavailable:
				network = cond.Status == v1.ConditionFalse
			}
		}
		return ready && network
	})
	if !ok {
		c.t.Fatalf("node %q not Ready, with its pod network up, with a heartbeat after %v within a minute: %+v\nagent output:\n%s",
			name, since.Format(time.RFC3339), last.Status.Conditions, agent.out.String())
	}
	return beat
}

// waitPods waits until n pods match selector and all run, and returns them.
func (c *podCluster) waitPods(selector string, n int, timeout time.Duration) []v1.Pod {
	c.t.Helper()
	var list v1.PodList
	ok := waitFor(timeout, func() bool {
		list = v1.PodList{}
		if err := c.api.List(c.t.Context(), client.Pods, c.ns, client.ListOptions{LabelSelector: selector}, &list); err != nil {
			c.t.Fatalf("list pods: %v", err)
		}
		if len(list.Items) != n {
			return false
		}
		for i := range list.Items {
			if !isRunning(&list.Items[i]) {
				return false
			}
		}
		return true
	})
	if !ok {
		var states []string
		for i := range list.Items {
			states = append(states, list.Items[i].Name+": "+describePod(&list.Items[i]))
		}
		c.t.Fatalf("not %d running pods with %s within %v: %q", n, selector, timeout, states)
	}
	return list.Items
}

// wantOwnContainers checks that exactly one infra and one app container of
// the pod exist and run, the app container being the one the status names.
func wantOwnContainers(t *testing.T, cli *dockerclient.Client, pod *v1.Pod) {
	t.Helper()
	var infra, apps []container.Summary
	for _, ct := range podContainers(t, cli, string(pod.UID)) {
		if ct.Labels[runtime.LabelContainer] == runtime.InfraContainerName {
			infra = append(infra, ct)
		} else {
			apps = append(apps, ct)
		}
	}
	if len(infra) != 1 || len(apps) != 1 {
		t.Errorf("pod %s has %d infra and %d app containers, want one of each", pod.Name, len(infra), len(apps))
		return
	}
	for _, ct := range []container.Summary{infra[0], apps[0]} {
		if ct.State != container.StateRunning {
			t.Errorf("pod %s: container %v is %s, want running", pod.Name, ct.Names, ct.State)
		}
	}
	if want := pod.Status.ContainerStatuses[0].ContainerID; want != "docker://"+apps[0].ID {
		t.Errorf("pod %s: the status names container %s, Docker runs %s", pod.Name, want, apps[0].ID)
	}
}

func findPod(pods []v1.Pod, name string) (v1.Pod, bool) {
	for _, p := range pods {
		if p.Name == name {
			return p, true
		}
	}
	return v1.Pod{}, false
}

// replicationController keeps replicas pods of spec labelled app=name.
func replicationController(name string, replicas int32, spec v1.PodSpec) *v1.ReplicationController {
	labels := map[string]string{"app": name}
	return &v1.ReplicationController{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ReplicationController"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1.ReplicationControllerSpec{
			Replicas: &replicas,
			Selector: labels,
			Template: &v1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}
