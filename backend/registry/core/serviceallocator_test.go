package core

import (
	"net/netip"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestServiceRange(t *testing.T) {
	a := &serviceAllocator{cidr: netip.MustParsePrefix("10.96.0.0/16")}
	for ip, want := range map[string]bool{
		"10.96.0.0": false, "10.96.0.1": true, "10.96.255.254": true, "10.96.255.255": false,
		"10.97.0.1": false, "fd00::1": false, "x": false,
	} {
		if got := a.inRange(ip); got != want {
			t.Errorf("inRange(%s) = %v, want %v", ip, got, want)
		}
	}
	for _, bad := range []string{"10.96.0.1/16", "10.0.0.0/8", "10.96.0.0/29", "fd00::/64"} {
		if ValidateServiceCIDR(netip.MustParsePrefix(bad)) == nil {
			t.Errorf("%s accepted as a service range", bad)
		}
	}
}

func TestPickFree(t *testing.T) {
	// The upper part first; the static band only once it is full.
	taken := map[int]bool{}
	for range 200 {
		v, ok := pickFree(1, 254, 16, func(v int) bool { return taken[v] })
		if !ok || v < 17 || taken[v] {
			t.Fatalf("picked %d (%v) with %d taken", v, ok, len(taken))
		}
		taken[v] = true
	}
	for v := 17; v <= 254; v++ {
		taken[v] = true
	}
	v, ok := pickFree(1, 254, 16, func(v int) bool { return taken[v] })
	if !ok || v < 1 || v > 16 {
		t.Fatalf("with the upper part full: %d %v", v, ok)
	}
	for v := 1; v <= 16; v++ {
		taken[v] = true
	}
	if v, ok := pickFree(1, 254, 16, func(v int) bool { return taken[v] }); ok {
		t.Fatalf("a full range gave %d", v)
	}
	if got := staticBand(65534, 16, 256); got != 256 {
		t.Errorf("band of a /16: %d", got)
	}
	if got := staticBand(2768, 32, 128); got != 86 {
		t.Errorf("band of the node ports: %d", got)
	}
}

func TestTypeChangeDropsAllocatedValues(t *testing.T) {
	old := v1.ServiceSpec{Type: v1.ServiceTypeNodePort, ClusterIP: "10.96.0.20", ExternalTrafficPolicy: v1.ServiceExternalTrafficPolicyCluster,
		Ports: []v1.ServicePort{{Name: "http", Port: 80, NodePort: 30080}}}
	spec := *old.DeepCopy()
	spec.Type = v1.ServiceTypeClusterIP
	dropTypeDependentFields(&spec, &old)
	if spec.Ports[0].NodePort != 0 || spec.ExternalTrafficPolicy != "" || spec.ClusterIP != old.ClusterIP {
		t.Errorf("NodePort → ClusterIP: %+v", spec)
	}
	spec = *old.DeepCopy()
	spec.Type, spec.ExternalName = v1.ServiceTypeExternalName, "example.com"
	dropTypeDependentFields(&spec, &old)
	if spec.ClusterIP != "" || spec.Ports[0].NodePort != 0 {
		t.Errorf("NodePort → ExternalName: %+v", spec)
	}
}
