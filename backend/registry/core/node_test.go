package core

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func validNode() *v1.Node {
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1.example.com", Labels: map[string]string{"zone": "a"}},
		Status: v1.NodeStatus{
			Capacity: v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("8Gi")},
		},
	}
}

func TestNodeValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*v1.Node)
		want   []string
	}{
		{"valid", func(*v1.Node) {}, nil},
		{"name not a DNS subdomain", func(n *v1.Node) { n.Name = "Node_1" }, []string{"metadata.name"}},
		{"namespace set on a cluster-scoped object", func(n *v1.Node) { n.Namespace = "default" }, []string{"metadata.namespace"}},
		{"bad pod CIDR", func(n *v1.Node) { n.Spec.PodCIDR = "10.244.0.0" }, []string{"spec.podCIDR"}},
		{"taint without effect", func(n *v1.Node) { n.Spec.Taints = []v1.Taint{{Key: "dedicated", Value: "db"}} }, []string{"spec.taints[0].effect"}},
		{"duplicate taint", func(n *v1.Node) {
			taint := v1.Taint{Key: "dedicated", Effect: v1.TaintEffectNoSchedule}
			n.Spec.Taints = []v1.Taint{taint, taint}
		}, []string{"spec.taints[1]"}},
		{"negative capacity", func(n *v1.Node) { n.Status.Capacity[v1.ResourceCPU] = resource.MustParse("-1") }, []string{"status.capacity[cpu]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := validNode()
			tt.mutate(node)
			NodeStrategy{}.PrepareForCreate(node)
			assertPaths(t, NodeStrategy{}.Validate(node), tt.want...)
		})
	}
}

func TestNodePrepareForCreateKeepsStatus(t *testing.T) {
	node := validNode()
	NodeStrategy{}.PrepareForCreate(node)
	if node.Status.Capacity.Cpu().String() != "4" {
		t.Errorf("capacity = %v, want the registered capacity", node.Status.Capacity)
	}
}

func TestNodeUpdate(t *testing.T) {
	tests := []struct {
		name   string
		old    func(*v1.Node)
		mutate func(*v1.Node)
		want   []string
	}{
		{name: "cordon", mutate: func(n *v1.Node) { n.Spec.Unschedulable = true }},
		{name: "taint", mutate: func(n *v1.Node) {
			n.Spec.Taints = []v1.Taint{{Key: "dedicated", Effect: v1.TaintEffectNoSchedule}}
		}},
		{name: "pod CIDR set once", mutate: func(n *v1.Node) { n.Spec.PodCIDR = "10.244.1.0/24" }},
		{name: "pod CIDR immutable once set",
			old:    func(n *v1.Node) { n.Spec.PodCIDR = "10.244.1.0/24" },
			mutate: func(n *v1.Node) { n.Spec.PodCIDR = "10.244.2.0/24" },
			want:   []string{"spec.podCIDR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := validNode()
			old.ResourceVersion = "9"
			if tt.old != nil {
				tt.old(old)
			}
			node := old.DeepCopy()
			node.Status = v1.NodeStatus{}
			tt.mutate(node)
			NodeStrategy{}.PrepareForUpdate(node, old)
			assertPaths(t, NodeStrategy{}.ValidateUpdate(node, old), tt.want...)
			if node.Status.Capacity.Cpu().String() != "4" {
				t.Errorf("spec update lost status: %+v", node.Status)
			}
		})
	}
}

func TestNodeStatusUpdateAndFields(t *testing.T) {
	old := validNode()
	old.ResourceVersion = "9"
	node := old.DeepCopy()
	node.Spec.Unschedulable = true
	node.Status.Conditions = []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}
	NodeStrategy{}.PrepareForStatusUpdate(node, old)
	assertPaths(t, NodeStrategy{}.ValidateUpdate(node, old))
	if node.Spec.Unschedulable || len(node.Status.Conditions) != 1 {
		t.Errorf("status update: unschedulable %v conditions %v; want old spec, new status", node.Spec.Unschedulable, node.Status.Conditions)
	}

	node.Spec.Unschedulable = true
	fields := NodeStrategy{}.Fields(node)
	if fields["metadata.name"] != "node-1.example.com" || fields["spec.unschedulable"] != "true" {
		t.Errorf("Fields() = %v", fields)
	}
}
