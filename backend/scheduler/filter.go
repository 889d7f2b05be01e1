package scheduler

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// The reasons Filter gives for a node that cannot take a pod; the
// FailedScheduling event counts the nodes per reason.
const (
	ReasonNotReady           = "not ready"
	ReasonUnschedulable      = "unschedulable"
	ReasonInsufficientCPU    = "insufficient cpu"
	ReasonInsufficientMemory = "insufficient memory"
	ReasonTooManyPods        = "too many pods"
	ReasonNodeSelector       = "didn't match node selector"
	ReasonHostPort           = "host port conflict"
	ReasonTaint              = "had untolerated taint"
)

// Requests the scoring assumes for a container that states none, as
// Kubernetes does, so that pods without requests still spread.
var (
	defaultCPURequest    = resource.MustParse("100m")
	defaultMemoryRequest = resource.MustParse("200Mi")
)

// Filter reports whether node can run pod beside podsOnNode (the pods
// bound to it), and if not, why. It is a pure function.
func Filter(pod *v1.Pod, node *v1.Node, podsOnNode []*v1.Pod) (ok bool, reason string) {
	if !nodeReady(node) {
		return false, ReasonNotReady
	}
	if node.Spec.Unschedulable {
		return false, ReasonUnschedulable
	}
	if !tolerated(pod.Spec.Tolerations, node.Spec.Taints) {
		return false, ReasonTaint
	}
	if len(pod.Spec.NodeSelector) > 0 && !labels.SelectorFromSet(pod.Spec.NodeSelector).Matches(labels.Set(node.Labels)) {
		return false, ReasonNodeSelector
	}
	allocatable := allocatableOf(node)
	running := activePods(podsOnNode, pod.UID)
	if max, ok := allocatable[v1.ResourcePods]; ok && int64(len(running)+1) > max.Value() {
		return false, ReasonTooManyPods
	}
	cpu, memory := podRequests(pod, false)
	usedCPU, usedMemory := sumRequests(running, false)
	if cpu > 0 && usedCPU+cpu > allocatable.Cpu().MilliValue() {
		return false, ReasonInsufficientCPU
	}
	if memory > 0 && usedMemory+memory > allocatable.Memory().Value() {
		return false, ReasonInsufficientMemory
	}
	if hostPortConflict(pod, running) {
		return false, ReasonHostPort
	}
	return true, ""
}

// Score rates a node that passed Filter for pod; higher is better, from 0
// to 200. Half is the share of CPU and memory left free once the pod runs
// (least allocated, averaged over both), half the spread of the pod's
// controller: the fewer of its siblings (pods with the same controller
// owner) the node runs, the higher. It is a pure function.
func Score(pod *v1.Pod, node *v1.Node, podsOnNode []*v1.Pod) int64 {
	running := activePods(podsOnNode, pod.UID)
	allocatable := allocatableOf(node)
	cpu, memory := podRequests(pod, true)
	usedCPU, usedMemory := sumRequests(running, true)
	free := (freeFraction(allocatable.Cpu().MilliValue(), usedCPU+cpu) +
		freeFraction(allocatable.Memory().Value(), usedMemory+memory)) / 2
	leastAllocated := int64(free * 100)

	spread := int64(100)
	if owner := controllerUID(pod); owner != "" {
		siblings := int64(0)
		for _, p := range running {
			if controllerUID(p) == owner {
				siblings++
			}
		}
		spread = 100 / (1 + siblings)
	}
	return leastAllocated + spread
}

func freeFraction(allocatable, requested int64) float64 {
	if allocatable <= 0 || requested >= allocatable {
		return 0
	}
	return float64(allocatable-requested) / float64(allocatable)
}

