package clientgo

import (
	"strings"
	"testing"

	"github.com/berthpaas/berth/backend/testenv"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
)

// Server-side apply through client-go's Apply(): it creates, records the
// manager in managedFields, merges a second manager's fields, refuses a
// conflicting one with a 409 naming the field and its manager, and lets
// Force take the field over.
func TestServerSideApply(t *testing.T) {
	env := testenv.Start(t)
	cs := clientset(t, env, env.AdminToken)
	ctx := t.Context()
	namespace(t, cs, "ssa")
	cms := cs.CoreV1().ReplicationControllers("ssa")
	rc := func(replicas int32, image string) *corev1ac.ReplicationControllerApplyConfiguration {
		return corev1ac.ReplicationController("web", "ssa").
			WithSpec(corev1ac.ReplicationControllerSpec().
				WithReplicas(replicas).
				WithSelector(map[string]string{"app": "web"}).
				WithTemplate(corev1ac.PodTemplateSpec().
					WithLabels(map[string]string{"app": "web"}).
					WithSpec(corev1ac.PodSpec().WithContainers(corev1ac.Container().WithName("web").WithImage(image)))))
	}
	created, err := cms.Apply(ctx, rc(2, "registry.example/web:1"), metav1.ApplyOptions{FieldManager: "deployer"})
	if err != nil {
		t.Fatalf("apply (create): %v", err)
	}
	if len(created.ManagedFields) != 1 || created.ManagedFields[0].Manager != "deployer" || created.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Fatalf("managedFields after apply: %+v", created.ManagedFields)
	}
	// Another manager owns only what it applies: labels.
	labels := corev1ac.ReplicationController("web", "ssa").WithLabels(map[string]string{"team": "blue"})
	merged, err := cms.Apply(ctx, labels, metav1.ApplyOptions{FieldManager: "labeller"})
	if err != nil {
		t.Fatalf("apply (second manager): %v", err)
	}
	if merged.Labels["team"] != "blue" || *merged.Spec.Replicas != 2 {
		t.Fatalf("merged: labels %v replicas %d", merged.Labels, *merged.Spec.Replicas)
	}
	// A third manager that sets replicas conflicts with the deployer.
	_, err = cms.Apply(ctx, corev1ac.ReplicationController("web", "ssa").WithSpec(corev1ac.ReplicationControllerSpec().WithReplicas(5)),
		metav1.ApplyOptions{FieldManager: "autoscaler"})
	if !apierrors.IsConflict(err) {
		t.Fatalf("conflicting apply: %v, want a conflict", err)
	}
	status, ok := err.(apierrors.APIStatus)
	if !ok || status.Status().Details == nil || len(status.Status().Details.Causes) == 0 ||
		status.Status().Details.Causes[0].Field != ".spec.replicas" {
		t.Fatalf("the conflict does not name .spec.replicas: %v", err)
	}
	if want := `conflict with "deployer"`; !strings.Contains(err.Error(), want) {
		t.Fatalf("the conflict does not name its manager: %v", err)
	}
	forced, err := cms.Apply(ctx, corev1ac.ReplicationController("web", "ssa").WithSpec(corev1ac.ReplicationControllerSpec().WithReplicas(5)),
		metav1.ApplyOptions{FieldManager: "autoscaler", Force: true})
	if err != nil || *forced.Spec.Replicas != 5 {
		t.Fatalf("forced apply: %v", err)
	}
	// An ordinary update is recorded too, under its manager.
	forced.Annotations = map[string]string{"note": "by hand"}
	updated, err := cms.Update(ctx, forced, metav1.UpdateOptions{FieldManager: "hand"})
	if err != nil {
		t.Fatal(err)
	}
	managers := map[string]metav1.ManagedFieldsOperationType{}
	for _, e := range updated.ManagedFields {
		managers[e.Manager] = e.Operation
	}
	if managers["hand"] != metav1.ManagedFieldsOperationUpdate || managers["autoscaler"] != metav1.ManagedFieldsOperationApply {
		t.Fatalf("managers: %v", managers)
	}
}
