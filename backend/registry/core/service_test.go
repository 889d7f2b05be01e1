package core

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// validService returns a service that passes validation once defaulted.
func validService() *v1.Service {
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: v1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []v1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	ServiceStrategy{}.PrepareForCreate(svc)
	return svc
}

func TestServiceValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*v1.Service)
		want   []string
	}{
		{"valid", func(*v1.Service) {}, nil},
		{"name not a DNS-1035 label", func(s *v1.Service) { s.Name = "1web" }, []string{"metadata.name"}},
		{"missing namespace", func(s *v1.Service) { s.Namespace = "" }, []string{"metadata.namespace"}},
		{"no ports", func(s *v1.Service) { s.Spec.Ports = nil }, []string{"spec.ports"}},
		{"headless without ports", func(s *v1.Service) { s.Spec.Ports, s.Spec.ClusterIP = nil, v1.ClusterIPNone }, nil},
		{"external name without ports", func(s *v1.Service) {
			s.Spec = v1.ServiceSpec{Type: v1.ServiceTypeExternalName, ExternalName: "db.example.com", SessionAffinity: v1.ServiceAffinityNone}
		}, nil},
		{"external name missing", func(s *v1.Service) {
			s.Spec = v1.ServiceSpec{Type: v1.ServiceTypeExternalName, SessionAffinity: v1.ServiceAffinityNone}
		}, []string{"spec.externalName"}},
		{"port zero", func(s *v1.Service) { s.Spec.Ports[0].Port = 0 }, []string{"spec.ports[0].port"}},
		{"port too high", func(s *v1.Service) { s.Spec.Ports[0].Port = 65536 }, []string{"spec.ports[0].port"}},
		{"unnamed ports when several", func(s *v1.Service) {
			s.Spec.Ports = []v1.ServicePort{
				{Port: 80, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromInt32(80)},
				{Port: 443, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromInt32(443)},
			}
		}, []string{"spec.ports[0].name", "spec.ports[1].name"}},
		{"duplicate port name", func(s *v1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Name: "http", Port: 81, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromInt32(81)})
		}, []string{"spec.ports[1].name"}},
		{"bad protocol", func(s *v1.Service) { s.Spec.Ports[0].Protocol = "HTTP" }, []string{"spec.ports[0].protocol"}},
		{"bad target port name", func(s *v1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("not_a_name") }, []string{"spec.ports[0].targetPort"}},
		{"node port out of range", func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeNodePort
			s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyCluster
			s.Spec.Ports[0].NodePort = 8080
		}, []string{"spec.ports[0].nodePort"}},
		{"node port in range", func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeNodePort
			s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyCluster
			s.Spec.Ports[0].NodePort = 30080
		}, nil},
		{"node port on ClusterIP service", func(s *v1.Service) { s.Spec.Ports[0].NodePort = 30080 }, []string{"spec.ports[0].nodePort"}},
		{"invalid selector", func(s *v1.Service) { s.Spec.Selector["app"] = "not valid!" }, []string{"spec.selector"}},
		{"unsupported type", func(s *v1.Service) { s.Spec.Type = "Ingress" }, []string{"spec.type"}},
		{"invalid cluster IP", func(s *v1.Service) { s.Spec.ClusterIP = "10.0.0.300" }, []string{"spec.clusterIP"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := validService()
			tt.mutate(svc)
			assertPaths(t, ServiceStrategy{}.Validate(svc), tt.want...)
		})
	}
}

func TestServicePrepareForCreate(t *testing.T) {
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec:       v1.ServiceSpec{Ports: []v1.ServicePort{{Port: 80}}},
		Status:     v1.ServiceStatus{LoadBalancer: v1.LoadBalancerStatus{Ingress: []v1.LoadBalancerIngress{{IP: "1.2.3.4"}}}},
	}
	ServiceStrategy{}.PrepareForCreate(svc)
	if svc.Spec.Type != v1.ServiceTypeClusterIP || svc.Spec.SessionAffinity != v1.ServiceAffinityNone {
		t.Errorf("type, sessionAffinity = %s, %s; want ClusterIP, None", svc.Spec.Type, svc.Spec.SessionAffinity)
	}
	if p := svc.Spec.Ports[0]; p.Protocol != v1.ProtocolTCP || p.TargetPort != intstr.FromInt32(80) {
		t.Errorf("port = %+v, want protocol TCP and targetPort 80", p)
	}
	if len(svc.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("status = %+v, want it cleared", svc.Status)
	}
}

func TestServiceUpdate(t *testing.T) {
	stored := func() *v1.Service {
		svc := validService()
		svc.UID, svc.ResourceVersion = "uid-1", "3"
		svc.Spec.Type = v1.ServiceTypeNodePort
		svc.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyCluster
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "10.96.0.10", []string{"10.96.0.10"}
		svc.Spec.Ports[0].NodePort = 30080
		return svc
	}
	tests := []struct {
		name   string
		mutate func(*v1.Service)
		want   []string
	}{
		{"selector may change", func(s *v1.Service) { s.Spec.Selector = map[string]string{"app": "web2"} }, nil},
		{"cluster IP is immutable", func(s *v1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.11", []string{"10.96.0.11"}
		}, []string{"spec.clusterIP"}},
		{"omitted cluster IP and node port are kept", func(s *v1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil
			s.Spec.Ports[0].NodePort = 0
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := stored()
			svc := old.DeepCopy()
			tt.mutate(svc)
			ServiceStrategy{}.PrepareForUpdate(svc, old)
			assertPaths(t, ServiceStrategy{}.ValidateUpdate(svc, old), tt.want...)
			if tt.want == nil && (svc.Spec.ClusterIP != "10.96.0.10" || svc.Spec.Ports[0].NodePort != 30080) {
				t.Errorf("clusterIP, nodePort = %s, %d; want the allocated 10.96.0.10, 30080", svc.Spec.ClusterIP, svc.Spec.Ports[0].NodePort)
			}
		})
	}
}

func TestServiceStatusUpdate(t *testing.T) {
	old := validService()
	old.ResourceVersion = "3"
	svc := old.DeepCopy()
	svc.Spec.Selector = map[string]string{"app": "other"}
	svc.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "1.2.3.4"}}
	ServiceStrategy{}.PrepareForStatusUpdate(svc, old)
	if svc.Spec.Selector["app"] != "web" || len(svc.Status.LoadBalancer.Ingress) != 1 {
		t.Errorf("spec %v status %v: want old spec and new status", svc.Spec.Selector, svc.Status)
	}
}
