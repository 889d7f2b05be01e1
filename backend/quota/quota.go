package quota

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
)

// Resource names a quota can limit besides count/<resource>.
const (
	Pods                   v1.ResourceName = "pods"
	Services               v1.ResourceName = "services"
	ServicesNodePorts      v1.ResourceName = "services.nodeports"
	ServicesLoadBalancers  v1.ResourceName = "services.loadbalancers"
	ReplicationControllers v1.ResourceName = "replicationcontrollers"
	Secrets                v1.ResourceName = "secrets"
	ConfigMaps             v1.ResourceName = "configmaps"
)

// countable are the resources with a count of their own besides
// count/<resource> (Kubernetes' "standard" object counts).
var countable = map[string]v1.ResourceName{
	"pods": Pods, "services": Services, "replicationcontrollers": ReplicationControllers,
	"secrets": Secrets, "configmaps": ConfigMaps,
}

// Usage is what one object of resource (its plural, with ".group" for
// named groups) costs its project.
func Usage(res string, obj runtime.Object) v1.ResourceList {
	out := v1.ResourceList{v1.ResourceName("count/" + res): *resource.NewQuantity(1, resource.DecimalSI)}
	if name, ok := countable[res]; ok {
		out[name] = *resource.NewQuantity(1, resource.DecimalSI)
	}
	switch o := obj.(type) {
	case *v1.Pod:
		if Terminal(o) {
			return v1.ResourceList{}
		}
		req, lim := PodRequestsAndLimits(o)
		for name, q := range req {
			out[v1.ResourceName("requests."+string(name))] = q
			out[name] = q // cpu and memory stand for their requests
		}
		for name, q := range lim {
			out[v1.ResourceName("limits."+string(name))] = q
		}
	case *v1.Service:
		switch o.Spec.Type {
		case v1.ServiceTypeNodePort:
			out[ServicesNodePorts] = *resource.NewQuantity(int64(len(o.Spec.Ports)), resource.DecimalSI)
		case v1.ServiceTypeLoadBalancer:
			out[ServicesNodePorts] = *resource.NewQuantity(int64(len(o.Spec.Ports)), resource.DecimalSI)
			out[ServicesLoadBalancers] = *resource.NewQuantity(1, resource.DecimalSI)
		}
	}
	return out
}

// Terminal says whether a pod has finished: it no longer counts, as in
// Kubernetes.
func Terminal(pod *v1.Pod) bool {
	return pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed
}

// PodRequestsAndLimits sums the containers' requests and limits of cpu
// and memory; an init container, which runs alone, counts when it asks
// for more than all the others together.
func PodRequestsAndLimits(pod *v1.Pod) (requests, limits v1.ResourceList) {
	requests, limits = v1.ResourceList{}, v1.ResourceList{}
	for _, c := range pod.Spec.Containers {
		addTo(requests, c.Resources.Requests)
		addTo(limits, c.Resources.Limits)
	}
	for _, c := range pod.Spec.InitContainers {
		maxInto(requests, c.Resources.Requests)
		maxInto(limits, c.Resources.Limits)
	}
	return requests, limits
}

var computeResources = []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory}

func addTo(sum, add v1.ResourceList) {
	for _, name := range computeResources {
		if q, ok := add[name]; ok {
			s := sum[name]
			s.Add(q)
			sum[name] = s
		}
	}
}

func maxInto(sum, other v1.ResourceList) {
	for _, name := range computeResources {
		if q, ok := other[name]; ok {
			if s, ok := sum[name]; !ok || q.Cmp(s) > 0 {
				sum[name] = q
			}
		}
	}
}

// Add returns a+b.
func Add(a, b v1.ResourceList) v1.ResourceList {
	out := a.DeepCopy()
	if out == nil {
		out = v1.ResourceList{}
	}
	for name, q := range b {
		s := out[name]
		s.Add(q)
		out[name] = s
	}
	return out
}

// Subtract returns a-b, never below zero.
func Subtract(a, b v1.ResourceList) v1.ResourceList {
	out := a.DeepCopy()
	for name, q := range b {
		s, ok := out[name]
		if !ok {
			continue
		}
		s.Sub(q)
		if s.Sign() < 0 {
			s = *resource.NewQuantity(0, s.Format)
		}
		out[name] = s
	}
	return out
}

// Limited keeps of usage the resources hard limits.
func Limited(usage, hard v1.ResourceList) v1.ResourceList {
	out := v1.ResourceList{}
	for name := range hard {
		if q, ok := usage[name]; ok {
			out[name] = q
		}
	}
	return out
}

// Exceeded returns the error Kubernetes gives when used plus requested
// goes beyond a quota's hard limits, naming only the resources that do;
// nil when the request fits.
func Exceeded(quotaName string, requested, used, hard v1.ResourceList) error {
	var over []v1.ResourceName
	for name, want := range requested {
		limit, ok := hard[name]
		if !ok {
			continue
		}
		total := used[name]
		total.Add(want)
		if total.Cmp(limit) > 0 {
			over = append(over, name)
		}
	}
	if len(over) == 0 {
		return nil
	}
	pick := func(l v1.ResourceList) v1.ResourceList {
		out := v1.ResourceList{}
		for _, name := range over {
			q := l[name]
			out[name] = q
		}
		return out
	}
	return fmt.Errorf("exceeded quota: %s, requested: %s, used: %s, limited: %s",
		quotaName, String(pick(requested)), String(pick(used)), String(pick(hard)))
}

// Missing names the compute resources a quota limits that a pod's
// containers leave unset: such a pod is refused, as Kubernetes refuses it
// ("must specify requests.cpu").
func Missing(pod *v1.Pod, hard v1.ResourceList) []string {
	var missing []string
	for _, name := range []v1.ResourceName{"requests.cpu", "requests.memory", "limits.cpu", "limits.memory", v1.ResourceCPU, v1.ResourceMemory} {
		if _, limited := hard[name]; !limited {
			continue
		}
		kind, res, ok := strings.Cut(string(name), ".")
		if !ok {
			kind, res = "requests", string(name)
		}
		for _, c := range pod.Spec.Containers {
			list := c.Resources.Requests
			if kind == "limits" {
				list = c.Resources.Limits
			}
			if _, set := list[v1.ResourceName(res)]; !set {
				missing = append(missing, kind+"."+res)
				break
			}
		}
	}
	sort.Strings(missing)
	return slices.Compact(missing)
}

// String prints a resource list as Kubernetes does: name=value, sorted,
// comma-separated.
func String(l v1.ResourceList) string {
	parts := make([]string, 0, len(l))
	for name, q := range l {
		parts = append(parts, fmt.Sprintf("%s=%s", name, q.String()))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// ResourcesOf names the resources whose objects the limits in hard
// count ("pods" for pods and compute resources, X for count/X).
func ResourcesOf(hard v1.ResourceList) map[string]bool {
	out := map[string]bool{}
	for name := range hard {
		n := string(name)
		switch {
		case strings.HasPrefix(n, "count/"):
			out[strings.TrimPrefix(n, "count/")] = true
		case n == string(v1.ResourceCPU), n == string(v1.ResourceMemory), strings.HasPrefix(n, "requests."), strings.HasPrefix(n, "limits."):
			out["pods"] = true
		case strings.HasPrefix(n, "services"):
			out["services"] = true
		default:
			out[n] = true
		}
	}
	return out
}
