// Package podfit says what a pod asks of a node — CPU, memory, host
// ports — and whether that fits beside the pods a node already runs. The
// scheduler places pods with it and the node agent admits them with it (a
// tenant may set spec.nodeName and skip the scheduler), so that both judge
// a pod alike, as Kubernetes' scheduler and kubelet share their
// predicates. Pure functions of API objects: no I/O.
package podfit

import (
	"cmp"
	"net"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
)

// Resources are CPU in millicores and memory in bytes.
type Resources struct {
	MilliCPU, Memory int64
}

// Add adds o to r.
func (r *Resources) Add(o Resources) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
}

// Requests is what pod requests: the sum over its app containers, or its
// largest init container where that is more. A container states a request,
// or its limit stands for it (as the API defaults requests from limits),
// or def does (zero for none; the scheduler scores pods without requests
// at a default so that they still spread).
func Requests(pod *v1.Pod, def Resources) Resources {
	var sum Resources
	for i := range pod.Spec.Containers {
		sum.Add(containerRequests(&pod.Spec.Containers[i], def))
	}
	for i := range pod.Spec.InitContainers {
		init := containerRequests(&pod.Spec.InitContainers[i], def)
		sum.MilliCPU = max(sum.MilliCPU, init.MilliCPU)
		sum.Memory = max(sum.Memory, init.Memory)
	}
	return sum
}

func containerRequests(c *v1.Container, def Resources) Resources {
	get := func(name v1.ResourceName) (resource.Quantity, bool) {
		if q, ok := c.Resources.Requests[name]; ok {
			return q, true
		}
		q, ok := c.Resources.Limits[name]
		return q, ok
	}
	out := def
	if cpu, ok := get(v1.ResourceCPU); ok {
		out.MilliCPU = cpu.MilliValue()
	}
	if mem, ok := get(v1.ResourceMemory); ok {
		out.Memory = mem.Value()
	}
	return out
}

// Sum is the requests of pods together.
func Sum(pods []*v1.Pod, def Resources) Resources {
	var sum Resources
	for _, p := range pods {
		sum.Add(Requests(p, def))
	}
	return sum
}

// Active drops the pods that hold nothing on a node any more (finished)
// and the pod self (being placed again).
func Active(pods []*v1.Pod, self types.UID) []*v1.Pod {
	out := make([]*v1.Pod, 0, len(pods))
	for _, p := range pods {
		if p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed || (self != "" && p.UID == self) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// HostPort is one host port a pod binds.
type HostPort struct {
	// IP is "" for every address of the host.
	IP       string
	Protocol v1.Protocol
	Port     int32
}

// HostPorts lists the host ports pod binds; 0.0.0.0 and :: read as every
// address.
func HostPorts(pod *v1.Pod) []HostPort {
	var out []HostPort
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			hp := HostPort{IP: p.HostIP, Protocol: cmp.Or(p.Protocol, v1.ProtocolTCP), Port: p.HostPort}
			if ip := net.ParseIP(hp.IP); ip != nil && ip.IsUnspecified() {
				hp.IP = ""
			}
			out = append(out, hp)
		}
	}
	return out
}

// PortsConflict reports whether pod asks for a host port that one of pods
// binds: same protocol and port, on the same address or on every address.
func PortsConflict(pod *v1.Pod, pods []*v1.Pod) bool {
	want := HostPorts(pod)
	if len(want) == 0 {
		return false
	}
	for _, p := range pods {
		for _, have := range HostPorts(p) {
			for _, w := range want {
				if w.Port == have.Port && w.Protocol == have.Protocol && (w.IP == "" || have.IP == "" || w.IP == have.IP) {
					return true
				}
			}
		}
	}
	return false
}
