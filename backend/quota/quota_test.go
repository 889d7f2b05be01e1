package quota

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func list(kv ...string) v1.ResourceList {
	out := v1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[v1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func podWith(phase v1.PodPhase, containers ...v1.ResourceRequirements) *v1.Pod {
	p := &v1.Pod{Status: v1.PodStatus{Phase: phase}}
	for _, r := range containers {
		p.Spec.Containers = append(p.Spec.Containers, v1.Container{Name: "c", Resources: r})
	}
	return p
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		res  string
		obj  runtime.Object
		want v1.ResourceList
	}{
		{"pod sums its containers", "pods", podWith(v1.PodRunning,
			v1.ResourceRequirements{Requests: list("cpu", "250m", "memory", "64Mi"), Limits: list("memory", "128Mi")},
			v1.ResourceRequirements{Requests: list("cpu", "750m")}),
			list("count/pods", "1", "pods", "1", "requests.cpu", "1", "cpu", "1", "requests.memory", "64Mi", "memory", "64Mi", "limits.memory", "128Mi")},
		{"a finished pod costs nothing", "pods", podWith(v1.PodSucceeded, v1.ResourceRequirements{Requests: list("cpu", "1")}), list()},
		{"node port service", "services", &v1.Service{Spec: v1.ServiceSpec{Type: v1.ServiceTypeNodePort, Ports: []v1.ServicePort{{Port: 80}, {Port: 443}}}},
			list("count/services", "1", "services", "1", "services.nodeports", "2")},
		{"any other object is counted", "leases", &v1.ConfigMap{}, list("count/leases", "1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Usage(tt.res, tt.obj)
			if String(got) != String(tt.want) {
				t.Errorf("Usage = %s, want %s", String(got), String(tt.want))
			}
		})
	}
}

func TestExceeded(t *testing.T) {
	tests := []struct {
		name                  string
		requested, used, hard v1.ResourceList
		want                  string
	}{
		{"fits", list("pods", "1"), list("pods", "1"), list("pods", "2"), ""},
		{"names only what is over", list("pods", "1", "requests.cpu", "500m"), list("pods", "2", "requests.cpu", "0"), list("pods", "2", "requests.cpu", "1"),
			"exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"},
		{"nothing used yet", list("requests.memory", "2Gi"), list(), list("requests.memory", "1Gi"),
			"exceeded quota: q, requested: requests.memory=2Gi, used: requests.memory=0, limited: requests.memory=1Gi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := Exceeded("q", tt.requested, tt.used, tt.hard); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMissingAndLimitRanges(t *testing.T) {
	bare := podWith(v1.PodPending, v1.ResourceRequirements{})
	if got := Missing(bare, list("cpu", "1", "requests.cpu", "1", "limits.memory", "1Gi")); !reflect.DeepEqual(got, []string{"limits.memory", "requests.cpu"}) {
		t.Errorf("Missing = %v", got)
	}
	ranges := []v1.LimitRange{{Spec: v1.LimitRangeSpec{Limits: []v1.LimitRangeItem{{
		Type: v1.LimitTypeContainer, Default: list("memory", "256Mi"), DefaultRequest: list("cpu", "100m"),
		Min: list("cpu", "50m"), Max: list("memory", "1Gi"), MaxLimitRequestRatio: list("memory", "2"),
	}}}}}
	tests := []struct {
		name         string
		pod          *v1.Pod
		want         []string
		wantRequests v1.ResourceList
	}{
		{"defaults, and a limit stands for its request", podWith(v1.PodPending, v1.ResourceRequirements{}), nil, list("cpu", "100m", "memory", "256Mi")},
		{"over max", podWith(v1.PodPending, v1.ResourceRequirements{Limits: list("memory", "2Gi"), Requests: list("memory", "1Gi")}),
			[]string{"maximum memory usage per Container is 1Gi, but limit is 2Gi"}, list("cpu", "100m", "memory", "1Gi")},
		{"under min", podWith(v1.PodPending, v1.ResourceRequirements{Requests: list("cpu", "10m")}),
			[]string{"minimum cpu usage per Container is 50m, but request is 10m"}, list("cpu", "10m", "memory", "256Mi")},
		{"ratio", podWith(v1.PodPending, v1.ResourceRequirements{Requests: list("memory", "100Mi")}),
			[]string{"memory max limit to request ratio per Container is 2, but provided ratio is 2.560000"}, list("cpu", "100m", "memory", "100Mi")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ApplyLimitRanges(tt.pod, ranges)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems = %q, want %q", got, tt.want)
			}
			if r := tt.pod.Spec.Containers[0].Resources.Requests; String(r) != String(tt.wantRequests) {
				t.Errorf("requests = %s, want %s", String(r), String(tt.wantRequests))
			}
		})
	}
}
