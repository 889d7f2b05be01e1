//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

package endpoints

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func testPod(name, ip, node string, ready bool, ports ...v1.ContainerPort) *v1.Pod {
	status := v1.ConditionFalse
	if ready {
		status = v1.ConditionTrue
	}
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo", UID: types.UID("uid-" + ip)},
		Spec:       v1.PodSpec{NodeName: node, Containers: []v1.Container{{Name: "web", Ports: ports}}},
		Status: v1.PodStatus{Phase: v1.PodRunning, PodIP: ip,
			Conditions: []v1.PodCondition{{Type: v1.PodReady, Status: status}}},
	}
}

func addr(name, ip, node string) v1.EndpointAddress {
	return v1.EndpointAddress{IP: ip, NodeName: &node, TargetRef: &v1.ObjectReference{Kind: "Pod", Namespace: "demo", Name: name, UID: types.UID("uid-" + ip)}}
}

func TestSubsets(t *testing.T) {
	http := v1.ContainerPort{Name: "http", ContainerPort: 8080, Protocol: v1.ProtocolTCP}
	alt := v1.ContainerPort{Name: "http", ContainerPort: 9090, Protocol: v1.ProtocolTCP}
	byName := &v1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo"}, Spec: v1.ServiceSpec{
		Ports: []v1.ServicePort{{Name: "web", Port: 80, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromString("http")}},
	}}
	byNumber := &v1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo"}, Spec: v1.ServiceSpec{
		Ports: []v1.ServicePort{{Port: 80, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
	}}
	headless := &v1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo"}, Spec: v1.ServiceSpec{ClusterIP: v1.ClusterIPNone}}
	deleting := testPod("c", "10.0.0.3", "n1", true, http)
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	failed := testPod("d", "10.0.0.4", "n1", false, http)
	failed.Status.Phase = v1.PodFailed
	port := func(name string, n int32) v1.EndpointPort {
		return v1.EndpointPort{Name: name, Port: n, Protocol: v1.ProtocolTCP}
	}
	tests := []struct {
		name string
		svc  *v1.Service
		pods []*v1.Pod
		want []v1.EndpointSubset
	}{
		{"none", byNumber, nil, nil},
		{"ready and not ready, sorted by address", byNumber,
			[]*v1.Pod{testPod("b", "10.0.0.10", "n2", true), testPod("a", "10.0.0.9", "n1", true), testPod("e", "10.0.0.5", "n1", false)},
			[]v1.EndpointSubset{{
				Addresses:         []v1.EndpointAddress{addr("a", "10.0.0.9", "n1"), addr("b", "10.0.0.10", "n2")},
				NotReadyAddresses: []v1.EndpointAddress{addr("e", "10.0.0.5", "n1")},
				Ports:             []v1.EndpointPort{port("", 8080)},
			}}},
		{"a named targetPort, resolved per pod", byName,
			[]*v1.Pod{testPod("a", "10.0.0.1", "n1", true, http), testPod("b", "10.0.0.2", "n1", true, alt), testPod("x", "10.0.0.7", "n1", true)},
			[]v1.EndpointSubset{
				{Addresses: []v1.EndpointAddress{addr("a", "10.0.0.1", "n1")}, Ports: []v1.EndpointPort{port("web", 8080)}},
				{Addresses: []v1.EndpointAddress{addr("b", "10.0.0.2", "n1")}, Ports: []v1.EndpointPort{port("web", 9090)}},
			}},
		{"deleted, finished and addressless pods are left out", byName,
			[]*v1.Pod{deleting, failed, testPod("f", "", "n1", false, http)}, nil},
		{"headless without ports", headless, []*v1.Pod{testPod("a", "10.0.0.1", "n1", true)},
			[]v1.EndpointSubset{{Addresses: []v1.EndpointAddress{addr("a", "10.0.0.1", "n1")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Subsets(tt.svc, tt.pods); !apiequality.Semantic.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
