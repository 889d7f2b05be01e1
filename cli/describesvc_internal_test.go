//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

package cli

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestDescribeServiceText(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "dev", Labels: map[string]string{"app": "web"}},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.4.7", Selector: map[string]string{"app": "web"},
			SessionAffinity: corev1.ServiceAffinityClientIP, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http"), NodePort: 30080}},
		},
	}
	nodeA, nodeB := "node-a", "node-b"
	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{
			{IP: "10.244.0.5", NodeName: &nodeA, TargetRef: &corev1.ObjectReference{Name: "web-1"}},
			{IP: "10.244.1.6", NodeName: &nodeB, TargetRef: &corev1.ObjectReference{Name: "web-2"}},
		},
		NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.244.1.7", NodeName: &nodeB, TargetRef: &corev1.ObjectReference{Name: "web-3"}}},
		Ports:             []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}},
	}}}
	var b strings.Builder
	if err := describeService(&b, svc, ep, nil, nil, now); err != nil {
		t.Fatal(err)
	}
	want := `Name:                     web
Namespace:                dev
Labels:                   app=web
Annotations:              <none>
Selector:                 app=web
Type:                     NodePort
IP:                       10.96.4.7
Port:                     http  80/TCP
TargetPort:               http/TCP
NodePort:                 http  30080/TCP
Endpoints:                10.244.0.5:8080,10.244.1.6:8080
Session Affinity:         ClientIP
External Traffic Policy:  Cluster
Endpoint Addresses:
  Address     Ready  Pod    Node
  10.244.0.5  true   web-1  node-a
  10.244.1.6  true   web-2  node-b
  10.244.1.7  false  web-3  node-b
Events:	<none>
`
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
