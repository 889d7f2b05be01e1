package core

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNamespaceValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*v1.Namespace)
		want   []string
	}{
		{"valid", func(*v1.Namespace) {}, nil},
		{"name not a DNS label", func(ns *v1.Namespace) { ns.Name = "shop.prod" }, []string{"metadata.name"}},
		{"missing name", func(ns *v1.Namespace) { ns.Name = "" }, []string{"metadata.name"}},
		{"namespace set on a cluster-scoped object", func(ns *v1.Namespace) { ns.Namespace = "default" }, []string{"metadata.namespace"}},
		{"invalid finalizer", func(ns *v1.Namespace) { ns.Spec.Finalizers = []v1.FinalizerName{"not valid!"} }, []string{"spec.finalizers[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
			NamespaceStrategy{}.PrepareForCreate(ns)
			tt.mutate(ns)
			assertPaths(t, NamespaceStrategy{}.Validate(ns), tt.want...)
		})
	}
}

func TestNamespaceLifecycle(t *testing.T) {
	ns := &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, Status: v1.NamespaceStatus{Phase: v1.NamespaceTerminating}}
	NamespaceStrategy{}.PrepareForCreate(ns)
	if ns.Status.Phase != v1.NamespaceActive {
		t.Fatalf("phase = %s, want Active", ns.Status.Phase)
	}
	ns.ResourceVersion = "2"

	update := ns.DeepCopy()
	update.Labels = map[string]string{"team": "a"}
	update.Status.Phase = v1.NamespaceTerminating
	NamespaceStrategy{}.PrepareForUpdate(update, ns)
	assertPaths(t, NamespaceStrategy{}.ValidateUpdate(update, ns))
	if update.Status.Phase != v1.NamespaceActive {
		t.Errorf("spec update changed phase to %s", update.Status.Phase)
	}

	status := ns.DeepCopy()
	status.Status.Phase = v1.NamespaceTerminating
	NamespaceStrategy{}.PrepareForStatusUpdate(status, ns)
	assertPaths(t, NamespaceStrategy{}.ValidateUpdate(status, ns))
	if status.Status.Phase != v1.NamespaceTerminating {
		t.Errorf("status update lost phase, got %s", status.Status.Phase)
	}

	status.Status.Phase = "Archived"
	assertPaths(t, NamespaceStrategy{}.ValidateUpdate(status, ns), "status.phase")

	if got := (NamespaceStrategy{}).Fields(ns)["metadata.name"]; got != "shop" {
		t.Errorf("Fields()[metadata.name] = %q", got)
	}
}