func nodeReady(node *v1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

// allocatableOf is what the node offers to pods: its allocatable, or its
// capacity when it states no allocatable.
func allocatableOf(node *v1.Node) v1.ResourceList {
	if len(node.Status.Allocatable) > 0 {
		return node.Status.Allocatable
	}
	return node.Status.Capacity
}

// activePods drops the pods that hold no resources (finished) and the pod
// being placed itself.
func activePods(pods []*v1.Pod, self types.UID) []*v1.Pod {
	out := make([]*v1.Pod, 0, len(pods))
	for _, p := range pods {
		if p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed || (self != "" && p.UID == self) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// podRequests is the CPU (millicores) and memory (bytes) a pod requests:
// the sum over its containers, or the largest init container if more.
// withDefaults counts containers without requests at the scoring defaults.
func podRequests(pod *v1.Pod, withDefaults bool) (cpu, memory int64) {
	for _, c := range pod.Spec.Containers {
		ccpu, cmem := containerRequests(c, withDefaults)
		cpu += ccpu
		memory += cmem
	}
	for _, c := range pod.Spec.InitContainers {
		ccpu, cmem := containerRequests(c, withDefaults)
		cpu = max(cpu, ccpu)
		memory = max(memory, cmem)
	}
	return cpu, memory
}

func containerRequests(c v1.Container, withDefaults bool) (cpu, memory int64) {
	req := c.Resources.Requests
	cpuQ, hasCPU := req[v1.ResourceCPU]
	memQ, hasMem := req[v1.ResourceMemory]
	if withDefaults && !hasCPU {
		cpuQ = defaultCPURequest
	}
	if withDefaults && !hasMem {
		memQ = defaultMemoryRequest
	}
	return cpuQ.MilliValue(), memQ.Value()
}

func sumRequests(pods []*v1.Pod, withDefaults bool) (cpu, memory int64) {
	for _, p := range pods {
		pcpu, pmem := podRequests(p, withDefaults)
		cpu += pcpu
		memory += pmem
	}
	return cpu, memory
}

type hostPort struct {
	ip       string
	protocol v1.Protocol
	port     int32
}

func hostPorts(pod *v1.Pod) []hostPort {
	var out []hostPort
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			proto := p.Protocol
			if proto == "" {
				proto = v1.ProtocolTCP
			}
			out = append(out, hostPort{ip: p.HostIP, protocol: proto, port: p.HostPort})
		}
	}
	return out
}

// hostPortConflict reports whether pod wants a host port that one of pods
// holds; an empty or wildcard address clashes with every address.
func hostPortConflict(pod *v1.Pod, pods []*v1.Pod) bool {
	wanted := hostPorts(pod)
	if len(wanted) == 0 {
		return false
	}
	for _, p := range pods {
		for _, held := range hostPorts(p) {
			for _, w := range wanted {
				if w.port == held.port && w.protocol == held.protocol &&
					(wildcard(w.ip) || wildcard(held.ip) || w.ip == held.ip) {
					return true
				}
			}
		}
	}
	return false
}

func wildcard(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }

// tolerated reports whether the tolerations cover every taint that keeps
// pods off a node (NoSchedule, NoExecute).
func tolerated(tolerations []v1.Toleration, taints []v1.Taint) bool {
	for _, taint := range taints {
		if taint.Effect == v1.TaintEffectPreferNoSchedule {
			continue
		}
		ok := false
		for _, tol := range tolerations {
			if tolerates(tol, taint) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func tolerates(tol v1.Toleration, taint v1.Taint) bool {
	if tol.Effect != "" && tol.Effect != taint.Effect {
		return false
	}
	if tol.Key != "" && tol.Key != taint.Key {
		return false
	}
	switch tol.Operator {
	case v1.TolerationOpExists:
		return true
	case "", v1.TolerationOpEqual:
		return tol.Key != "" && tol.Value == taint.Value
	}
	return false
}

// controllerUID is the uid of the pod's controller owner, or "".
func controllerUID(pod *v1.Pod) types.UID {
	for _, ref := range pod.OwnerReferences {
		if ref.Controller != nil && *ref.Controller {
			return ref.UID
		}
	}
	return ""
}
