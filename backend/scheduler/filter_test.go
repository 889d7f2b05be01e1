package scheduler

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

type nodeOpt func(*v1.Node)

func testNode(name, cpu, memory string, opts ...nodeOpt) *v1.Node {
	n := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: v1.NodeStatus{
			Allocatable: v1.ResourceList{
				v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse(memory),
				v1.ResourcePods: resource.MustParse("110"),
			},
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func readyStatus(s v1.ConditionStatus) nodeOpt {
	return func(n *v1.Node) { n.Status.Conditions[0].Status = s }
}

func networkStatus(s v1.ConditionStatus) nodeOpt {
	return func(n *v1.Node) {
		n.Status.Conditions = append(n.Status.Conditions, v1.NodeCondition{Type: v1.NodeNetworkUnavailable, Status: s})
	}
}

type podOpt func(*v1.Pod)

func testPod(name, cpu, memory string, opts ...podOpt) *v1.Pod {
	req := v1.ResourceList{}
	if cpu != "" {
		req[v1.ResourceCPU] = resource.MustParse(cpu)
	}
	if memory != "" {
		req[v1.ResourceMemory] = resource.MustParse(memory)
	}
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo", UID: types.UID("uid-" + name)},
		Spec: v1.PodSpec{Containers: []v1.Container{{
			Name: "app", Image: "app:1", Resources: v1.ResourceRequirements{Requests: req},
		}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func hostPortOpt(port int32, ip string) podOpt {
	return func(p *v1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, v1.ContainerPort{ContainerPort: 80, HostPort: port, HostIP: ip})
	}
}

func ownedBy(uid string) podOpt {
	return func(p *v1.Pod) {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ReplicationController", Name: "rc", UID: types.UID(uid), Controller: &yes}}
	}
}

func phase(ph v1.PodPhase) podOpt { return func(p *v1.Pod) { p.Status.Phase = ph } }

func TestFilter(t *testing.T) {
	tests := []struct {
		name       string
		pod        *v1.Pod
		node       *v1.Node
		podsOnNode []*v1.Pod
		wantOK     bool
		wantReason string
	}{
		{name: "fits an empty node", pod: testPod("p", "500m", "256Mi"), node: testNode("n", "2", "4Gi"), wantOK: true},
		{name: "no requests fit anywhere ready", pod: testPod("p", "", ""), node: testNode("n", "0", "0"), wantOK: true},
		{name: "ready false", pod: testPod("p", "", ""), node: testNode("n", "2", "4Gi", readyStatus(v1.ConditionFalse)), wantReason: ReasonNotReady},
		{name: "ready unknown", pod: testPod("p", "", ""), node: testNode("n", "2", "4Gi", readyStatus(v1.ConditionUnknown)), wantReason: ReasonNotReady},
		{name: "no ready condition", pod: testPod("p", "", ""), node: testNode("n", "2", "4Gi", func(n *v1.Node) { n.Status.Conditions = nil }), wantReason: ReasonNotReady},
		{name: "network unavailable", pod: testPod("p", "", ""), node: testNode("n", "2", "4Gi", networkStatus(v1.ConditionTrue)), wantReason: ReasonNetworkUnavailable},
		{name: "network available", pod: testPod("p", "", ""), node: testNode("n", "2", "4Gi", networkStatus(v1.ConditionFalse)), wantOK: true},
		{name: "cordoned", pod: testPod("p", "", ""), node: testNode("n", "2", "4Gi", func(n *v1.Node) { n.Spec.Unschedulable = true }), wantReason: ReasonUnschedulable},
		{name: "cpu exceeds allocatable", pod: testPod("p", "3", ""), node: testNode("n", "2", "4Gi"), wantReason: ReasonInsufficientCPU},
		{
			name: "cpu taken by pods on the node", pod: testPod("p", "1", ""), node: testNode("n", "2", "4Gi"),
			podsOnNode: []*v1.Pod{testPod("a", "600m", ""), testPod("b", "500m", "")}, wantReason: ReasonInsufficientCPU,
		},
		{
			name: "cpu exactly fits", pod: testPod("p", "1", ""), node: testNode("n", "2", "4Gi"),
			podsOnNode: []*v1.Pod{testPod("a", "1", "")}, wantOK: true,
		},
		{
			name: "memory taken by pods on the node", pod: testPod("p", "", "1Gi"), node: testNode("n", "2", "4Gi"),
			podsOnNode: []*v1.Pod{testPod("a", "", "3500Mi")}, wantReason: ReasonInsufficientMemory,
		},
		{
			name: "finished pods hold nothing", pod: testPod("p", "", "1Gi"), node: testNode("n", "2", "4Gi"),
			podsOnNode: []*v1.Pod{testPod("a", "", "3500Mi", phase(v1.PodSucceeded)), testPod("b", "", "3500Mi", phase(v1.PodFailed))}, wantOK: true,
		},
		{
			name: "init container larger than the containers", node: testNode("n", "2", "4Gi"), wantReason: ReasonInsufficientMemory,
			pod: testPod("p", "", "1Gi", func(p *v1.Pod) {
				p.Spec.InitContainers = []v1.Container{{Name: "init", Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceMemory: resource.MustParse("5Gi")}}}}
			}),
		},
		{
			name: "node selector matches", node: testNode("n", "2", "4Gi", func(n *v1.Node) { n.Labels["disk"] = "ssd" }), wantOK: true,
			pod: testPod("p", "", "", func(p *v1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }),
		},
		{
			name: "node selector does not match", node: testNode("n", "2", "4Gi", func(n *v1.Node) { n.Labels["disk"] = "hdd" }), wantReason: ReasonNodeSelector,
			pod: testPod("p", "", "", func(p *v1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }),
		},
		{
			name: "host port taken", pod: testPod("p", "", "", hostPortOpt(8080, "")), node: testNode("n", "2", "4Gi"),
			podsOnNode: []*v1.Pod{testPod("a", "", "", hostPortOpt(8080, ""))}, wantReason: ReasonHostPort,
		},
		{
			name: "host port taken on a wildcard address", pod: testPod("p", "", "", hostPortOpt(8080, "10.0.0.1")), node: testNode("n", "2", "4Gi"),
			podsOnNode: []*v1.Pod{testPod("a", "", "", hostPortOpt(8080, "0.0.0.0"))}, wantReason: ReasonHostPort,
		},
		{
			name: "same host port on different addresses", pod: testPod("p", "", "", hostPortOpt(8080, "10.0.0.1")), node: testNode("n", "2", "4Gi"),
			podsOnNode: []*v1.Pod{testPod("a", "", "", hostPortOpt(8080, "10.0.0.2"))}, wantOK: true,
		},
		{
			name: "other host port", pod: testPod("p", "", "", hostPortOpt(8080, "")), node: testNode("n", "2", "4Gi"),
			podsOnNode: []*v1.Pod{testPod("a", "", "", hostPortOpt(9090, ""))}, wantOK: true,
		},
		{
			name: "the pod itself listed on the node does not count", pod: testPod("p", "2", "", hostPortOpt(8080, "")), node: testNode("n", "2", "4Gi"),
			podsOnNode: []*v1.Pod{testPod("p", "2", "", hostPortOpt(8080, ""))}, wantOK: true,
		},
		{
			name: "pod count limit", pod: testPod("p", "", ""), node: testNode("n", "2", "4Gi", func(n *v1.Node) { n.Status.Allocatable[v1.ResourcePods] = resource.MustParse("1") }),
			podsOnNode: []*v1.Pod{testPod("a", "", "")}, wantReason: ReasonTooManyPods,
		},
		{
			name: "capacity stands in for a missing allocatable", pod: testPod("p", "1", ""), wantOK: true,
			node: testNode("n", "2", "4Gi", func(n *v1.Node) { n.Status.Capacity, n.Status.Allocatable = n.Status.Allocatable, nil }),
		},
		{
			name: "untolerated NoSchedule taint", pod: testPod("p", "", ""), wantReason: ReasonTaint,
			node: testNode("n", "2", "4Gi", func(n *v1.Node) {
				n.Spec.Taints = []v1.Taint{{Key: "dedicated", Value: "db", Effect: v1.TaintEffectNoSchedule}}
			}),
		},
		{
			name: "tolerated taint", wantOK: true,
			pod: testPod("p", "", "", func(p *v1.Pod) {
				p.Spec.Tolerations = []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpEqual, Value: "db", Effect: v1.TaintEffectNoSchedule}}
			}),
			node: testNode("n", "2", "4Gi", func(n *v1.Node) {
				n.Spec.Taints = []v1.Taint{{Key: "dedicated", Value: "db", Effect: v1.TaintEffectNoSchedule}}
			}),
		},
		{
			name: "not ready wins over other reasons", pod: testPod("p", "64", ""), node: testNode("n", "2", "4Gi", readyStatus(v1.ConditionFalse)),
			wantReason: ReasonNotReady,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason := Filter(tt.pod, tt.node, tt.podsOnNode)
			if ok != tt.wantOK || reason != tt.wantReason {
				t.Errorf("Filter = (%v, %q), want (%v, %q)", ok, reason, tt.wantOK, tt.wantReason)
			}
		})
	}
}

