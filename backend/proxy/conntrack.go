package proxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
)

// Conntrack is what the proxy needs of the kernel's connection tracking.
// DNAT is decided once per flow: a UDP client that keeps sending from one
// source port (a resolver, a syslog or metrics sender) has its packets
// follow the flow's entry, not the rules, until the entry times out, which
// its own packets keep from happening. So when an endpoint leaves a UDP
// service the proxy deletes the entries DNATed to it, and when a UDP
// service gets endpoints it deletes the entries of packets that reached
// it while it had none, as kube-proxy does. TCP needs none of this: a
// connection to a gone endpoint fails and the client makes a new one.
type Conntrack interface {
	// ClearUDP deletes the UDP entries that match any of flows and says
	// how many it deleted.
	ClearUDP(ctx context.Context, flows []Flow) (int, error)
}

// Flow selects conntrack entries of UDP flows.
type Flow struct {
	// Dst and Port are the flow's original destination; Dst invalid
	// (the zero Addr): any destination (a node port, on any address).
	Dst  netip.Addr
	Port uint16
	// Endpoint is where the flow was DNATed to (the reply's source);
	// invalid: wherever.
	Endpoint     netip.Addr
	EndpointPort uint16
}

func (f Flow) String() string {
	dst, ep := "*", "*"
	if f.Dst.IsValid() {
		dst = f.Dst.String()
	}
	if f.Endpoint.IsValid() {
		ep = netip.AddrPortFrom(f.Endpoint, f.EndpointPort).String()
	}
	return fmt.Sprintf("udp %s:%d → %s", dst, f.Port, ep)
}

// matches reports whether an entry's original and reply tuples are the
// flow's.
func (f Flow) matches(origDst net.IP, origPort uint16, replySrc net.IP, replyPort uint16) bool {
	if f.Port != origPort || (f.Dst.IsValid() && !equalIP(f.Dst, origDst)) {
		return false
	}
	return !f.Endpoint.IsValid() || (equalIP(f.Endpoint, replySrc) && (f.EndpointPort == 0 || f.EndpointPort == replyPort))
}

func equalIP(a netip.Addr, b net.IP) bool {
	ip, ok := netip.AddrFromSlice(b)
	return ok && ip.Unmap() == a.Unmap()
}

// staleFlows are the UDP flows whose entries must go when the rules
// change from before to after (both as buildRules wrote them): those
// DNATed to an endpoint that left its service port, and those that
// reached a service port while it had no endpoint.
func staleFlows(before, after []ServicePort) []Flow {
	udp := func(ports []ServicePort) map[string]ServicePort {
		m := map[string]ServicePort{}
		for _, sp := range ports {
			if sp.Protocol == v1.ProtocolUDP {
				m[sp.Name] = sp
			}
		}
		return m
	}
	old, now := udp(before), udp(after)
	var out []Flow
	for name, sp := range old {
		ip, err := netip.ParseAddr(sp.ClusterIP)
		if err != nil {
			continue
		}
		kept := map[Endpoint]bool{}
		if n, ok := now[name]; ok && n.ClusterIP == sp.ClusterIP && n.Port == sp.Port {
			for _, e := range n.Endpoints {
				kept[Endpoint{IP: e.IP, Port: e.Port}] = true
			}
		}
		for _, e := range sp.Endpoints {
			addr, err := netip.ParseAddr(e.IP)
			if err != nil || kept[Endpoint{IP: e.IP, Port: e.Port}] {
				continue
			}
			out = append(out, Flow{Dst: ip, Port: uint16(sp.Port), Endpoint: addr, EndpointPort: uint16(e.Port)})
			if sp.NodePort != 0 {
				out = append(out, Flow{Port: uint16(sp.NodePort), Endpoint: addr, EndpointPort: uint16(e.Port)})
			}
		}
	}
	for name, sp := range now {
		ip, err := netip.ParseAddr(sp.ClusterIP)
		if err != nil || len(sp.Endpoints) == 0 {
			continue
		}
		if o, ok := old[name]; ok && len(o.Endpoints) > 0 && o.ClusterIP == sp.ClusterIP && o.Port == sp.Port && o.NodePort == sp.NodePort {
			continue
		}
		out = append(out, Flow{Dst: ip, Port: uint16(sp.Port)})
		if sp.NodePort != 0 {
			out = append(out, Flow{Port: uint16(sp.NodePort)})
		}
	}
	return out
}

// netlinkConntrack deletes entries through the kernel's netlink interface
// (nf_conntrack_netlink), as kube-proxy does.
type netlinkConntrack struct{}

// flowFilter matches the entries of any of its flows.
type flowFilter []Flow

func (ff flowFilter) MatchConntrackFlow(f *netlink.ConntrackFlow) bool {
	if f.Forward.Protocol != unix.IPPROTO_UDP {
		return false
	}
	for _, fl := range ff {
		if fl.matches(f.Forward.DstIP, f.Forward.DstPort, f.Reverse.SrcIP, f.Reverse.SrcPort) {
			return true
		}
	}
	return false
}

func (netlinkConntrack) ClearUDP(_ context.Context, flows []Flow) (int, error) {
	if len(flows) == 0 {
		return 0, nil
	}
	n, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, flowFilter(flows))
	return int(n), err
}
