package network

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestRules(t *testing.T) {
	n := names{scope: "0a1b2c3d"}
	addr, pfx := netip.MustParseAddr, netip.MustParsePrefix
	nodeA := Node{Name: "a", Address: addr("192.0.2.10"), Subnet: pfx("10.244.1.0/24"), Pods: map[netip.Addr]string{
		addr("10.244.1.2"): "shop", addr("10.244.1.3"): "bank", addr("10.244.1.4"): "tools",
		addr("10.244.9.9"): "shop", // outside a's subnet: a lie, ignored
	}}
	nodeC := Node{Name: "c", Address: addr("192.0.2.30"), Subnet: pfx("10.244.3.0/24"), Pods: map[netip.Addr]string{
		addr("10.244.3.2"): "shop", addr("10.244.3.3"): "bank", addr("10.244.3.4"): "partner",
	}}
	me := self{name: "a", subnet: nodeA.Subnet, gateway: addr("10.244.1.1"), pods: nodeA.Pods}
	cluster := Cluster{
		CIDR: pfx("10.244.0.0/16"), Isolation: true, Nodes: []Node{nodeA, nodeC},
		NetIDs: map[string]string{"shop": "uid-shop", "bank": "uid-bank", "partner": "uid-shop", "tools": GlobalNetID},
	}
	notLocal := func(netip.Addr) bool { return false }
	shopChain, bankChain := n.netIDChain("uid-shop"), n.netIDChain("uid-bank")

	tests := []struct {
		name     string
		cluster  Cluster
		services []HostService
		table    string
		chain    string
		want     []string // in this order, among others
		absent   []string
	}{
		{
			name: "a pod hears its NetID's chain; global pods hear all", cluster: cluster, table: "filter", chain: n.ingressChain(),
			want: []string{
				"-A BERTH-0A1B2C3D-IN -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
				"-A BERTH-0A1B2C3D-IN -d 10.244.1.2/32 -j " + shopChain,
				"-A BERTH-0A1B2C3D-IN -d 10.244.1.3/32 -j " + bankChain,
				"-A BERTH-0A1B2C3D-IN -d 10.244.1.4/32 -s 10.244.0.0/16 -j ACCEPT",
				"-A BERTH-0A1B2C3D-IN -s 192.0.2.30/32 -j ACCEPT",
				"-A BERTH-0A1B2C3D-IN -s 10.244.0.0/16 -j DROP",
			},
			absent: []string{"10.244.9.9"},
		},
		{
			name: "a NetID's chain: its pods on every node, joined projects, global ones", cluster: cluster, table: "filter", chain: shopChain,
			want: []string{
				"-A " + shopChain + " -s 10.244.1.2/32 -j ACCEPT",
				"-A " + shopChain + " -s 10.244.1.4/32 -j ACCEPT",
				"-A " + shopChain + " -s 10.244.3.2/32 -j ACCEPT",
				"-A " + shopChain + " -s 10.244.3.4/32 -j ACCEPT",
			},
			absent: []string{"10.244.1.3/32", "10.244.3.3/32", "10.244.9.9"},
		},
		{
			name: "isolation off: every pod of the cluster", table: "filter", chain: n.ingressChain(),
			cluster: Cluster{CIDR: cluster.CIDR, Nodes: cluster.Nodes, NetIDs: cluster.NetIDs},
			want: []string{
				"-A BERTH-0A1B2C3D-IN -s 10.244.0.0/16 -j ACCEPT",
				"-A BERTH-0A1B2C3D-IN -s 10.244.0.0/16 -j DROP",
			},
			absent: []string{shopChain},
		},
		{
			name: "the host: the gateway's services to its pods, nothing else", cluster: cluster, table: "filter", chain: n.hostChain(),
			services: []HostService{{Protocol: "udp", Port: 53}, {Protocol: "tcp", Port: 30000, LastPort: 32767, AnyAddress: true}},
			want: []string{
				"-A BERTH-0A1B2C3D-HOST -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
				"-A BERTH-0A1B2C3D-HOST -i lo -j RETURN",
				"-A BERTH-0A1B2C3D-HOST -i berth0a1b2c3d -d 10.244.1.1/32 -p udp --dport 53 -j ACCEPT",
				"-A BERTH-0A1B2C3D-HOST -i berth0a1b2c3d -p tcp --dport 30000:32767 -j ACCEPT",
				"-A BERTH-0A1B2C3D-HOST -i berth0a1b2c3d -j DROP",
				"-A BERTH-0A1B2C3D-HOST -s 10.244.0.0/16 ! -i berth+ -j DROP",
			},
		},
		{
			name: "other nodes' addresses: their NodePorts only", cluster: cluster, table: "filter", chain: n.egressChain(),
			services: []HostService{{Protocol: "udp", Port: 53}, {Protocol: "tcp", Port: 30000, LastPort: 32767, AnyAddress: true}},
			want: []string{
				"-A BERTH-0A1B2C3D-OUT -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
				"-A BERTH-0A1B2C3D-OUT -d 192.0.2.30/32 -p tcp --dport 30000:32767 -j RETURN",
				"-A BERTH-0A1B2C3D-OUT -d 192.0.2.30/32 -j DROP",
			},
			absent: []string{"192.0.2.10", "--dport 53"},
		},
		{
			name: "no NAT within the cluster", cluster: cluster, table: "nat", chain: n.masqueradeChain(),
			want: []string{
				"-A BERTH-0A1B2C3D-NAT -s 10.244.1.0/24 -d 10.244.0.0/16 -j RETURN",
				"-A BERTH-0A1B2C3D-NAT -s 10.244.1.0/24 ! -o berth0a1b2c3d -j MASQUERADE",
			},
		},
		{
			name: "the forward chain: pods' own addresses only, then by direction", cluster: cluster, table: "filter", chain: n.forwardChain(),
			want: []string{
				"-A BERTH-0A1B2C3D -i berth0a1b2c3d ! -s 10.244.1.0/24 -j DROP",
				"-A BERTH-0A1B2C3D -o berth0a1b2c3d -j BERTH-0A1B2C3D-IN",
				"-A BERTH-0A1B2C3D -i berth0a1b2c3d -j BERTH-0A1B2C3D-OUT",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := rules(n, me, tt.cluster, tt.services, notLocal)
			got, ok := rs[tt.table][tt.chain]
			if !ok {
				t.Fatalf("no chain %s in %s: %v", tt.chain, tt.table, rs)
			}
			at := 0
			for _, w := range tt.want {
				i := slices.Index(got[at:], w)
				if i < 0 {
					t.Fatalf("missing, or out of order: %q\nchain:\n%s", w, strings.Join(got, "\n"))
				}
				at += i + 1
			}
			for _, a := range tt.absent {
				for _, rule := range got {
					if strings.Contains(rule, a) {
						t.Errorf("rule %q should not mention %q", rule, a)
					}
				}
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	addr, pfx := netip.MustParseAddr, netip.MustParsePrefix
	local := func(a netip.Addr) bool { return a == addr("192.0.2.2") }
	c := Cluster{Nodes: []Node{
		{Name: "me", Address: addr("192.0.2.2"), Subnet: pfx("10.244.0.0/24")},
		{Name: "same-host", Address: addr("192.0.2.2"), Subnet: pfx("10.244.1.0/24")},
		{Name: "far", Address: addr("192.0.2.9"), Subnet: pfx("10.244.2.0/24")},
		{Name: "no-subnet", Address: addr("192.0.2.7")},
		{Name: "no-address", Subnet: pfx("10.244.4.0/24")},
	}}
	got := routes(c, "me", local)
	want := []route{{dst: pfx("10.244.2.0/24"), via: addr("192.0.2.9")}}
	if !slices.Equal(got, want) {
		t.Fatalf("routes = %v, want %v", got, want)
	}
}

func TestRestoreInput(t *testing.T) {
	rs := ruleset{}
	rs.add("filter", "BERTH-X", "-j ACCEPT")
	rs.declare("nat", "BERTH-X-NAT")
	got := string(restoreInput(rs, map[string][]string{"filter": {"BERTH-X", "BERTH-X-NOLD"}}))
	want := "*filter\n:BERTH-X - [0:0]\n:BERTH-X-NOLD - [0:0]\n-A BERTH-X -j ACCEPT\n-X BERTH-X-NOLD\nCOMMIT\n" +
		"*nat\n:BERTH-X-NAT - [0:0]\nCOMMIT\n"
	if got != want {
		t.Fatalf("restore input:\n%s\nwant:\n%s", got, want)
	}
}

func TestAllowed(t *testing.T) {
	addr, pfx := netip.MustParseAddr, netip.MustParsePrefix
	c := Cluster{
		CIDR: pfx("10.244.0.0/16"), Isolation: true,
		Nodes: []Node{{Name: "a", Subnet: pfx("10.244.1.0/24"), Pods: map[netip.Addr]string{
			addr("10.244.1.2"): "shop", addr("10.244.1.3"): "bank", addr("10.244.1.4"): "tools", addr("10.244.1.5"): "partner",
		}}},
		NetIDs: map[string]string{"shop": "s", "bank": "b", "tools": GlobalNetID, "partner": "s"},
	}
	tests := []struct {
		src, namespace string
		isolation      bool
		want           bool
	}{
		{"10.244.1.2", "shop", true, true},
		{"10.244.1.2", "bank", true, false},
		{"10.244.1.5", "shop", true, true},  // joined
		{"10.244.1.4", "bank", true, true},  // a global pod reaches all
		{"10.244.1.3", "tools", true, true}, // and is reached by all
		{"10.244.1.9", "shop", true, false}, // an address no pod has
		{"10.244.7.2", "shop", true, false}, // on no node's subnet
		{"192.0.2.10", "shop", true, true},  // a host
		{"10.244.1.2", "bank", false, true}, // isolation off
	}
	for _, tt := range tests {
		c.Isolation = tt.isolation
		n := &Network{cluster: c}
		if got := n.Allowed(addr(tt.src), tt.namespace); got != tt.want {
			t.Errorf("Allowed(%s, %s) with isolation %v = %v, want %v", tt.src, tt.namespace, tt.isolation, got, tt.want)
		}
	}
}
