// Package controllertest helps the integration tests of the scheduler and
// the controllers: it reaches a real master's storage through the same
// registries the API serves, and builds nodes and pods.
package controllertest

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/auth"

	"github.com/berthpaas/berth/backend/registry/core"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// Cluster is a running master seen through its registries.
type Cluster struct {
	Env        *testenv.Env
	Store      *storage.Store
	Registries *core.Registries
	Namespaces *generic.Registry
	Nodes      *generic.Registry
	Pods       *generic.Registry
	RCs        *generic.Registry
	Events     *generic.Registry
}

// Start runs a master for the test (see testenv.Start).
func Start(t *testing.T) *Cluster {
	t.Helper()
	env := testenv.Start(t)
	store := storage.New(env.Etcd, storage.Options{})
	regs := core.NewRegistries(store, core.Config{})
	return &Cluster{
		Env: env, Store: store, Registries: regs,
		Namespaces: regs.Namespaces, Nodes: regs.Nodes, Pods: regs.Pods,
		RCs: regs.ReplicationControllers, Events: regs.Events,
	}
}

// Ctx is the test's context, writing as a cluster admin (the tests set
// the stage as an admin would; the controllers under test write as
// themselves).
func Ctx(t *testing.T) context.Context {
	return auth.WithIdentity(t.Context(), auth.Identity{Name: "admin", ClusterAdmin: true})
}

// Logger logs to the test at level Info.
func Logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// Namespace creates a namespace.
func (c *Cluster) Namespace(t *testing.T, name string) {
	t.Helper()
	if _, err := c.Namespaces.Create(Ctx(t), "", &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %q: %v", name, err)
	}
}

// Node builds a node offering cpu and memory, Ready with a heartbeat now.
func Node(name, cpu, memory string) *v1.Node {
	now := metav1.Now()
	res := v1.ResourceList{
		v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse(memory),
		v1.ResourcePods: resource.MustParse("110"),
	}
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: v1.NodeStatus{
			Capacity: res, Allocatable: res.DeepCopy(),
			Conditions: []v1.NodeCondition{{
				Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady", Message: "berth node agent is posting ready status",
				LastHeartbeatTime: now, LastTransitionTime: now,
			}},
		},
	}
}

// NotReady marks a built node NotReady.
func NotReady(n *v1.Node) *v1.Node {
	n.Status.Conditions[0].Status = v1.ConditionFalse
	n.Status.Conditions[0].Reason = "KubeletNotReady"
	return n
}

// CreateNode stores a node as a node agent registers it.
func (c *Cluster) CreateNode(t *testing.T, n *v1.Node) *v1.Node {
	t.Helper()
	obj, err := c.Nodes.Create(Ctx(t), "", n, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create node %q: %v", n.Name, err)
	}
	return obj.(*v1.Node)
}

// Pod builds a pod requesting cpu and memory ("" for none).
func Pod(name, cpu, memory string) *v1.Pod {
	req := v1.ResourceList{}
	if cpu != "" {
		req[v1.ResourceCPU] = resource.MustParse(cpu)
	}
	if memory != "" {
		req[v1.ResourceMemory] = resource.MustParse(memory)
	}
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: v1.PodSpec{Containers: []v1.Container{{
			Name: "web", Image: "registry.example/web:1", Resources: v1.ResourceRequirements{Requests: req},
		}}},
	}
}

// CreatePod stores a pod in ns.
func (c *Cluster) CreatePod(t *testing.T, ns string, p *v1.Pod) *v1.Pod {
	t.Helper()
	obj, err := c.Pods.Create(Ctx(t), ns, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %q: %v", p.Name, err)
	}
	return obj.(*v1.Pod)
}

// GetPod reads a pod.
func (c *Cluster) GetPod(t *testing.T, ns, name string) *v1.Pod {
	t.Helper()
	obj, err := c.Pods.Get(t.Context(), ns, name)
	if err != nil {
		t.Fatalf("get pod %s/%s: %v", ns, name, err)
	}
	return obj.(*v1.Pod)
}

// ListPods lists the pods of ns.
func (c *Cluster) ListPods(t *testing.T, ns string) []v1.Pod {
	t.Helper()
	obj, err := c.Pods.List(t.Context(), ns, generic.ListOptions{})
	if err != nil {
		t.Fatalf("list pods: %v", err)
	}
	return obj.(*v1.PodList).Items
}

// EventsFor lists the events about the named object in ns, with reason
// (any when empty).
func (c *Cluster) EventsFor(t *testing.T, ns, name, reason string) []v1.Event {
	t.Helper()
	sel := fields.Set{"involvedObject.name": name}
	if reason != "" {
		sel["reason"] = reason
	}
	obj, err := c.Events.List(t.Context(), ns, generic.ListOptions{Fields: fields.SelectorFromSet(sel)})
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	return obj.(*v1.EventList).Items
}

// Eventually polls cond until it returns true, failing the test with its
// last message after timeout.
func Eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Describe is a short description of pods and their nodes for failures.
func Describe(pods []v1.Pod) string {
	s := ""
	for _, p := range pods {
		s += fmt.Sprintf("%s@%q ", p.Name, p.Spec.NodeName)
	}
	return s
}
