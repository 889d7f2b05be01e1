package node

import (
	"fmt"

	"github.com/berthpaas/berth/backend/podfit"

	v1 "k8s.io/api/core/v1"
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
	used := podfit.Sum(admitted, podfit.Resources{})
	if allowed := allocatable.Pods().Value(); int64(len(admitted))+1 > allowed {
		return insufficient(v1.ResourcePods, 1, int64(len(admitted)), allowed)
	}
	want := podfit.Requests(pod, podfit.Resources{})
	if capacity := allocatable.Cpu().MilliValue(); want.MilliCPU > 0 && want.MilliCPU > capacity-used.MilliCPU {
		return insufficient(v1.ResourceCPU, want.MilliCPU, used.MilliCPU, capacity)
	}
	if capacity := allocatable.Memory().Value(); want.Memory > 0 && want.Memory > capacity-used.Memory {
		return insufficient(v1.ResourceMemory, want.Memory, used.Memory, capacity)
	}
	if podfit.PortsConflict(pod, admitted) {
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
