package core

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// validRC returns a replication controller that passes validation once
// defaulted.
func validRC() *v1.ReplicationController {
	rc := &v1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: v1.ReplicationControllerSpec{
			Replicas: ptr(int32(3)),
			Template: &v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "web", Image: "echo:1.0"}}},
			},
		},
	}
	ReplicationControllerStrategy{}.PrepareForCreate(rc)
	return rc
}

func TestReplicationControllerValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*v1.ReplicationController)
		want   []string
	}{
		{"valid", func(*v1.ReplicationController) {}, nil},
		{"bad name", func(rc *v1.ReplicationController) { rc.Name = "Web" }, []string{"metadata.name"}},
		{"negative replicas", func(rc *v1.ReplicationController) { rc.Spec.Replicas = ptr(int32(-1)) }, []string{"spec.replicas"}},
		{"empty selector", func(rc *v1.ReplicationController) { rc.Spec.Selector = nil }, []string{"spec.selector"}},
		{"selector does not match template", func(rc *v1.ReplicationController) {
			rc.Spec.Selector = map[string]string{"app": "api"}
		}, []string{"spec.template.metadata.labels"}},
		{"no template", func(rc *v1.ReplicationController) { rc.Spec.Template = nil }, []string{"spec.template"}},
		{"template restart policy not Always", func(rc *v1.ReplicationController) {
			rc.Spec.Template.Spec.RestartPolicy = v1.RestartPolicyOnFailure
		}, []string{"spec.template.spec.restartPolicy"}},
		{"template container without image", func(rc *v1.ReplicationController) {
			rc.Spec.Template.Spec.Containers[0].Image = ""
		}, []string{"spec.template.spec.containers[0].image"}},
		{"template container port", func(rc *v1.ReplicationController) {
			rc.Spec.Template.Spec.Containers[0].Ports = []v1.ContainerPort{{ContainerPort: 0, Protocol: v1.ProtocolTCP}}
		}, []string{"spec.template.spec.containers[0].ports[0].containerPort"}},
		{"template active deadline", func(rc *v1.ReplicationController) {
			rc.Spec.Template.Spec.ActiveDeadlineSeconds = ptr(int64(10))
		}, []string{"spec.template.spec.activeDeadlineSeconds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := validRC()
			tt.mutate(rc)
			assertPaths(t, ReplicationControllerStrategy{}.Validate(rc), tt.want...)
		})
	}
}

func TestReplicationControllerPrepareForCreate(t *testing.T) {
	rc := validRC()
	if *rc.Spec.Replicas != 3 {
		t.Errorf("replicas = %d, want the 3 asked for", *rc.Spec.Replicas)
	}
	if rc.Spec.Selector["app"] != "web" || rc.Labels["app"] != "web" {
		t.Errorf("selector %v labels %v, want the template's", rc.Spec.Selector, rc.Labels)
	}
	if rc.Generation != 1 {
		t.Errorf("generation = %d, want 1", rc.Generation)
	}
	if c := rc.Spec.Template.Spec.Containers[0]; c.ImagePullPolicy != v1.PullIfNotPresent || rc.Spec.Template.Spec.RestartPolicy != v1.RestartPolicyAlways {
		t.Errorf("template spec not defaulted: %+v", rc.Spec.Template.Spec)
	}

	bare := &v1.ReplicationController{Spec: v1.ReplicationControllerSpec{Template: &v1.PodTemplateSpec{}}}
	ReplicationControllerStrategy{}.PrepareForCreate(bare)
	if bare.Spec.Replicas == nil || *bare.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want default 1", bare.Spec.Replicas)
	}
}

func TestReplicationControllerUpdate(t *testing.T) {
	stored := func() *v1.ReplicationController {
		rc := validRC()
		rc.ResourceVersion = "5"
		rc.Generation = 4
		rc.Status = v1.ReplicationControllerStatus{Replicas: 3, ReadyReplicas: 3, ObservedGeneration: 4}
		return rc
	}
	tests := []struct {
		name           string
		mutate         func(*v1.ReplicationController)
		wantGeneration int64
		want           []string
	}{
		{"scale bumps generation", func(rc *v1.ReplicationController) { rc.Spec.Replicas = ptr(int32(5)) }, 5, nil},
		{"new image bumps generation", func(rc *v1.ReplicationController) {
			rc.Spec.Template.Spec.Containers[0].Image = "echo:2.0"
		}, 5, nil},
		{"label change keeps generation", func(rc *v1.ReplicationController) { rc.Labels["tier"] = "front" }, 4, nil},
		{"undefaulted resend keeps generation", func(rc *v1.ReplicationController) {
			rc.Spec.Template.Spec.DNSPolicy = ""
			rc.Spec.Template.Spec.Containers[0].TerminationMessagePath = ""
		}, 4, nil},
		{"client cannot set generation", func(rc *v1.ReplicationController) { rc.Generation = 1 }, 4, nil},
		{"negative replicas", func(rc *v1.ReplicationController) { rc.Spec.Replicas = ptr(int32(-2)) }, 5, []string{"spec.replicas"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := stored()
			rc := old.DeepCopy()
			rc.Status = v1.ReplicationControllerStatus{}
			tt.mutate(rc)
			ReplicationControllerStrategy{}.PrepareForUpdate(rc, old)
			assertPaths(t, ReplicationControllerStrategy{}.ValidateUpdate(rc, old), tt.want...)
			if rc.Generation != tt.wantGeneration {
				t.Errorf("generation = %d, want %d", rc.Generation, tt.wantGeneration)
			}
			if rc.Status.Replicas != 3 || rc.Status.ObservedGeneration != 4 {
				t.Errorf("status = %+v, want the old status", rc.Status)
			}
		})
	}
}

func TestReplicationControllerStatusUpdate(t *testing.T) {
	old := validRC()
	old.ResourceVersion = "5"
	rc := old.DeepCopy()
	rc.Spec.Replicas = ptr(int32(10))
	rc.Status = v1.ReplicationControllerStatus{Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, ObservedGeneration: 1}
	ReplicationControllerStrategy{}.PrepareForStatusUpdate(rc, old)
	assertPaths(t, ReplicationControllerStrategy{}.ValidateUpdate(rc, old))
	if *rc.Spec.Replicas != 3 || rc.Generation != 1 {
		t.Errorf("replicas %d generation %d, want old spec and generation", *rc.Spec.Replicas, rc.Generation)
	}
	if rc.Status.ReadyReplicas != 2 {
		t.Errorf("status = %+v, want the new status", rc.Status)
	}

	rc.Status.ReadyReplicas = 4
	assertPaths(t, ReplicationControllerStrategy{}.ValidateUpdate(rc, old), "status.readyReplicas")
}
