package network

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// BridgePrefix starts the name of every Berth bridge on a host, whoever's
// agent made it: rules that concern all of them match "berth+".
const BridgePrefix = "berth"

// ChainPrefix starts the name of every iptables chain of Berth.
const ChainPrefix = "BERTH-"

// names are the host objects of one agent, told apart from other agents'
// on the same host by its scope (a hash of its state directory).
type names struct {
	scope string // 8 lower-case hex digits
}

// bridge is the Linux bridge of the agent's Docker network (15 bytes at
// most, as the kernel wants).
func (n names) bridge() string { return BridgePrefix + n.scope }

// dockerNetwork is the Docker network's name.
func (n names) dockerNetwork() string { return "berth-" + n.scope }

// chain is the name of one of the agent's chains.
func (n names) chain(suffix string) string {
	name := ChainPrefix + strings.ToUpper(n.scope)
	if suffix != "" {
		name += "-" + suffix
	}
	return name
}

// The agent's chains and where they hang.
func (n names) forwardChain() string    { return n.chain("") }     // DOCKER-USER ─► pods' traffic
func (n names) ingressChain() string    { return n.chain("IN") }   // to its pods
func (n names) egressChain() string     { return n.chain("OUT") }  // from its pods, forwarded
func (n names) hostChain() string       { return n.chain("HOST") } // INPUT ─► to the host
func (n names) masqueradeChain() string { return n.chain("NAT") }  // nat POSTROUTING

// netIDChain is the chain that accepts the pods one NetID may hear.
func (n names) netIDChain(netID string) string {
	sum := sha256.Sum256([]byte(netID))
	return n.chain("N" + strings.ToUpper(hex.EncodeToString(sum[:4])))
}

// jump is a rule in a built-in (or Docker's) chain that sends packets to
// one of the agent's chains.
type jump struct {
	table, from, to string
}

func (n names) jumps() []jump {
	return []jump{
		{"filter", "DOCKER-USER", n.forwardChain()},
		{"filter", "INPUT", n.hostChain()},
		{"nat", "POSTROUTING", n.masqueradeChain()},
	}
}

// ruleset is the content of the agent's chains, by table and chain.
type ruleset map[string]map[string][]string

func (r ruleset) add(table, chain string, rule string, args ...any) {
	if r[table] == nil {
		r[table] = map[string][]string{}
	}
	r[table][chain] = append(r[table][chain], "-A "+chain+" "+fmt.Sprintf(rule, args...))
}

// declare makes chain exist, empty if nothing is added to it.
func (r ruleset) declare(table, chain string) {
	if r[table] == nil {
		r[table] = map[string][]string{}
	}
	if _, ok := r[table][chain]; !ok {
		r[table][chain] = []string{}
	}
}

// self is this node's share of the network.
type self struct {
	name    string
	subnet  netip.Prefix
	gateway netip.Addr
	// pods are the node's own pods: IP to namespace.
	pods map[netip.Addr]string
}

