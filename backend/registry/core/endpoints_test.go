//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

package core

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEndpointsValidation(t *testing.T) {
	addr := func(ip string) v1.EndpointAddress { return v1.EndpointAddress{IP: ip} }
	tests := []struct {
		name    string
		subsets []v1.EndpointSubset
		want    []string
	}{
		{"ready and not ready", []v1.EndpointSubset{{
			Addresses: []v1.EndpointAddress{addr("10.244.1.2")}, NotReadyAddresses: []v1.EndpointAddress{addr("10.244.2.3")},
			Ports: []v1.EndpointPort{{Name: "http", Port: 8080}, {Name: "metrics", Port: 9090}},
		}}, nil},
		{"no addresses", []v1.EndpointSubset{{Ports: []v1.EndpointPort{{Port: 80}}}}, []string{"subsets[0]"}},
		{"loopback", []v1.EndpointSubset{{Addresses: []v1.EndpointAddress{addr("127.0.0.1")}}}, []string{"subsets[0].addresses[0].ip"}},
		{"link-local", []v1.EndpointSubset{{NotReadyAddresses: []v1.EndpointAddress{addr("169.254.169.254")}}}, []string{"subsets[0].notReadyAddresses[0].ip"}},
		{"not an IP", []v1.EndpointSubset{{Addresses: []v1.EndpointAddress{addr("pod-a")}}}, []string{"subsets[0].addresses[0].ip"}},
		{"unnamed ports", []v1.EndpointSubset{{
			Addresses: []v1.EndpointAddress{addr("10.244.1.2")},
			Ports:     []v1.EndpointPort{{Port: 80}, {Port: 70000, Name: "x"}},
		}}, []string{"subsets[0].ports[0].name", "subsets[0].ports[1].port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo"}, Subsets: tt.subsets}
			EndpointsStrategy{}.PrepareForCreate(ep)
			assertPaths(t, EndpointsStrategy{}.Validate(ep), tt.want...)
		})
	}
}

func TestFormatEndpoints(t *testing.T) {
	addrs := func(ips ...string) []v1.EndpointAddress {
		var out []v1.EndpointAddress
		for _, ip := range ips {
			out = append(out, v1.EndpointAddress{IP: ip})
		}
		return out
	}
	tests := []struct {
		name    string
		subsets []v1.EndpointSubset
		want    string
	}{
		{"none", nil, "<none>"},
		{"two", []v1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []v1.EndpointPort{{Port: 8080}}}}, "10.0.0.1:8080,10.0.0.2:8080"},
		{"more than three", []v1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3"), Ports: []v1.EndpointPort{{Name: "a", Port: 80}, {Name: "b", Port: 81}}}},
			"10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more..."},
		{"headless without ports", []v1.EndpointSubset{{Addresses: addrs("10.0.0.1")}}, "10.0.0.1"},
		{"only not ready", []v1.EndpointSubset{{NotReadyAddresses: addrs("10.0.0.1"), Ports: []v1.EndpointPort{{Port: 80}}}}, ""},
	}
	for _, tt := range tests {
		if got := FormatEndpoints(&v1.Endpoints{Subsets: tt.subsets}); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
