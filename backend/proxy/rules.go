package proxy

//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// MasqueradeMark is the packet mark bit that asks for masquerading on the
// way out (node ports, a pod reaching itself through its service).
const MasqueradeMark = "0x100000"

// chains are the names of one proxy instance's chains: every name carries
// the instance's id, so that proxies of other clusters on the same host
// (and their leftovers) are never touched.
type chains struct {
	id string
	// nat: services (from PREROUTING and OUTPUT), node ports (from
	// services), masquerade (from POSTROUTING).
	services, nodePorts, masquerade string
	// filter: forward (accepts node-port traffic Docker would drop),
	// reject (services without endpoints, from FORWARD and OUTPUT).
	forward, reject string
}

func newChains(id string) chains {
	return chains{
		id:         id,
		services:   "BERTH-SVC-" + id,
		nodePorts:  "BERTH-NP-" + id,
		masquerade: "BERTH-MASQ-" + id,
		forward:    "BERTH-FWD-" + id,
		reject:     "BERTH-REJ-" + id,
	}
}

// owns reports whether a chain name is one of this instance's.
func (c chains) owns(chain string) bool {
	return strings.HasPrefix(chain, "BERTH-") && strings.Contains(chain, c.id)
}

// servicePortChain and endpointChain name the chains of one service port
// and of one of its endpoints (at most 28 characters, as iptables allows).
func (c chains) servicePortChain(key string) string { return "BERTH-S-" + c.id + "-" + shortHash(key) }
func (c chains) endpointChain(key string) string    { return "BERTH-E-" + c.id + "-" + shortHash(key) }

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:5]))
}

// jump is a rule in a built-in chain that sends packets to one of ours.
type jump struct {
	table, chain string
	// first: inserted at the top; otherwise appended.
	first bool
	args  []string
}

// jumps are the rules that lead into the instance's chains.
func (c chains) jumps() []jump {
	comment := []string{"-m", "comment", "--comment", "berth service proxy " + c.id}
	j := func(table, chain string, first bool, target string, extra ...string) jump {
		args := append(append(append([]string{}, extra...), comment...), "-j", target)
		return jump{table: table, chain: chain, first: first, args: args}
	}
	newConn := []string{"-m", "conntrack", "--ctstate", "NEW"}
	return []jump{
		j("nat", "PREROUTING", true, c.services),
		j("nat", "OUTPUT", true, c.services),
		j("nat", "POSTROUTING", true, c.masquerade),
		j("filter", "FORWARD", true, c.reject, newConn...),
		j("filter", "OUTPUT", true, c.reject, newConn...),
		// After DOCKER-USER, where the pod network's isolation is: this
		// only accepts what isolation let through and Docker would drop.
		j("filter", "FORWARD", false, c.forward),
	}
}

// ServicePort is one port of a service as the proxy programs it.
type ServicePort struct {
	// Name is namespace/service:port-name.
	Name      string
	ClusterIP string
	Port      int32
	NodePort  int32
	Protocol  v1.Protocol
	// AffinitySeconds, when positive, keeps a client on one endpoint
	// for that long (sessionAffinity: ClientIP).
	AffinitySeconds int32
	Endpoints       []Endpoint
}

// Endpoint is a ready address serving a service port.
type Endpoint struct {
	IP   string
	Port int32
	Node string
}

func (e Endpoint) String() string { return net.JoinHostPort(e.IP, strconv.Itoa(int(e.Port))) }

