package node

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func requesting(cpu, memory string, ports ...v1.ContainerPort) *v1.Pod {
	c := v1.Container{Name: "c", Resources: v1.ResourceRequirements{Requests: v1.ResourceList{}}, Ports: ports}
	if cpu != "" {
		c.Resources.Requests[v1.ResourceCPU] = resource.MustParse(cpu)
	}
	if memory != "" {
		c.Resources.Requests[v1.ResourceMemory] = resource.MustParse(memory)
	}
	return &v1.Pod{Spec: v1.PodSpec{Containers: []v1.Container{c}}}
}

func TestAdmit(t *testing.T) {
	allocatable := v1.ResourceList{
		v1.ResourceCPU:    resource.MustParse("2"),
		v1.ResourceMemory: resource.MustParse("1Gi"),
		v1.ResourcePods:   resource.MustParse("3"),
	}
	limitOnly := requesting("", "")
	limitOnly.Spec.Containers[0].Resources.Limits = v1.ResourceList{v1.ResourceCPU: resource.MustParse("1")}
	withInit := requesting("100m", "")
	withInit.Spec.InitContainers = []v1.Container{{Name: "init", Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("1500m")}}}}
	port := func(p int32, ip string, proto v1.Protocol) v1.ContainerPort {
		return v1.ContainerPort{ContainerPort: 80, HostPort: p, HostIP: ip, Protocol: proto}
	}
	tests := []struct {
		name        string
		pod         *v1.Pod
		admitted    []*v1.Pod
		reason, msg string
	}{
		{name: "fits", pod: requesting("500m", "256Mi"), admitted: []*v1.Pod{requesting("1", "512Mi")}},
		{name: "no requests fit anywhere", pod: requesting("", ""), admitted: []*v1.Pod{requesting("2", "1Gi")}},
		{name: "cpu", pod: requesting("500m", ""), admitted: []*v1.Pod{requesting("1800m", "")},
			reason: "OutOfcpu", msg: "Pod was rejected: Node didn't have enough resource: cpu, requested: 500, used: 1800, capacity: 2000"},
		{name: "memory", pod: requesting("", "600Mi"), admitted: []*v1.Pod{requesting("", "512Mi")},
			reason: "OutOfmemory", msg: "Pod was rejected: Node didn't have enough resource: memory, requested: 629145600, used: 536870912, capacity: 1073741824"},
		{name: "cpu is reported before memory", pod: requesting("3", "2Gi"), reason: "OutOfcpu",
			msg: "Pod was rejected: Node didn't have enough resource: cpu, requested: 3000, used: 0, capacity: 2000"},
		{name: "pods", pod: requesting("", ""), admitted: []*v1.Pod{requesting("", ""), requesting("", ""), requesting("", "")},
			reason: "OutOfpods", msg: "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 3, capacity: 3"},
		{name: "a limit counts as the request", pod: limitOnly, admitted: []*v1.Pod{requesting("1500m", "")}, reason: "OutOfcpu"},
		{name: "the largest init container counts", pod: withInit, admitted: []*v1.Pod{requesting("1", "")}, reason: "OutOfcpu"},
		{name: "host port taken", pod: requesting("", "", port(8080, "", "")), admitted: []*v1.Pod{requesting("", "", port(8080, "", v1.ProtocolTCP))},
			reason: "NodePorts", msg: "Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports"},
		{name: "host port on every address against one", pod: requesting("", "", port(8080, "0.0.0.0", "")), admitted: []*v1.Pod{requesting("", "", port(8080, "10.0.0.1", ""))},
			reason: "NodePorts"},
		{name: "host port on other addresses", pod: requesting("", "", port(8080, "10.0.0.2", "")), admitted: []*v1.Pod{requesting("", "", port(8080, "10.0.0.1", ""))}},
		{name: "host port of another protocol", pod: requesting("", "", port(53, "", v1.ProtocolUDP)), admitted: []*v1.Pod{requesting("", "", port(53, "", ""))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rej := admit(tt.pod, tt.admitted, allocatable)
			switch {
			case tt.reason == "" && rej != nil:
				t.Fatalf("rejected: %+v", rej)
			case tt.reason == "":
			case rej == nil:
				t.Fatalf("admitted, want %s", tt.reason)
			case rej.reason != tt.reason || (tt.msg != "" && rej.message != tt.msg):
				t.Errorf("rejection %+v, want %s %q", rej, tt.reason, tt.msg)
			}
		})
	}
}

func TestEmptyDirLimits(t *testing.T) {
	small := resource.MustParse("2Mi")
	pod := &v1.Pod{Spec: v1.PodSpec{Volumes: []v1.Volume{
		{Name: "sized", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{SizeLimit: &small}}},
		{Name: "default", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
		{Name: "host", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/srv"}}},
	}}}
	got := emptyDirLimits(pod, DefaultEmptyDirLimit)
	want := []volumeLimit{{volume: "sized", bytes: 2 << 20, text: "2Mi"}, {volume: "default", bytes: 1 << 30, text: "1Gi"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("limits %+v, want %+v", got, want)
	}
	if got := emptyDirLimits(pod, -1); len(got) != 1 || got[0].volume != "sized" {
		t.Errorf("without a default: %+v", got)
	}
}