// rules are the agent's chains for the cluster as c describes it. local
// tells the host's own addresses.
func rules(n names, me self, c Cluster, services []HostService, local func(netip.Addr) bool) ruleset {
	r := ruleset{}
	br := n.bridge()
	in, out, host, nat := n.ingressChain(), n.egressChain(), n.hostChain(), n.masqueradeChain()
	for _, ch := range []string{n.forwardChain(), in, out, host} {
		r.declare("filter", ch)
	}
	r.declare("nat", nat)

	// Forwarded traffic of the node's pods: to them, and from them (with
	// their own addresses: the rules judge pods by them).
	r.add("filter", n.forwardChain(), "-i %s ! -s %s -j DROP", br, me.subnet)
	r.add("filter", n.forwardChain(), "-o %s -j %s", br, in)
	r.add("filter", n.forwardChain(), "-i %s -j %s", br, out)

	// To the pods: replies, then whom the isolation lets in, then the
	// nodes (proxies, NodePorts from afar); other pods are dropped, and
	// what is no pod of the cluster is Docker's to judge (published
	// ports from outside; other bridges, which its isolation drops).
	r.add("filter", in, "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
	if !c.Isolation {
		r.add("filter", in, "-s %s -j ACCEPT", c.CIDR)
	} else {
		netIDs := map[string]bool{}
		for _, ip := range sortedAddrs(me.pods) {
			if !me.subnet.Contains(ip) {
				continue
			}
			id := netIDOf(c, me.pods[ip])
			if id == GlobalNetID {
				r.add("filter", in, "-d %s/32 -s %s -j ACCEPT", ip, c.CIDR)
				continue
			}
			netIDs[id] = true
			r.add("filter", in, "-d %s/32 -j %s", ip, n.netIDChain(id))
		}
		for _, id := range sortedKeys(netIDs) {
			ch := n.netIDChain(id)
			r.declare("filter", ch)
			for _, node := range c.Nodes {
				for _, ip := range node.podIPs() {
					if other := netIDOf(c, node.Pods[ip]); other == id || other == GlobalNetID {
						r.add("filter", ch, "-s %s/32 -j ACCEPT", ip)
					}
				}
			}
		}
	}
	for _, addr := range nodeAddresses(c, me.name) {
		r.add("filter", in, "-s %s/32 -j ACCEPT", addr)
	}
	r.add("filter", in, "-s %s -j DROP", c.CIDR)

	// From the pods to other nodes' own addresses: only what they serve
	// pods on every address.
	r.add("filter", out, "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN")
	for _, addr := range nodeAddresses(c, me.name) {
		if local(addr) {
			continue // INPUT's, below
		}
		for _, s := range services {
			if s.AnyAddress {
				r.add("filter", out, "-d %s/32 -p %s --dport %s -j RETURN", addr, s.Protocol, s.ports())
			}
		}
		r.add("filter", out, "-d %s/32 -j DROP", addr)
	}

	// To the host itself: the services on the gateway, nothing else;
	// from the pods of other nodes, nothing.
	r.add("filter", host, "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN")
	r.add("filter", host, "-i lo -j RETURN")
	for _, s := range services {
		if s.AnyAddress {
			r.add("filter", host, "-i %s -p %s --dport %s -j ACCEPT", br, s.Protocol, s.ports())
		} else {
			r.add("filter", host, "-i %s -d %s/32 -p %s --dport %s -j ACCEPT", br, me.gateway, s.Protocol, s.ports())
		}
	}
	r.add("filter", host, "-i %s -j DROP", br)
	r.add("filter", host, "-s %s ! -i %s+ -j DROP", c.CIDR, BridgePrefix)

	// No NAT within the cluster; the rest of the world sees the node.
	r.add("nat", nat, "-s %s -d %s -j RETURN", me.subnet, c.CIDR)
	r.add("nat", nat, "-s %s ! -o %s -j MASQUERADE", me.subnet, br)
	return r
}

func (s HostService) ports() string {
	if s.LastPort > s.Port {
		return fmt.Sprintf("%d:%d", s.Port, s.LastPort)
	}
	return fmt.Sprint(s.Port)
}

// netIDOf is the NetID of namespace; one the agent has not heard of yet
// is alone on a network of its own.
func netIDOf(c Cluster, namespace string) string {
	if id, ok := c.NetIDs[namespace]; ok && id != "" {
		return id
	}
	return "namespace:" + namespace
}

// nodeAddresses are the InternalIPs of the nodes but me, sorted, once each.
func nodeAddresses(c Cluster, me string) []netip.Addr {
	var out []netip.Addr
	for _, node := range c.Nodes {
		if node.Name != me && node.Address.IsValid() && node.Address.Is4() && !slices.Contains(out, node.Address) {
			out = append(out, node.Address)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

func sortedAddrs[V any](m map[netip.Addr]V) []netip.Addr {
	out := make([]netip.Addr, 0, len(m))
	for ip := range m {
		out = append(out, ip)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
