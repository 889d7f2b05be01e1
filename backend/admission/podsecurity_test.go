package admission_test

import (
	"errors"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/admission"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/generic"
)

func TestPodSecurity(t *testing.T) {
	yes := true
	pod := func(edit func(*v1.PodSpec)) *v1.Pod {
		p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: v1.PodSpec{
			InitContainers: []v1.Container{{Name: "init"}},
			Containers:     []v1.Container{{Name: "a"}, {Name: "b"}},
		}}
		edit(&p.Spec)
		return p
	}
	caps := func(add ...v1.Capability) *v1.SecurityContext {
		return &v1.SecurityContext{Capabilities: &v1.Capabilities{Add: add}}
	}
	tests := []struct {
		name string
		edit func(*v1.PodSpec)
		want string // the refusal; empty: admitted
	}{
		{"a plain pod", func(*v1.PodSpec) {}, ""},
		{"baseline capabilities", func(s *v1.PodSpec) { s.Containers[0].SecurityContext = caps("NET_BIND_SERVICE", "CAP_CHOWN") }, ""},
		{"privileged false", func(s *v1.PodSpec) {
			f := false
			s.Containers[0].SecurityContext = &v1.SecurityContext{Privileged: &f}
		}, ""},
		{"the host's network (kubectl debug node/…)", func(s *v1.PodSpec) { s.HostNetwork = true },
			`violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)`},
		{"all the host's namespaces", func(s *v1.PodSpec) { s.HostNetwork, s.HostPID, s.HostIPC = true, true, true },
			`violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true, hostPID=true, hostIPC=true)`},
		{"a privileged container", func(s *v1.PodSpec) { s.Containers[1].SecurityContext = &v1.SecurityContext{Privileged: &yes} },
			`violates PodSecurity "baseline:latest": privileged (container "b" must not set securityContext.privileged=true)`},
		{"a privileged init container and a container", func(s *v1.PodSpec) {
			s.InitContainers[0].SecurityContext = &v1.SecurityContext{Privileged: &yes}
			s.Containers[0].SecurityContext = &v1.SecurityContext{Privileged: &yes}
		}, `violates PodSecurity "baseline:latest": privileged (containers "init", "a" must not set securityContext.privileged=true)`},
		{"SYS_ADMIN", func(s *v1.PodSpec) { s.Containers[0].SecurityContext = caps("SYS_ADMIN", "CHOWN", "NET_ADMIN") },
			`violates PodSecurity "baseline:latest": non-default capabilities (container "a" must not include "SYS_ADMIN", "NET_ADMIN" in securityContext.capabilities.add)`},
		{"everything at once", func(s *v1.PodSpec) {
			s.HostPID = true
			s.Containers[0].SecurityContext = &v1.SecurityContext{Privileged: &yes, Capabilities: &v1.Capabilities{Add: []v1.Capability{"ALL"}}}
		}, `violates PodSecurity "baseline:latest": host namespaces (hostPID=true), privileged (container "a" must not set securityContext.privileged=true), non-default capabilities (container "a" must not include "ALL" in securityContext.capabilities.add)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pod(tt.edit)
			rc := &v1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "rc"}, Spec: v1.ReplicationControllerSpec{
				Template: &v1.PodTemplateSpec{Spec: p.Spec},
			}}
			// Nobody runs such a pod: not a tenant, not a cluster admin,
			// not a controller; not in a template either.
			for who, attrs := range map[string]*generic.Attributes{
				"tenant's pod":         {Operation: generic.Create, Resource: "pods", Object: p},
				"admin's pod update":   {Operation: generic.Update, Resource: "pods", Object: p, Old: pod(func(*v1.PodSpec) {})},
				"tenant's rc template": {Operation: generic.Create, Resource: "replicationcontrollers", Object: rc},
			} {
				ctx := as(tenant)
				if who == "admin's pod update" {
					ctx = as(admin)
				}
				err := admission.PodSecurity().Admit(ctx, attrs)
				if tt.want == "" {
					if err != nil {
						t.Errorf("%s: refused: %v", who, err)
					}
					continue
				}
				if !errors.Is(err, errdefs.ErrForbidden) || err.Error() != tt.want {
					t.Errorf("%s: err = %v\nwant %s", who, err, tt.want)
				}
			}
		})
	}
}