func TestScore(t *testing.T) {
	tests := []struct {
		name string
		pod  *v1.Pod
		// The node named first must score higher than the second.
		better, worse         *v1.Node
		onBetter, onWorse     []*v1.Pod
		wantBetter, wantWorse int64
		checkExact            bool
	}{
		{
			name: "emptier node", pod: testPod("p", "1", "1Gi"),
			better: testNode("a", "4", "8Gi"), worse: testNode("b", "4", "8Gi"),
			onWorse: []*v1.Pod{testPod("x", "2", "4Gi")},
		},
		{
			name: "bigger node", pod: testPod("p", "1", "1Gi"),
			better: testNode("a", "8", "16Gi"), worse: testNode("b", "2", "4Gi"),
		},
		{
			name: "fewer siblings of the same controller", pod: testPod("p", "", "", ownedBy("rc-1")),
			better: testNode("a", "4", "8Gi"), worse: testNode("b", "4", "8Gi"),
			onBetter: []*v1.Pod{testPod("x", "", "", ownedBy("rc-2"))},
			onWorse:  []*v1.Pod{testPod("y", "", "", ownedBy("rc-1"))},
		},
		{
			name: "pods without requests still count", pod: testPod("p", "", ""),
			better: testNode("a", "4", "8Gi"), worse: testNode("b", "4", "8Gi"),
			onWorse: []*v1.Pod{testPod("x", "", ""), testPod("y", "", "")},
		},
		{
			name: "exact: half free and no siblings", pod: testPod("p", "1", "2Gi", ownedBy("rc-1")),
			better: testNode("a", "2", "4Gi"), worse: testNode("b", "2", "4Gi"),
			onWorse:    []*v1.Pod{testPod("y", "", "", ownedBy("rc-1"))},
			checkExact: true, wantBetter: 50 + 100,
			// 1.1 of 2 cpu (0.45 free) and 2.2 of 4 GiB (~0.45 free); one sibling halves the spread.
			wantWorse: 45 + 50,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Score(tt.pod, tt.better, tt.onBetter)
			w := Score(tt.pod, tt.worse, tt.onWorse)
			if b <= w {
				t.Errorf("Score(%s) = %d, not above Score(%s) = %d", tt.better.Name, b, tt.worse.Name, w)
			}
			if tt.checkExact && (b != tt.wantBetter || w != tt.wantWorse) {
				t.Errorf("scores = %d, %d; want %d, %d", b, w, tt.wantBetter, tt.wantWorse)
			}
			for _, s := range []int64{b, w} {
				if s < 0 || s > 200 {
					t.Errorf("score %d out of [0, 200]", s)
				}
			}
		})
	}
}

func TestFailureMessage(t *testing.T) {
	tests := []struct {
		name    string
		total   int
		reasons map[string]int
		want    string
	}{
		{"counted, most common first", 3, map[string]int{ReasonNotReady: 1, ReasonInsufficientMemory: 2}, "0/3 nodes are available: 2 insufficient memory, 1 not ready."},
		{"ties by name", 2, map[string]int{ReasonUnschedulable: 1, ReasonHostPort: 1}, "0/2 nodes are available: 1 host port conflict, 1 unschedulable."},
		{"no nodes", 0, nil, "0/0 nodes are available."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FailureMessage(tt.total, tt.reasons); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
