package scheduler_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/registry/core"

	"github.com/berthpaas/berth/backend/controller/controllertest"
	"github.com/berthpaas/berth/backend/leader"
	"github.com/berthpaas/berth/backend/registry/storage"
	"github.com/berthpaas/berth/backend/scheduler"
	clientv3 "go.etcd.io/etcd/client/v3"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// runScheduler runs a scheduler on the cluster's registries until the
// test ends.
func runScheduler(t *testing.T, regs *core.Registries) {
	t.Helper()
	s := scheduler.New(regs.Pods, regs.Nodes, regs.Events, controllertest.Logger(t))
	s.RetryInterval = 500 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func waitBound(t *testing.T, c *controllertest.Cluster, ns, name string) *v1.Pod {
	t.Helper()
	var pod *v1.Pod
	controllertest.Eventually(t, 10*time.Second, func() (bool, string) {
		pod = c.GetPod(t, ns, name)
		return pod.Spec.NodeName != "", "pod " + name + " not bound"
	})
	return pod
}

func TestBindsToTheNodeThatFits(t *testing.T) {
	c := controllertest.Start(t)
	c.Namespace(t, "demo")
	c.CreateNode(t, controllertest.Node("small", "1", "1Gi"))
	c.CreateNode(t, controllertest.Node("big", "4", "8Gi"))
	c.CreateNode(t, controllertest.NotReady(controllertest.Node("down", "16", "64Gi")))
	c.CreatePod(t, "demo", controllertest.Pod("web", "2", "2Gi"))
	runScheduler(t, c.Registries)

	pod := waitBound(t, c, "demo", "web")
	if pod.Spec.NodeName != "big" {
		t.Fatalf("bound to %q, want big", pod.Spec.NodeName)
	}
	var events []v1.Event
	controllertest.Eventually(t, 5*time.Second, func() (bool, string) {
		events = c.EventsFor(t, "demo", "web", "Scheduled")
		return len(events) == 1, fmt.Sprintf("%d Scheduled events", len(events))
	})
	e := events[0]
	if e.Type != v1.EventTypeNormal || e.Message != "Successfully assigned demo/web to big" ||
		e.Source.Component != "default-scheduler" || e.Count != 1 || e.FirstTimestamp.IsZero() || e.LastTimestamp.IsZero() {
		t.Errorf("event: %+v", e)
	}
	if e.InvolvedObject.Kind != "Pod" || e.InvolvedObject.Namespace != "demo" || e.InvolvedObject.Name != "web" || e.InvolvedObject.UID != pod.UID {
		t.Errorf("involvedObject: %+v", e.InvolvedObject)
	}
}

func TestFailedSchedulingCountsReasonsAndRetriesWhenNodesChange(t *testing.T) {
	c := controllertest.Start(t)
	c.Namespace(t, "demo")
	c.CreateNode(t, controllertest.Node("a", "4", "1Gi"))
	c.CreateNode(t, controllertest.Node("b", "4", "1Gi"))
	c.CreateNode(t, controllertest.NotReady(controllertest.Node("c", "4", "64Gi")))
	c.CreatePod(t, "demo", controllertest.Pod("hungry", "1", "4Gi"))
	runScheduler(t, c.Registries)

	const want = "0/3 nodes are available: 2 insufficient memory, 1 not ready."
	controllertest.Eventually(t, 10*time.Second, func() (bool, string) {
		events := c.EventsFor(t, "demo", "hungry", "FailedScheduling")
		if len(events) == 0 {
			return false, "no FailedScheduling event"
		}
		e := events[0]
		if e.Type != v1.EventTypeWarning || e.Message != want || e.Source.Component != "default-scheduler" {
			t.Fatalf("event: %+v", e)
		}
		// Retries fold into one event.
		return len(events) == 1 && e.Count >= 2, fmt.Sprintf("%d events, count %d", len(events), e.Count)
	})
	if got := c.GetPod(t, "demo", "hungry").Spec.NodeName; got != "" {
		t.Fatalf("bound to %q", got)
	}

	c.CreateNode(t, controllertest.Node("roomy", "4", "8Gi"))
	if pod := waitBound(t, c, "demo", "hungry"); pod.Spec.NodeName != "roomy" {
		t.Fatalf("bound to %q, want roomy", pod.Spec.NodeName)
	}
}

func TestSpreadsAControllersPods(t *testing.T) {
	c := controllertest.Start(t)
	c.Namespace(t, "demo")
	c.CreateNode(t, controllertest.Node("a", "4", "8Gi"))
	c.CreateNode(t, controllertest.Node("b", "4", "8Gi"))
	yes := true
	for i := range 4 {
		p := controllertest.Pod(fmt.Sprintf("web-%d", i), "100m", "128Mi")
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ReplicationController", Name: "web", UID: "rc-uid", Controller: &yes}}
		c.CreatePod(t, "demo", p)
	}
	runScheduler(t, c.Registries)

	perNode := map[string]int{}
	controllertest.Eventually(t, 10*time.Second, func() (bool, string) {
		clear(perNode)
		pods := c.ListPods(t, "demo")
		for _, p := range pods {
			if p.Spec.NodeName != "" {
				perNode[p.Spec.NodeName]++
			}
		}
		return perNode["a"]+perNode["b"] == 4, controllertest.Describe(pods)
	})
	if perNode["a"] != 2 || perNode["b"] != 2 {
		t.Fatalf("pods per node %v, want 2 and 2", perNode)
	}
}

// A pod being deleted is left alone.
func TestSkipsPodsBeingDeleted(t *testing.T) {
	c := controllertest.Start(t)
	c.Namespace(t, "demo")
	c.CreatePod(t, "demo", controllertest.Pod("leaving", "", ""))
	// Graceful deletion marks the pod; the raw store stands in for it here.
	err := c.Store.GuaranteedUpdate(t.Context(), storage.Key("pods", "demo", "leaving"), &v1.Pod{}, storage.UpdateOptions{}, func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*v1.Pod)
		now := metav1.Now()
		p.DeletionTimestamp = &now
		return p, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.CreatePod(t, "demo", controllertest.Pod("staying", "", ""))
	c.CreateNode(t, controllertest.Node("a", "4", "8Gi"))
	runScheduler(t, c.Registries)

	waitBound(t, c, "demo", "staying")
	// The scheduler works through its queue in order: once a pod created
	// now is bound, every pod queued before it has been considered.
	c.CreatePod(t, "demo", controllertest.Pod("later", "", ""))
	waitBound(t, c, "demo", "later")
	if got := c.GetPod(t, "demo", "leaving").Spec.NodeName; got != "" {
		t.Fatalf("a pod being deleted was bound to %q", got)
	}
}

func TestNoDoubleBindingUnderLeaderElection(t *testing.T) {
	c := controllertest.Start(t)
	c.Namespace(t, "demo")
	for _, n := range []string{"a", "b", "c"} {
		c.CreateNode(t, controllertest.Node(n, "8", "16Gi"))
	}
	const pods = 30
	for i := range pods {
		c.CreatePod(t, "demo", controllertest.Pod(fmt.Sprintf("p-%02d", i), "10m", "16Mi"))
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	clients := make([]*clientv3.Client, 2)
	var mu sync.Mutex
	var leaders []int
	for i := range clients {
		client := c.Env.NewEtcdClient(t)
		clients[i] = client
		wg.Go(func() {
			leader.Run(ctx, client, "scheduler-test", fmt.Sprint("master-", i), controllertest.Logger(t), func(ctx context.Context) {
				mu.Lock()
				leaders = append(leaders, i)
				mu.Unlock()
				regs := core.NewRegistries(storage.New(client, storage.Options{}), core.Config{})
				s := scheduler.New(regs.Pods, regs.Nodes, regs.Events, controllertest.Logger(t))
				s.Run(ctx)
			})
		})
	}
	// Crash the first leader as soon as it has bound something.
	controllertest.Eventually(t, 10*time.Second, func() (bool, string) {
		for _, p := range c.ListPods(t, "demo") {
			if p.Spec.NodeName != "" {
				return true, ""
			}
		}
		return false, "nothing bound"
	})
	mu.Lock()
	first := leaders[0]
	mu.Unlock()
	clients[first].Close()

	controllertest.Eventually(t, 30*time.Second, func() (bool, string) {
		bound := 0
		list := c.ListPods(t, "demo")
		for _, p := range list {
			if p.Spec.NodeName != "" {
				bound++
			}
		}
		return bound == pods, controllertest.Describe(list)
	})
	// The first leader may have bound everything before it crashed; the
	// second must still take over once the first one's session expires.
	controllertest.Eventually(t, 30*time.Second, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(leaders) >= 2 && leaders[1] != first, fmt.Sprintf("leaders %v: the second candidate did not take over", leaders)
	})
	// Each pod was bound once: at most one Scheduled event, counted once.
	// (A leader that dies between a bind and its event loses the event;
	// events are best effort, the binding is what counts.)
	for i := range pods {
		name := fmt.Sprintf("p-%02d", i)
		events := c.EventsFor(t, "demo", name, "Scheduled")
		if len(events) > 1 || (len(events) == 1 && events[0].Count != 1) {
			t.Errorf("pod %s bound more than once: %d Scheduled events: %+v", name, len(events), events)
		}
	}
}
