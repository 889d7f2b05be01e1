package node

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestServiceEnv(t *testing.T) {
	svc := func(name, ip string, ports ...v1.ServicePort) *v1.Service {
		return &v1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo"}, Spec: v1.ServiceSpec{ClusterIP: ip, Ports: ports}}
	}
	tests := []struct {
		name     string
		services []*v1.Service
		want     []string
	}{{
		name: "Kubernetes' and Docker links' variables, the first port as the service's",
		services: []*v1.Service{svc("web-api", "10.96.0.5",
			v1.ServicePort{Name: "http", Port: 80, Protocol: v1.ProtocolTCP},
			v1.ServicePort{Name: "dns-udp", Port: 53, Protocol: v1.ProtocolUDP})},
		want: []string{
			"WEB_API_SERVICE_HOST=10.96.0.5", "WEB_API_SERVICE_PORT=80",
			"WEB_API_SERVICE_PORT_HTTP=80", "WEB_API_SERVICE_PORT_DNS_UDP=53",
			"WEB_API_PORT=tcp://10.96.0.5:80",
			"WEB_API_PORT_80_TCP=tcp://10.96.0.5:80", "WEB_API_PORT_80_TCP_PROTO=tcp", "WEB_API_PORT_80_TCP_PORT=80", "WEB_API_PORT_80_TCP_ADDR=10.96.0.5",
			"WEB_API_PORT_53_UDP=udp://10.96.0.5:53", "WEB_API_PORT_53_UDP_PROTO=udp", "WEB_API_PORT_53_UDP_PORT=53", "WEB_API_PORT_53_UDP_ADDR=10.96.0.5",
		},
	}, {
		name: "headless, ExternalName and portless services have none",
		services: []*v1.Service{
			svc("headless", v1.ClusterIPNone, v1.ServicePort{Port: 80, Protocol: v1.ProtocolTCP}),
			{ObjectMeta: metav1.ObjectMeta{Name: "ext"}, Spec: v1.ServiceSpec{Type: v1.ServiceTypeExternalName, ExternalName: "example.org"}},
			svc("noports", "10.96.0.6"),
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range ServiceEnv(tt.services) {
				got = append(got, e.Name+"="+e.Value)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ServiceEnv:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestDNSConfig(t *testing.T) {
	gw := netip.MustParseAddr("10.244.3.1")
	ndots5, ndots2 := "5", "2"
	search := []string{"demo.svc.cluster.local", "svc.cluster.local", "cluster.local"}
	pod := func(policy v1.DNSPolicy, own *v1.PodDNSConfig) *v1.Pod {
		return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "demo"}, Spec: v1.PodSpec{DNSPolicy: policy, DNSConfig: own}}
	}
	tests := []struct {
		name       string
		pod        *v1.Pod
		want       *v1.PodDNSConfig
		wantPolicy v1.DNSPolicy
	}{{
		name:       "ClusterFirst (the default): the node's server and the project's search path",
		pod:        pod("", nil),
		want:       &v1.PodDNSConfig{Nameservers: []string{"10.244.3.1"}, Searches: search, Options: []v1.PodDNSConfigOption{{Name: "ndots", Value: &ndots5}}},
		wantPolicy: v1.DNSNone,
	}, {
		name: "ClusterFirst with the pod's own config added, its options winning",
		pod: pod(v1.DNSClusterFirst, &v1.PodDNSConfig{
			Nameservers: []string{"192.0.2.53"}, Searches: []string{"example.org"},
			Options: []v1.PodDNSConfigOption{{Name: "ndots", Value: &ndots2}, {Name: "edns0"}},
		}),
		want: &v1.PodDNSConfig{
			Nameservers: []string{"10.244.3.1", "192.0.2.53"}, Searches: append(slices.Clone(search), "example.org"),
			Options: []v1.PodDNSConfigOption{{Name: "ndots", Value: &ndots2}, {Name: "edns0"}},
		},
		wantPolicy: v1.DNSNone,
	}, {
		name:       "None: only the pod's own",
		pod:        pod(v1.DNSNone, &v1.PodDNSConfig{Nameservers: []string{"192.0.2.53"}}),
		want:       &v1.PodDNSConfig{Nameservers: []string{"192.0.2.53"}},
		wantPolicy: v1.DNSNone,
	}, {
		name:       "Default: the host's",
		pod:        pod(v1.DNSDefault, nil),
		wantPolicy: v1.DNSDefault,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, policy := DNSConfig(tt.pod, gw, "cluster.local")
			if policy != tt.wantPolicy || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DNSConfig = %+v, %s; want %+v, %s", got, policy, tt.want, tt.wantPolicy)
			}
		})
	}
}
