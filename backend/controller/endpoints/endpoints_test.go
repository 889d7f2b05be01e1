//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

package endpoints_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/berthpaas/berth/backend/controller/controllertest"
	"github.com/berthpaas/berth/backend/controller/endpoints"
	"github.com/berthpaas/berth/backend/registry/generic"
)

func start(t *testing.T, c *controllertest.Cluster) {
	t.Helper()
	regs := c.Registries
	ctrl := endpoints.New(regs.Services, regs.Pods, regs.Endpoints, regs.Events, controllertest.Logger(t), endpoints.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { ctrl.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// setStatus marks a pod running at ip on node, ready or not, as its
// node agent would.
func setStatus(t *testing.T, c *controllertest.Cluster, ns, name, ip string, ready bool) {
	t.Helper()
	status := v1.ConditionFalse
	if ready {
		status = v1.ConditionTrue
	}
	_, err := c.Pods.Update(controllertest.Ctx(t), ns, name, generic.UpdateStatus, func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*v1.Pod)
		p.Status.Phase, p.Status.PodIP = v1.PodRunning, ip
		p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: status}}
		return p, nil
	}, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("status of %s: %v", name, err)
	}
}

func getEndpoints(t *testing.T, c *controllertest.Cluster, ns, name string) (*v1.Endpoints, error) {
	obj, err := c.Registries.Endpoints.Get(t.Context(), ns, name)
	if err != nil {
		return nil, err
	}
	return obj.(*v1.Endpoints), nil
}

// addresses lists "ip" of ready and "ip?" of not-ready addresses.
func addresses(ep *v1.Endpoints) string {
	s := ""
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			s += a.IP + " "
		}
		for _, a := range ss.NotReadyAddresses {
			s += a.IP + "? "
		}
		for _, p := range ss.Ports {
			s += fmt.Sprintf(":%d ", p.Port)
		}
	}
	return s
}

// waitAddresses waits for the service's endpoints to read want, and
// returns how long that took.
func waitAddresses(t *testing.T, c *controllertest.Cluster, ns, name, want string) time.Duration {
	t.Helper()
	start := time.Now()
	controllertest.Eventually(t, 10*time.Second, func() (bool, string) {
		ep, err := getEndpoints(t, c, ns, name)
		if err != nil {
			return want == "gone", err.Error()
		}
		got := addresses(ep)
		return got == want, fmt.Sprintf("%q, want %q", got, want)
	})
	return time.Since(start)
}

// TestEndpointsFollowPods: the endpoints of a service list its pods as
// they become ready, not ready, and go, with the port a named targetPort
// resolves to; a service without selector keeps the endpoints an admin
// wrote; a service's deletion takes its endpoints.
func TestEndpointsFollowPods(t *testing.T) {
	c := controllertest.Start(t)
	c.Namespace(t, "demo")
	start(t, c)
	ctx := controllertest.Ctx(t)
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"tier": "front"}},
		Spec: v1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []v1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
		}},
	}
	if _, err := c.Registries.Services.Create(ctx, "demo", svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAddresses(t, c, "demo", "web", "")
	for i, name := range []string{"a", "b"} {
		p := controllertest.Pod(name, "", "")
		p.Spec.NodeName = "n1"
		p.Spec.Containers[0].Ports = []v1.ContainerPort{{Name: "http", ContainerPort: 8080}}
		c.CreatePod(t, "demo", p)
		setStatus(t, c, "demo", name, fmt.Sprintf("10.0.0.%d", i+1), true)
	}
	took := waitAddresses(t, c, "demo", "web", "10.0.0.1 10.0.0.2 :8080 ")
	t.Logf("two ready pods listed %v after the second one's status", took)

	setStatus(t, c, "demo", "b", "10.0.0.2", false)
	t.Logf("not ready shown after %v", waitAddresses(t, c, "demo", "web", "10.0.0.1 10.0.0.2? :8080 "))
	if _, err := c.Pods.Delete(ctx, "demo", "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("a pod being deleted left out after %v", waitAddresses(t, c, "demo", "web", "10.0.0.2? :8080 "))
	ep, _ := getEndpoints(t, c, "demo", "web")
	a := ep.Subsets[0].NotReadyAddresses[0]
	if a.NodeName == nil || *a.NodeName != "n1" || a.TargetRef == nil || a.TargetRef.Name != "b" || ep.Labels["tier"] != "front" {
		t.Errorf("endpoints %+v", ep)
	}

	manual := &v1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: v1.ServiceSpec{Ports: []v1.ServicePort{{Port: 5432}}}}
	if _, err := c.Registries.Services.Create(ctx, "demo", manual, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	written := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Subsets: []v1.EndpointSubset{{
		Addresses: []v1.EndpointAddress{{IP: "192.0.2.10"}}, Ports: []v1.EndpointPort{{Port: 5432}},
	}}}
	if _, err := c.Registries.Endpoints.Create(ctx, "demo", written, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Registries.Services.Delete(ctx, "demo", "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAddresses(t, c, "demo", "web", "gone")
	if ep, err := getEndpoints(t, c, "demo", "db"); err != nil || addresses(ep) != "192.0.2.10 :5432 " {
		t.Errorf("the endpoints of a service without selector: %v %v", ep, err)
	}
}

// Endpoints left by a service deleted while no controller ran go once
// one runs.
func TestLeftoverEndpoints(t *testing.T) {
	c := controllertest.Start(t)
	c.Namespace(t, "demo")
	left := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "gone"}}
	if _, err := c.Registries.Endpoints.Create(controllertest.Ctx(t), "demo", left, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start(t, c)
	waitAddresses(t, c, "demo", "gone", "gone")
}
