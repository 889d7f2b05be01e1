package controller_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/controller"
	"github.com/berthpaas/berth/backend/controller/controllertest"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// An RC's pods are created, then spread 2/2 over two equal nodes.
func TestRunAllSpreadsAReplicationControllersPods(t *testing.T) {
	c := controllertest.Start(t)
	c.Namespace(t, "demo")
	c.CreateNode(t, controllertest.Node("a", "4", "8Gi"))
	c.CreateNode(t, controllertest.Node("b", "4", "8Gi"))
	replicas := int32(4)
	_, err := c.RCs.Create(controllertest.Ctx(t), "demo", &v1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: v1.ReplicationControllerSpec{
			Replicas: &replicas,
			Template: &v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "web", Image: "registry.example/web:1"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { controller.RunAll(ctx, c.Registries, controllertest.Logger(t), controller.Options{}) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	perNode := map[string]int{}
	controllertest.Eventually(t, 20*time.Second, func() (bool, string) {
		clear(perNode)
		pods := c.ListPods(t, "demo")
		for _, p := range pods {
			if p.Spec.NodeName != "" {
				perNode[p.Spec.NodeName]++
			}
		}
		return len(pods) == 4 && perNode["a"]+perNode["b"] == 4, controllertest.Describe(pods)
	})
	if perNode["a"] != 2 || perNode["b"] != 2 {
		t.Fatalf("pods per node %v, want 2 and 2", perNode)
	}
	for _, p := range c.ListPods(t, "demo") {
		if n := len(c.EventsFor(t, "demo", p.Name, "Scheduled")); n != 1 {
			t.Errorf("pod %s: %d Scheduled events", p.Name, n)
		}
	}
}
