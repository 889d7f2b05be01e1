package nodelifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/controller/controllertest"
	"github.com/berthpaas/berth/backend/controller/nodelifecycle"
	"github.com/berthpaas/berth/backend/registry/storage"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func startController(t *testing.T, c *controllertest.Cluster, opts nodelifecycle.Options) {
	t.Helper()
	ctl := nodelifecycle.New(c.Nodes, c.Pods, c.Registries.Leases, c.Events, controllertest.Logger(t), opts)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { ctl.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func readyOf(n *v1.Node) v1.NodeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c
		}
	}
	return v1.NodeCondition{}
}

func podGone(t *testing.T, c *controllertest.Cluster, ns, name string) (bool, string) {
	_, err := c.Pods.Get(t.Context(), ns, name)
	if errors.Is(err, storage.ErrNotFound) {
		return true, ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return false, "pod " + name + " still there"
}

func boundPod(name, node string) *v1.Pod {
	p := controllertest.Pod(name, "", "")
	p.Spec.NodeName = node
	return p
}

func TestStaleNodeBecomesUnknownAndLosesItsPods(t *testing.T) {
	c := controllertest.Start(t)
	c.Namespace(t, "demo")
	fresh := c.CreateNode(t, controllertest.Node("fresh", "4", "8Gi"))
	stale := controllertest.Node("stale", "4", "8Gi")
	old := metav1.NewTime(time.Now().Add(-time.Minute))
	stale.Status.Conditions[0].LastHeartbeatTime = old
	stale.Status.Conditions[0].LastTransitionTime = old
	c.CreateNode(t, stale)
	c.CreatePod(t, "demo", boundPod("on-stale", "stale"))
	c.CreatePod(t, "demo", boundPod("on-fresh", "fresh"))
	startController(t, c, nodelifecycle.Options{GracePeriod: 20 * time.Second, EvictionTimeout: 2 * time.Second, MonitorPeriod: 200 * time.Millisecond})

	controllertest.Eventually(t, 5*time.Second, func() (bool, string) {
		obj, err := c.Nodes.Get(t.Context(), "", "stale")
		if err != nil {
			t.Fatal(err)
		}
		cond := readyOf(obj.(*v1.Node))
		return cond.Status == v1.ConditionUnknown && cond.Reason == "NodeStatusUnknown" &&
			cond.Message == "Kubelet stopped posting node status." && cond.LastHeartbeatTime.Unix() == old.Unix(), fmt.Sprintf("ready %+v", cond)
	})
	// Evicted once it has been Unknown for the eviction timeout.
	controllertest.Eventually(t, 10*time.Second, func() (bool, string) { return podGone(t, c, "demo", "on-stale") })

	obj, err := c.Nodes.Get(t.Context(), "", "fresh")
	if err != nil {
		t.Fatal(err)
	}
	if cond := readyOf(obj.(*v1.Node)); cond.Status != v1.ConditionTrue || obj.(*v1.Node).ResourceVersion != fresh.ResourceVersion {
		t.Errorf("fresh node touched: %+v", cond)
	}
	c.GetPod(t, "demo", "on-fresh")
}

func TestPodsOfDeletedNodesAreDeleted(t *testing.T) {
	c := controllertest.Start(t)
	c.Namespace(t, "demo")
	c.CreateNode(t, controllertest.Node("a", "4", "8Gi"))
	c.CreateNode(t, controllertest.Node("b", "4", "8Gi"))
	c.CreatePod(t, "demo", boundPod("on-a", "a"))
	c.CreatePod(t, "demo", boundPod("on-b", "b"))
	startController(t, c, nodelifecycle.Options{MonitorPeriod: 200 * time.Millisecond})

	if _, err := c.Nodes.Delete(controllertest.Ctx(t), "", "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 5*time.Second, func() (bool, string) { return podGone(t, c, "demo", "on-a") })
	// A pod of a node that never existed, created now, goes in a later
	// pass: once it is gone, the pass that deleted on-a has also decided
	// on on-b.
	c.CreatePod(t, "demo", boundPod("marker", "never-existed"))
	controllertest.Eventually(t, 5*time.Second, func() (bool, string) { return podGone(t, c, "demo", "marker") })
	c.GetPod(t, "demo", "on-b")
}
