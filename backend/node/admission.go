package node

import (
	"cmp"
	"fmt"
	"net"
	"slices"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// A tenant may set spec.nodeName and so bypass the scheduler's checks.
// The agent therefore admits each pod itself, as the kubelet does
// (lifecycle.PredicateAdmitHandler): a pod runs only if it fits beside the
// pods admitted before it, in the kubelet's words otherwise:
//
//	new pod ─► admit ─┬─ fits ─► admitted: the worker syncs it
//	                  └─ no ───► Failed, reason OutOfcpu | OutOfmemory |
//	                             OutOfpods | NodePorts, "Pod was rejected: …";
//	                             never started
//
// Pods in a terminal phase do not count; after an agent restart the pods
// are admitted again in the order of their creation.

// Reasons of the pods the agent fails, as the kubelet's.
const (
	reasonEvicted = "Evicted"
	// reasonNodePorts is the kubelet's (the scheduler plugin's name).
	reasonNodePorts = "NodePorts"
	errNodePorts    = "node(s) didn't have free ports for the requested pod ports"
)

// rejection is why the agent refuses to run a pod.
type rejection struct {
	reason, message string
}

// admit decides whether pod may run beside the admitted pods, on a node
// with allocatable resources; nil means it may. The checks and the first
// reason follow the kubelet: pod count, cpu, memory, then host ports.
func admit(pod *v1.Pod, admitted []*v1.Pod, allocatable v1.ResourceList) *rejection {
	var used requests
	for _, p := range admitted {
		used.add(podRequests(p))
	}
	if allowed := allocatable.Pods().Value(); int64(len(admitted))+1 > allowed {
		return insufficient(v1.ResourcePods, 1, int64(len(admitted)), allowed)
	}
	want := podRequests(pod)
	if capacity := allocatable.Cpu().MilliValue(); want.milliCPU > 0 && want.milliCPU > capacity-used.milliCPU {
		return insufficient(v1.ResourceCPU, want.milliCPU, used.milliCPU, capacity)
	}
	if capacity := allocatable.Memory().Value(); want.memory > 0 && want.memory > capacity-used.memory {
		return insufficient(v1.ResourceMemory, want.memory, used.memory, capacity)
	}
	if portsTaken(pod, admitted) {
		return &rejection{reason: reasonNodePorts, message: "Pod was rejected: Predicate " + reasonNodePorts + " failed: " + errNodePorts}
	}
	return nil
}

func insufficient(name v1.ResourceName, requested, used, capacity int64) *rejection {
	return &rejection{
		reason: "OutOf" + string(name),
		message: fmt.Sprintf("Pod was rejected: Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d",
			name, requested, used, capacity),
	}
}

// requests are a pod's cpu (in millicores) and memory (in bytes) requests.
type requests struct {
	milliCPU, memory int64
}

func (r *requests) add(o requests) {
	r.milliCPU += o.milliCPU
	r.memory += o.memory
}

// podRequests sums the requests of the app containers, or takes the
// largest of an init container where that is more, as the scheduler does.
// A limit without a request counts as the request, as the API defaults it.
func podRequests(pod *v1.Pod) requests {
	var sum requests
	for i := range pod.Spec.Containers {
		sum.add(containerRequests(&pod.Spec.Containers[i]))
	}
	for i := range pod.Spec.InitContainers {
		init := containerRequests(&pod.Spec.InitContainers[i])
		sum.milliCPU = max(sum.milliCPU, init.milliCPU)
		sum.memory = max(sum.memory, init.memory)
	}
	return sum
}

func containerRequests(c *v1.Container) requests {
	get := func(name v1.ResourceName) resource.Quantity {
		if q, ok := c.Resources.Requests[name]; ok {
			return q
		}
		return c.Resources.Limits[name]
	}
	cpu, mem := get(v1.ResourceCPU), get(v1.ResourceMemory)
	return requests{milliCPU: cpu.MilliValue(), memory: mem.Value()}
}

// hostPort is one host port a pod binds.
type hostPort struct {
	ip       string // "" for every address
	protocol v1.Protocol
	port     int32
}

func hostPorts(pod *v1.Pod) []hostPort {
	var out []hostPort
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			hp := hostPort{ip: p.HostIP, protocol: cmp.Or(p.Protocol, v1.ProtocolTCP), port: p.HostPort}
			if ip := net.ParseIP(hp.ip); ip != nil && ip.IsUnspecified() {
				hp.ip = ""
			}
			out = append(out, hp)
		}
	}
	return out
}

// portsTaken reports whether pod asks for a host port that an admitted pod
// binds: same protocol and port, on the same address or on every address.
func portsTaken(pod *v1.Pod, admitted []*v1.Pod) bool {
	want := hostPorts(pod)
	if len(want) == 0 {
		return false
	}
	for _, p := range admitted {
		for _, have := range hostPorts(p) {
			if slices.ContainsFunc(want, func(w hostPort) bool {
				return w.port == have.port && w.protocol == have.protocol && (w.ip == "" || have.ip == "" || w.ip == have.ip)
			}) {
				return true
			}
		}
	}
	return false
}

// terminal reports whether the pod reached a phase it never leaves.
func terminal(pod *v1.Pod) bool {
	return pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed
}

// failedByNode reports whether an agent failed the pod (rejected it, or
// evicted it): its containers must not run again.
func failedByNode(pod *v1.Pod) bool {
	if pod.Status.Phase != v1.PodFailed {
		return false
	}
	switch pod.Status.Reason {
	case reasonEvicted, reasonNodePorts, "OutOf" + string(v1.ResourceCPU), "OutOf" + string(v1.ResourceMemory), "OutOf" + string(v1.ResourcePods):
		return true
	}
	return false
}
