package scheduler

import (
	"github.com/berthpaas/berth/backend/podfit"
	v1 "k8s.io/api/core/v1"
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
	ReasonNetworkUnavailable = "network unavailable"
)

// scoringDefaults are the requests the scoring assumes for a container
// that states none, as Kubernetes does (100m, 200Mi), so that pods without
// requests still spread.
var scoringDefaults = podfit.Resources{MilliCPU: 100, Memory: 200 << 20}

// Filter reports whether node can run pod beside podsOnNode (the pods
// bound to it), and if not, why. It is a pure function.
func Filter(pod *v1.Pod, node *v1.Node, podsOnNode []*v1.Pod) (ok bool, reason string) {
	if !nodeReady(node) {
		return false, ReasonNotReady
	}
	if networkUnavailable(node) {
		return false, ReasonNetworkUnavailable
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
	running := podfit.Active(podsOnNode, pod.UID)
	if max, ok := allocatable[v1.ResourcePods]; ok && int64(len(running)+1) > max.Value() {
		return false, ReasonTooManyPods
	}
	want, used := podfit.Requests(pod, podfit.Resources{}), podfit.Sum(running, podfit.Resources{})
	if want.MilliCPU > 0 && used.MilliCPU+want.MilliCPU > allocatable.Cpu().MilliValue() {
		return false, ReasonInsufficientCPU
	}
	if want.Memory > 0 && used.Memory+want.Memory > allocatable.Memory().Value() {
		return false, ReasonInsufficientMemory
	}
	if podfit.PortsConflict(pod, running) {
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
	running := podfit.Active(podsOnNode, pod.UID)
	allocatable := allocatableOf(node)
	total := podfit.Sum(running, scoringDefaults)
	total.Add(podfit.Requests(pod, scoringDefaults))
	free := (freeFraction(allocatable.Cpu().MilliValue(), total.MilliCPU) +
		freeFraction(allocatable.Memory().Value(), total.Memory)) / 2
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

// networkUnavailable reports a node whose agent says it cannot give pods
// a network (no pod subnet, a host that cannot carry it), as Kubernetes'
// network-unavailable taint keeps pods off such nodes.
func networkUnavailable(node *v1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == v1.NodeNetworkUnavailable {
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
