package proxy

//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func service(name, ip string, mut func(*v1.ServiceSpec)) *v1.Service {
	s := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: name},
		Spec: v1.ServiceSpec{ClusterIP: ip, Ports: []v1.ServicePort{
			{Name: "http", Port: 80, Protocol: v1.ProtocolTCP},
		}},
	}
	if mut != nil {
		mut(&s.Spec)
	}
	return s
}

func endpoints(name string, ready, notReady map[string]string, ports ...v1.EndpointPort) *v1.Endpoints {
	if len(ports) == 0 {
		ports = []v1.EndpointPort{{Name: "http", Port: 8080, Protocol: v1.ProtocolTCP}}
	}
	ss := v1.EndpointSubset{Ports: ports}
	for ip, node := range ready {
		ss.Addresses = append(ss.Addresses, v1.EndpointAddress{IP: ip, NodeName: ptr.To(node)})
	}
	for ip, node := range notReady {
		ss.NotReadyAddresses = append(ss.NotReadyAddresses, v1.EndpointAddress{IP: ip, NodeName: ptr.To(node)})
	}
	return &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: name}, Subsets: []v1.EndpointSubset{ss}}
}

func TestServicePorts(t *testing.T) {
	three := endpoints("web", map[string]string{"10.244.0.2": "a", "10.244.0.3": "a", "10.244.1.2": "b"}, map[string]string{"10.244.2.2": "c"})
	tests := []struct {
		name     string
		services []*v1.Service
		eps      map[string]*v1.Endpoints
		want     []ServicePort
	}{{
		name:     "ready endpoints only, by node and address",
		services: []*v1.Service{service("web", "10.96.0.5", nil)},
		eps:      map[string]*v1.Endpoints{"demo/web": three},
		want: []ServicePort{{Name: "demo/web:http", ClusterIP: "10.96.0.5", Port: 80, Protocol: v1.ProtocolTCP, Endpoints: []Endpoint{
			{IP: "10.244.0.2", Port: 8080, Node: "a"}, {IP: "10.244.0.3", Port: 8080, Node: "a"}, {IP: "10.244.1.2", Port: 8080, Node: "b"},
		}}},
	}, {
		name: "headless and ExternalName services have no rules",
		services: []*v1.Service{
			service("headless", v1.ClusterIPNone, nil),
			service("ext", "", func(s *v1.ServiceSpec) { s.Type = v1.ServiceTypeExternalName; s.ExternalName = "example.org" }),
		},
		eps: map[string]*v1.Endpoints{"demo/headless": three},
	}, {
		name:     "no endpoints yet",
		services: []*v1.Service{service("web", "10.96.0.5", func(s *v1.ServiceSpec) { s.Ports[0].NodePort = 30080 })},
		want:     []ServicePort{{Name: "demo/web:http", ClusterIP: "10.96.0.5", Port: 80, NodePort: 30080, Protocol: v1.ProtocolTCP}},
	}, {
		name: "sessionAffinity ClientIP: the default timeout, or the one asked",
		services: []*v1.Service{
			service("a", "10.96.0.6", func(s *v1.ServiceSpec) { s.SessionAffinity = v1.ServiceAffinityClientIP }),
			service("b", "10.96.0.7", func(s *v1.ServiceSpec) {
				s.SessionAffinity = v1.ServiceAffinityClientIP
				s.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}
			}),
		},
		want: []ServicePort{
			{Name: "demo/a:http", ClusterIP: "10.96.0.6", Port: 80, Protocol: v1.ProtocolTCP, AffinitySeconds: v1.DefaultClientIPServiceAffinitySeconds},
			{Name: "demo/b:http", ClusterIP: "10.96.0.7", Port: 80, Protocol: v1.ProtocolTCP, AffinitySeconds: 60},
		},
	}, {
		name: "a port's endpoints are those of its name and protocol",
		services: []*v1.Service{service("dns", "10.96.0.10", func(s *v1.ServiceSpec) {
			s.Ports = []v1.ServicePort{{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP}, {Name: "dns-tcp", Port: 53, Protocol: v1.ProtocolTCP}}
		})},
		eps: map[string]*v1.Endpoints{"demo/dns": endpoints("dns", map[string]string{"10.244.0.9": "a"}, nil,
			v1.EndpointPort{Name: "dns", Port: 5353, Protocol: v1.ProtocolUDP}, v1.EndpointPort{Name: "dns-tcp", Port: 5354, Protocol: v1.ProtocolTCP})},
		want: []ServicePort{
			{Name: "demo/dns:dns", ClusterIP: "10.96.0.10", Port: 53, Protocol: v1.ProtocolUDP, Endpoints: []Endpoint{{IP: "10.244.0.9", Port: 5353, Node: "a"}}},
			{Name: "demo/dns:dns-tcp", ClusterIP: "10.96.0.10", Port: 53, Protocol: v1.ProtocolTCP, Endpoints: []Endpoint{{IP: "10.244.0.9", Port: 5354, Node: "a"}}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ServicePorts(tt.services, tt.eps)
			if !slices.EqualFunc(got, tt.want, func(a, b ServicePort) bool {
				return a.Name == b.Name && a.ClusterIP == b.ClusterIP && a.Port == b.Port && a.NodePort == b.NodePort &&
					a.Protocol == b.Protocol && a.AffinitySeconds == b.AffinitySeconds && slices.Equal(a.Endpoints, b.Endpoints)
			}) {
				t.Errorf("ServicePorts:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestBuildRules(t *testing.T) {
	c := newChains(ID("10.96.0.0/16"))
	eps := []Endpoint{{IP: "10.244.0.2", Port: 8080}, {IP: "10.244.1.2", Port: 8080}, {IP: "10.244.2.2", Port: 8080}}
	web := ServicePort{Name: "demo/web:http", ClusterIP: "10.96.0.5", Port: 80, NodePort: 30080, Protocol: v1.ProtocolTCP, Endpoints: eps}
	webChain := c.servicePortChain(web.Name)
	stale := c.servicePortChain("demo/gone:http")
	tests := []struct {
		name     string
		ports    []ServicePort
		existing map[string]bool
		want     []string
		wantNot  []string
	}{{
		name:  "one in three connections to each endpoint, with a node port",
		ports: []ServicePort{web},
		want: []string{
			"-A " + c.services + " -d 10.96.0.5/32 -p tcp -m tcp --dport 80 -m comment --comment \"demo/web:http\" -j " + webChain,
			"-A " + webChain + " -m statistic --mode random --probability 0.3333333333 -j " + c.endpointChain(web.Name+">10.244.0.2:8080"),
			"-A " + webChain + " -m statistic --mode random --probability 0.5000000000 -j " + c.endpointChain(web.Name+">10.244.1.2:8080"),
			"-A " + webChain + " -j " + c.endpointChain(web.Name+">10.244.2.2:8080"),
			"-A " + c.endpointChain(web.Name+">10.244.2.2:8080") + " -p tcp -j DNAT --to-destination 10.244.2.2:8080",
			"-A " + c.endpointChain(web.Name+">10.244.2.2:8080") + " -s 10.244.2.2/32 -j MARK --or-mark " + MasqueradeMark,
			"-A " + c.nodePorts + " -p tcp -m tcp --dport 30080 -m comment --comment \"demo/web:http\" -j " + webChain,
			"-A " + c.services + " -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j " + c.nodePorts,
		},
		wantNot: []string{"REJECT", "recent"},
	}, {
		name:  "a port without endpoints is refused",
		ports: []ServicePort{{Name: "demo/empty:http", ClusterIP: "10.96.0.6", Port: 80, Protocol: v1.ProtocolTCP}},
		want: []string{
			"-A " + c.reject + " -d 10.96.0.6/32 -p tcp -m tcp --dport 80 -m comment --comment \"demo/empty:http\" -j REJECT --reject-with icmp-port-unreachable",
		},
		wantNot: []string{"--to-destination"},
	}, {
		name: "sessionAffinity ClientIP sends a known client to its endpoint first",
		ports: []ServicePort{func() ServicePort {
			sp := web
			sp.AffinitySeconds = 60
			return sp
		}()},
		want: []string{
			"-A " + webChain + " -m recent --name " + c.endpointChain(web.Name+">10.244.0.2:8080") + " --rcheck --seconds 60 --reap -j " + c.endpointChain(web.Name+">10.244.0.2:8080"),
			"-A " + c.endpointChain(web.Name+">10.244.0.2:8080") + " -p tcp -m recent --name " + c.endpointChain(web.Name+">10.244.0.2:8080") + " --set -j DNAT --to-destination 10.244.0.2:8080",
		},
	}, {
		name:     "chains no longer needed are deleted, other clusters' never",
		ports:    []ServicePort{web},
		existing: map[string]bool{stale: true, "BERTH-S-0000aaaa-0123456789": true, "DOCKER": true},
		want:     []string{":" + stale + " - [0:0]", "-X " + stale},
		wantNot:  []string{"0000aaaa", "DOCKER"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := buildRules(c, tt.ports, tt.existing)
			lines := strings.Split(got, "\n")
			for _, w := range tt.want {
				if !slices.Contains(lines, w) {
					t.Errorf("the rules lack\n  %s\nrules:\n%s", w, got)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("the rules hold %q:\n%s", w, got)
				}
			}
			// Every jump of the nat table targets a declared chain.
			declared := map[string]bool{}
			for _, l := range lines {
				if name, ok := strings.CutPrefix(l, ":"); ok {
					declared[strings.Fields(name)[0]] = true
				}
			}
			for _, l := range lines {
				f := strings.Fields(l)
				if i := slices.Index(f, "-j"); i >= 0 && strings.HasPrefix(f[i+1], "BERTH-") && !declared[f[i+1]] {
					t.Errorf("jump to an undeclared chain: %s", l)
				}
			}
		})
	}
}

// TestBuildRulesRestore has the host's iptables-restore parse the rules
// (--test: nothing is applied).
func TestBuildRulesRestore(t *testing.T) {
	if _, err := exec.LookPath("iptables-restore"); err != nil {
		t.Skip("iptables-restore is not installed")
	}
	c := newChains(ID("test-restore"))
	ports := []ServicePort{
		{Name: "demo/web:http", ClusterIP: "10.96.0.5", Port: 80, NodePort: 30080, Protocol: v1.ProtocolTCP, AffinitySeconds: 10800,
			Endpoints: []Endpoint{{IP: "10.244.0.2", Port: 8080}, {IP: "10.244.1.2", Port: 8080}}},
		{Name: "demo/dns:dns", ClusterIP: "10.96.0.10", Port: 53, Protocol: v1.ProtocolUDP, Endpoints: []Endpoint{{IP: "10.244.0.9", Port: 53}}},
		{Name: "demo/empty:", ClusterIP: "10.96.0.6", Port: 80, Protocol: v1.ProtocolTCP},
	}
	cmd := exec.CommandContext(t.Context(), "iptables-restore", "--test", "--noflush")
	cmd.Stdin = strings.NewReader(buildRules(c, ports, nil))
	if out, err := cmd.CombinedOutput(); err != nil {
		if strings.Contains(string(out), "Permission denied") || strings.Contains(string(out), "you must be root") {
			t.Skipf("iptables-restore needs root: %s", out)
		}
		t.Fatalf("iptables-restore --test: %v: %s\n%s", err, out, buildRules(c, ports, nil))
	}
}
