package clientgo

import (
	"context"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

func namespace(t *testing.T, cs *kubernetes.Clientset, name string) {
	t.Helper()
	if _, err := cs.CoreV1().Namespaces().Create(t.Context(), &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Typed deletes on client-go's defaults (DeleteOptions as protobuf),
// DeleteCollection by label, and preconditions.
func TestDeletes(t *testing.T) {
	env := testenv.Start(t)
	cs := clientset(t, env, env.AdminToken)
	ctx := t.Context()
	namespace(t, cs, "del")
	pods := cs.CoreV1().Pods("del")
	for _, name := range []string{"a", "b", "c"} {
		p := testPod(name)
		if name == "c" {
			p.Labels["app"] = "other"
		}
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	a, err := pods.Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wrongUID := types.UID("not-" + string(a.UID))
	if err := pods.Delete(ctx, "a", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrongUID}}); !apierrors.IsConflict(err) {
		t.Fatalf("delete with a wrong uid: %v, want a conflict", err)
	}
	stale := "1"
	if err := pods.Delete(ctx, "a", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &stale}}); !apierrors.IsConflict(err) {
		t.Fatalf("delete with a stale resourceVersion: %v, want a conflict", err)
	}
	if err := pods.Delete(ctx, "a", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &a.UID}}); err != nil {
		t.Fatalf("typed delete: %v", err)
	}
	if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "app=web"}); err != nil {
		t.Fatalf("DeleteCollection: %v", err)
	}
	left, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Items) != 1 || left.Items[0].Name != "c" {
		t.Fatalf("left %v, want only c", left.Items)
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, "del", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("typed namespace delete: %v", err)
	}
}

func testRC(name string, replicas int32) *v1.ReplicationController {
	return &v1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1.ReplicationControllerSpec{
			Replicas: &replicas, Selector: map[string]string{"rc": name},
			Template: &v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"rc": name}},
				Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "web", Image: "registry.example/web:1"}}},
			},
		},
	}
}

// Deleting a replication controller with propagationPolicy Orphan keeps
// its pods (released); Foreground removes the pods first and the
// controller last; Background (kubectl's default) removes both.
func TestPropagationPolicies(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Controllers: true})
	cs := clientset(t, env, env.AdminToken)
	ctx := t.Context()
	namespace(t, cs, "gc")
	rcs, pods := cs.CoreV1().ReplicationControllers("gc"), cs.CoreV1().Pods("gc")
	podsOf := func(name string) []v1.Pod {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "rc=" + name})
		if err != nil {
			t.Fatal(err)
		}
		return list.Items
	}
	for _, name := range []string{"orphan", "foreground", "background"} {
		if _, err := rcs.Create(ctx, testRC(name, 2), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, name+"'s pods", func() bool { return len(podsOf(name)) == 2 })
	}
	policy := func(p metav1.DeletionPropagation) metav1.DeleteOptions {
		return metav1.DeleteOptions{PropagationPolicy: &p}
	}
	gone := func(name string) bool {
		_, err := rcs.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}

	if err := rcs.Delete(ctx, "orphan", policy(metav1.DeletePropagationOrphan)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the orphaning controller gone", func() bool { return gone("orphan") })
	kept := podsOf("orphan")
	if len(kept) != 2 {
		t.Fatalf("orphaned pods: %d, want 2", len(kept))
	}
	for _, p := range kept {
		if len(p.OwnerReferences) != 0 || p.DeletionTimestamp != nil {
			t.Fatalf("pod %s still owned or being deleted: %+v", p.Name, p.ObjectMeta)
		}
	}

	if err := rcs.Delete(ctx, "foreground", policy(metav1.DeletePropagationForeground)); err != nil {
		t.Fatal(err)
	}
	// Until its pods are gone the controller stays, being deleted.
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for !gone("foreground") {
		if len(podsOf("foreground")) == 0 {
			break
		}
		rc, err := rcs.Get(ctx, "foreground", metav1.GetOptions{})
		if err == nil && rc.DeletionTimestamp == nil {
			t.Fatal("a foreground-deleted controller is not marked while its pods remain")
		}
		if waitCtx.Err() != nil {
			t.Fatal("foreground deletion did not finish")
		}
		time.Sleep(20 * time.Millisecond)
	}
	eventually(t, 20*time.Second, "the foreground-deleted controller gone", func() bool { return gone("foreground") })
	if n := len(podsOf("foreground")); n != 0 {
		t.Fatalf("the controller went before its %d pods", n)
	}

	if err := rcs.Delete(ctx, "background", policy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the background-deleted controller and pods gone", func() bool {
		return gone("background") && len(podsOf("background")) == 0
	})
}