// ServicePorts are the ports the proxy serves for the services and their
// endpoints: every port of a service with a cluster IP (not headless, not
// ExternalName), with the ready endpoints of that port (byAddress).
func ServicePorts(services []*v1.Service, endpoints map[string]*v1.Endpoints) []ServicePort {
	var out []ServicePort
	for _, svc := range services {
		if svc.Spec.Type == v1.ServiceTypeExternalName || svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == v1.ClusterIPNone {
			continue
		}
		if _, err := netip.ParseAddr(svc.Spec.ClusterIP); err != nil {
			continue
		}
		ep := endpoints[svc.Namespace+"/"+svc.Name]
		for _, p := range svc.Spec.Ports {
			sp := ServicePort{
				Name: svc.Namespace + "/" + svc.Name + ":" + p.Name, ClusterIP: svc.Spec.ClusterIP,
				Port: p.Port, NodePort: p.NodePort, Protocol: cmp.Or(p.Protocol, v1.ProtocolTCP),
			}
			if sp.Protocol == v1.ProtocolSCTP {
				continue
			}
			if svc.Spec.SessionAffinity == v1.ServiceAffinityClientIP {
				sp.AffinitySeconds = v1.DefaultClientIPServiceAffinitySeconds
				if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
					sp.AffinitySeconds = *c.ClientIP.TimeoutSeconds
				}
			}
			sp.Endpoints = byAddress(readyEndpoints(ep, p.Name, sp.Protocol))
			out = append(out, sp)
		}
	}
	slices.SortFunc(out, func(a, b ServicePort) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func readyEndpoints(ep *v1.Endpoints, portName string, proto v1.Protocol) []Endpoint {
	if ep == nil {
		return nil
	}
	var out []Endpoint
	seen := map[string]bool{}
	for _, ss := range ep.Subsets {
		for _, p := range ss.Ports {
			if p.Name != portName || cmp.Or(p.Protocol, v1.ProtocolTCP) != proto {
				continue
			}
			for _, a := range ss.Addresses {
				e := Endpoint{IP: a.IP, Port: p.Port}
				if a.NodeName != nil {
					e.Node = *a.NodeName
				}
				if _, err := netip.ParseAddr(a.IP); err != nil || seen[e.String()] {
					continue
				}
				seen[e.String()] = true
				out = append(out, e)
			}
		}
	}
	return out
}

// byAddress orders endpoints by node and address, so that the rules
// come out the same for the same endpoints.
func byAddress(eps []Endpoint) []Endpoint {
	slices.SortFunc(eps, func(a, b Endpoint) int {
		return cmp.Or(strings.Compare(a.Node, b.Node), netip.MustParseAddr(a.IP).Compare(netip.MustParseAddr(b.IP)), cmp.Compare(a.Port, b.Port))
	})
	return eps
}

// buildRules writes the restore input for ports. existing are the chains
// of the instance that the tables hold now: those no longer needed are
// flushed and deleted.
func buildRules(c chains, ports []ServicePort, existing map[string]bool) string {
	var natChains, natRules, filterRules []string
	declared := map[string]bool{}
	declare := func(list *[]string, chain string) {
		if !declared[chain] {
			declared[chain] = true
			*list = append(*list, chain)
		}
	}
	rule := func(list *[]string, chain string, args ...string) {
		*list = append(*list, "-A "+chain+" "+strings.Join(args, " "))
	}
	for _, ch := range []string{c.services, c.nodePorts, c.masquerade} {
		declare(&natChains, ch)
	}
	mark := []string{"-j", "MARK", "--or-mark", MasqueradeMark}
	rule(&natRules, c.masquerade, "-m", "mark", "--mark", MasqueradeMark+"/"+MasqueradeMark, "-j", "MASQUERADE")

	for _, sp := range ports {
		proto := strings.ToLower(string(sp.Protocol))
		comment := []string{"-m", "comment", "--comment", quote(sp.Name)}
		dest := []string{"-d", sp.ClusterIP + "/32", "-p", proto, "-m", proto, "--dport", strconv.Itoa(int(sp.Port))}
		if len(sp.Endpoints) == 0 {
			rule(&filterRules, c.reject, append(append(dest, comment...), "-j", "REJECT", "--reject-with", "icmp-port-unreachable")...)
			continue
		}
		svcChain := c.servicePortChain(sp.Name)
		declare(&natChains, svcChain)
		rule(&natRules, c.services, append(append(dest, comment...), "-j", svcChain)...)
		if sp.NodePort != 0 {
			np := []string{"-p", proto, "-m", proto, "--dport", strconv.Itoa(int(sp.NodePort))}
			rule(&natRules, c.nodePorts, append(append(np, comment...), mark...)...)
			rule(&natRules, c.nodePorts, append(append(np, comment...), "-j", svcChain)...)
		}
		epChains := make([]string, len(sp.Endpoints))
		for i, e := range sp.Endpoints {
			epChains[i] = c.endpointChain(sp.Name + ">" + e.String())
			declare(&natChains, epChains[i])
		}
		if sp.AffinitySeconds > 0 {
			for i := range sp.Endpoints {
				rule(&natRules, svcChain, "-m", "recent", "--name", epChains[i], "--rcheck", "--seconds", strconv.Itoa(int(sp.AffinitySeconds)), "--reap", "-j", epChains[i])
			}
		}
		n := len(sp.Endpoints)
		for i := range sp.Endpoints {
			if i < n-1 {
				// The i-th rule sees the connections the earlier ones let
				// pass and takes each with probability 1/(n-i): every
				// endpoint gets one in n. At random, as kube-proxy does,
				// not by an nth counter: a counter starts again whenever
				// its rule is written, which every sync does (any change
				// of the services, of the endpoints or of their health),
				// and with syncs closer than n connections apart the
				// first endpoints of the chain got none.
				rule(&natRules, svcChain, "-m", "statistic", "--mode", "random", "--probability", probability(n-i), "-j", epChains[i])
			} else {
				rule(&natRules, svcChain, "-j", epChains[i])
			}
		}
		for i, e := range sp.Endpoints {
			rule(&natRules, epChains[i], append([]string{"-s", e.IP + "/32"}, mark...)...)
			dnat := []string{"-p", proto}
			if sp.AffinitySeconds > 0 {
				dnat = append(dnat, "-m", "recent", "--name", epChains[i], "--set")
			}
			rule(&natRules, epChains[i], append(dnat, "-j", "DNAT", "--to-destination", e.String())...)
		}
	}
	// Node ports last: the destination is any address of the node but
	// loopback, from which a masqueraded reply could not come back.
	rule(&natRules, c.services, "-m", "addrtype", "--dst-type", "LOCAL", "!", "-d", "127.0.0.0/8", "-j", c.nodePorts)

	var b strings.Builder
	b.WriteString("*nat\n")
	var stale []string
	for ch := range existing {
		if !declared[ch] && c.owns(ch) && !strings.HasPrefix(ch, "BERTH-FWD-") && !strings.HasPrefix(ch, "BERTH-REJ-") {
			stale = append(stale, ch)
		}
	}
	slices.Sort(stale)
	for _, ch := range append(natChains, stale...) {
		fmt.Fprintf(&b, ":%s - [0:0]\n", ch)
	}
	for _, r := range natRules {
		b.WriteString(r + "\n")
	}
	for _, ch := range stale {
		fmt.Fprintf(&b, "-X %s\n", ch)
	}
	b.WriteString("COMMIT\n*filter\n")
	fmt.Fprintf(&b, ":%s - [0:0]\n:%s - [0:0]\n", c.forward, c.reject)
	fmt.Fprintf(&b, "-A %s -m mark --mark %s/%s -j ACCEPT\n", c.forward, MasqueradeMark, MasqueradeMark)
	fmt.Fprintf(&b, "-A %s -m conntrack --ctstate DNAT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n", c.forward)
	for _, r := range filterRules {
		b.WriteString(r + "\n")
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// probability is 1/n as the statistic match takes it.
func probability(n int) string { return strconv.FormatFloat(1/float64(n), 'f', 10, 64) }

// quote makes a comment one iptables-restore argument.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, "'") + `"` }
