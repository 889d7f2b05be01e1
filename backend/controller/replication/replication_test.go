package replication_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/controller/controllertest"
	"github.com/berthpaas/berth/backend/controller/replication"
	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func startManager(t *testing.T, c *controllertest.Cluster) {
	t.Helper()
	m := replication.New(c.RCs, c.Pods, c.Events, controllertest.Logger(t), replication.Options{ResyncPeriod: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { m.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func newRC(name string, replicas int32) *v1.ReplicationController {
	return &v1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1.ReplicationControllerSpec{
			Replicas: &replicas,
			Selector: map[string]string{"app": name},
			Template: &v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "web", Image: "registry.example/web:1"}}},
			},
		},
	}
}

func livePods(t *testing.T, c *controllertest.Cluster, ns string) []v1.Pod {
	var out []v1.Pod
	for _, p := range c.ListPods(t, ns) {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// waitPods waits until ns has n live pods and the controllers of ns have
// synced once more, and checks that they are still n: nothing overshoots.
func waitPods(t *testing.T, c *controllertest.Cluster, ns string, n int) []v1.Pod {
	t.Helper()
	var pods []v1.Pod
	controllertest.Eventually(t, 15*time.Second, func() (bool, string) {
		pods = livePods(t, c, ns)
		return len(pods) == n, fmt.Sprintf("%d pods, want %d: %s", len(pods), n, controllertest.Describe(pods))
	})
	obj, err := c.RCs.List(t.Context(), ns, generic.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range obj.(*v1.ReplicationControllerList).Items {
		syncedAgain(t, c, ns, rc.Name)
	}
	if pods = livePods(t, c, ns); len(pods) != n {
		t.Fatalf("%d pods after the controllers synced again, want %d: %s", len(pods), n, controllertest.Describe(pods))
	}
	return pods
}

// syncedAgain changes the controller's spec in a way that makes no pod
// (an annotation of its template) and waits until its status reports the
// new generation as observed. The sync that reports it started after the
// change: it counted the pods after those the test saw, and made any
// extra pod before writing its status.
func syncedAgain(t *testing.T, c *controllertest.Cluster, ns, name string) {
	t.Helper()
	obj, err := c.RCs.Update(controllertest.Ctx(t), ns, name, generic.UpdateSpec, func(cur runtime.Object) (runtime.Object, error) {
		rc := cur.(*v1.ReplicationController)
		tmpl := &rc.Spec.Template.ObjectMeta
		n, _ := strconv.Atoi(tmpl.Annotations[syncMark])
		metav1.SetMetaDataAnnotation(tmpl, syncMark, strconv.Itoa(n+1))
		return rc, nil
	}, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gen := obj.(*v1.ReplicationController).Generation
	controllertest.Eventually(t, 15*time.Second, func() (bool, string) {
		st := getRC(t, c, ns, name).Status
		return st.ObservedGeneration >= gen, fmt.Sprintf("status %+v, want generation %d observed", st, gen)
	})
}

// syncMark is the template annotation syncedAgain changes.
const syncMark = "test.berth.dev/sync"

func scale(t *testing.T, c *controllertest.Cluster, ns, name string, replicas int32) {
	t.Helper()
	_, err := c.RCs.Update(controllertest.Ctx(t), ns, name, generic.UpdateSpec, func(cur runtime.Object) (runtime.Object, error) {
		rc := cur.(*v1.ReplicationController)
		rc.Spec.Replicas = &replicas
		return rc, nil
	}, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func getRC(t *testing.T, c *controllertest.Cluster, ns, name string) *v1.ReplicationController {
	t.Helper()
	obj, err := c.RCs.Get(t.Context(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*v1.ReplicationController)
}

func TestScalesReplacesAndCollects(t *testing.T) {
	c := controllertest.Start(t)
	c.Namespace(t, "demo")
	obj, err := c.RCs.Create(controllertest.Ctx(t), "demo", newRC("web", 3), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc := obj.(*v1.ReplicationController)
	startManager(t, c)

	pods := waitPods(t, c, "demo", 3)
	for _, p := range pods {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.Kind != "ReplicationController" || ref.APIVersion != "v1" || ref.Name != "web" || ref.UID != rc.UID ||
			ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Errorf("pod %s owner: %+v", p.Name, p.OwnerReferences)
		}
		if p.GenerateName != "web-" || p.Labels["app"] != "web" || p.Namespace != "demo" {
			t.Errorf("pod %s: generateName %q labels %v", p.Name, p.GenerateName, p.Labels)
		}
	}
	controllertest.Eventually(t, 5*time.Second, func() (bool, string) {
		rc := getRC(t, c, "demo", "web")
		return rc.Status.Replicas == 3 && rc.Status.ObservedGeneration == rc.Generation, fmt.Sprintf("status %+v", rc.Status)
	})

	scale(t, c, "demo", "web", 5)
	waitPods(t, c, "demo", 5)
	controllertest.Eventually(t, 5*time.Second, func() (bool, string) {
		rc := getRC(t, c, "demo", "web")
		return rc.Status.Replicas == 5 && rc.Status.ObservedGeneration == rc.Generation, fmt.Sprintf("status %+v", rc.Status)
	})

	// Mark one pod bound and ready: scaling down keeps it.
	pods = livePods(t, c, "demo")
	keeper := pods[0].Name
	if _, err := c.Pods.Update(controllertest.Ctx(t), "demo", keeper, generic.UpdateSpec, func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*v1.Pod)
		p.Spec.NodeName = "n1"
		return p, nil
	}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pods.Update(controllertest.Ctx(t), "demo", keeper, generic.UpdateStatus, func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*v1.Pod)
		p.Status.Phase = v1.PodRunning
		p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: metav1.Now()}}
		return p, nil
	}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 5*time.Second, func() (bool, string) {
		st := getRC(t, c, "demo", "web").Status
		return st.ReadyReplicas == 1 && st.AvailableReplicas == 1, fmt.Sprintf("status %+v", st)
	})

	scale(t, c, "demo", "web", 1)
	pods = waitPods(t, c, "demo", 1)
	if pods[0].Name != keeper {
		t.Errorf("scale down kept %s, want the bound ready %s", pods[0].Name, keeper)
	}

	// A deleted pod is replaced.
	if _, err := c.Pods.Delete(controllertest.Ctx(t), "demo", keeper, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pods = waitPods(t, c, "demo", 1)
	if pods[0].Name == keeper {
		t.Fatal("deleted pod still there")
	}

	// An orphan that matches is adopted; of the two, the unbound pod goes.
	orphan := controllertest.Pod("orphan", "", "")
	orphan.Labels = map[string]string{"app": "web"}
	orphan.Spec.NodeName = "n1"
	c.CreatePod(t, "demo", orphan)
	pods = waitPods(t, c, "demo", 1)
	if pods[0].Name != "orphan" {
		t.Fatalf("kept %s, want the bound orphan", pods[0].Name)
	}
	if ref := metav1.GetControllerOf(&pods[0]); ref == nil || ref.UID != rc.UID {
		t.Fatalf("orphan not adopted: owners %+v", pods[0].OwnerReferences)
	}

	// Deleting the controller deletes its pods.
	if _, err := c.RCs.Delete(controllertest.Ctx(t), "demo", "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPods(t, c, "demo", 0)
	if events := c.EventsFor(t, "demo", "web", "SuccessfulCreate"); len(events) == 0 {
		t.Error("no SuccessfulCreate events")
	}
}
