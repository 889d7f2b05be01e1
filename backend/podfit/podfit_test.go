package podfit_test

import (
	"testing"

	"github.com/berthpaas/berth/backend/podfit"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func container(requests, limits map[v1.ResourceName]string) v1.Container {
	list := func(m map[v1.ResourceName]string) v1.ResourceList {
		out := v1.ResourceList{}
		for k, v := range m {
			out[k] = resource.MustParse(v)
		}
		return out
	}
	return v1.Container{Resources: v1.ResourceRequirements{Requests: list(requests), Limits: list(limits)}}
}

func TestRequests(t *testing.T) {
	cpu, mem := v1.ResourceCPU, v1.ResourceMemory
	def := podfit.Resources{MilliCPU: 100, Memory: 200 << 20}
	tests := []struct {
		name       string
		containers []v1.Container
		init       []v1.Container
		def        podfit.Resources
		want       podfit.Resources
	}{
		{"nothing stated", []v1.Container{container(nil, nil)}, nil, podfit.Resources{}, podfit.Resources{}},
		{"nothing stated, scoring defaults", []v1.Container{container(nil, nil), container(nil, nil)}, nil, def, podfit.Resources{MilliCPU: 200, Memory: 400 << 20}},
		{"requests summed", []v1.Container{container(map[v1.ResourceName]string{cpu: "250m", mem: "64Mi"}, nil), container(map[v1.ResourceName]string{cpu: "1"}, nil)},
			nil, podfit.Resources{}, podfit.Resources{MilliCPU: 1250, Memory: 64 << 20}},
		{"a limit stands for a missing request", []v1.Container{container(nil, map[v1.ResourceName]string{cpu: "2", mem: "1Gi"})}, nil, def, podfit.Resources{MilliCPU: 2000, Memory: 1 << 30}},
		{"a larger init container counts", []v1.Container{container(map[v1.ResourceName]string{cpu: "100m"}, nil)},
			[]v1.Container{container(map[v1.ResourceName]string{cpu: "3"}, nil)}, podfit.Resources{}, podfit.Resources{MilliCPU: 3000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &v1.Pod{Spec: v1.PodSpec{Containers: tt.containers, InitContainers: tt.init}}
			if got := podfit.Requests(pod, tt.def); got != tt.want {
				t.Fatalf("Requests = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func portPod(ip string, proto v1.Protocol, port int32) *v1.Pod {
	return &v1.Pod{Spec: v1.PodSpec{Containers: []v1.Container{{Ports: []v1.ContainerPort{{ContainerPort: 80, HostPort: port, HostIP: ip, Protocol: proto}}}}}}
}

func TestPortsConflict(t *testing.T) {
	tests := []struct {
		name      string
		pod, held *v1.Pod
		want      bool
	}{
		{"same port", portPod("", "", 30080), portPod("", v1.ProtocolTCP, 30080), true},
		{"every address against one", portPod("0.0.0.0", "", 30080), portPod("10.0.0.1", "", 30080), true},
		{"IPv6 any address", portPod("::", "", 30080), portPod("10.0.0.1", "", 30080), true},
		{"two addresses", portPod("10.0.0.1", "", 30080), portPod("10.0.0.2", "", 30080), false},
		{"other protocol", portPod("", v1.ProtocolUDP, 30080), portPod("", "", 30080), false},
		{"other port", portPod("", "", 30080), portPod("", "", 30081), false},
		{"no host port", portPod("", "", 0), portPod("", "", 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := podfit.PortsConflict(tt.pod, []*v1.Pod{tt.held}); got != tt.want {
				t.Fatalf("PortsConflict = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestActive(t *testing.T) {
	pods := []*v1.Pod{{}, {}, {}}
	pods[0].UID, pods[1].Status.Phase, pods[2].Status.Phase = "self", v1.PodSucceeded, v1.PodRunning
	if got := podfit.Active(pods, "self"); len(got) != 1 || got[0] != pods[2] {
		t.Fatalf("Active = %v", got)
	}
}
