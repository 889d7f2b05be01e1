// Package clusterdns is the DNS server of every node agent, as kube-dns
// answers in Kubernetes: it names the cluster's services and forwards
// every other name to the host's resolvers. Containers' resolv.conf
// names it (the agent listens on its pod network's gateway) with their
// project's search path, so that "web", "web.demo" and
// "web.demo.svc.cluster.local" all find the service web of project demo.
//
//	query ─► under the cluster domain?
//	           <svc>.<ns>.svc.<domain>          A: the cluster IP; headless:
//	                                            the ready pods' addresses;
//	                                            ExternalName: a CNAME
//	           <host>.<svc>.<ns>.svc.<domain>   A: the pod of that hostname
//	           _<port>._<proto>.<svc>.<ns>.svc  SRV of a named port
//	           a-b-c-d.<ns>.pod.<domain>        A: a.b.c.d
//	           anything else                    NXDOMAIN
//	         else ─► the host's resolvers (UDP, TCP when truncated)
package clusterdns

//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	v1 "k8s.io/api/core/v1"
)

// ttl is how long clients may keep an answer about the cluster, CoreDNS's
// default: a service's pods change often.
const ttl = 5

// forwardTimeout bounds one exchange with an upstream resolver.
const forwardTimeout = 2 * time.Second

// Source is what the server knows of the cluster: its services and their
// endpoints (a node agent's mirror of them).
type Source interface {
	Service(namespace, name string) (*v1.Service, bool)
	Endpoints(namespace, name string) (*v1.Endpoints, bool)
}

// Server answers DNS queries about the cluster's services.
type Server struct {
	domain    string // "cluster.local." (fully qualified, lower case)
	source    Source
	upstreams []string // host:port of the host's resolvers
	logger    *slog.Logger
}

// New returns a server of the services of source under domain, which
// forwards other names to upstreams (host:port).
func New(source Source, domain string, upstreams []string, logger *slog.Logger) *Server {
	return &Server{domain: dns.Fqdn(strings.ToLower(domain)), source: source, upstreams: upstreams, logger: logger}
}

// HostResolvers reads the nameservers of a resolv.conf (the host's
// /etc/resolv.conf), as host:port.
func HostResolvers(path string) ([]string, error) {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("resolvers of %s: %w", path, err)
	}
	var out []string
	for _, s := range cfg.Servers {
		out = append(out, net.JoinHostPort(s, cfg.Port))
	}
	return out, nil
}

// ListenAndServe serves on addr (UDP and TCP) until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("DNS on %s/udp: %w", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		return fmt.Errorf("DNS on %s/tcp: %w", addr, err)
	}
	servers := []*dns.Server{{PacketConn: pc, Handler: s}, {Listener: ln, Handler: s}}
	errs := make(chan error, len(servers))
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Go(func() { errs <- srv.ActivateAndServe() })
	}
	var err2 error
	select {
	case <-ctx.Done():
	case err2 = <-errs:
	}
	// Shutdown does nothing to a server that has not started yet (it
	// answers "server not started"), which then serves on: closing the
	// sockets ends it either way.
	for _, srv := range servers {
		_ = srv.Shutdown()
	}
	pc.Close()
	ln.Close()
	wg.Wait()
	return err2
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	if len(r.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	if name != s.domain && !strings.HasSuffix(name, "."+s.domain) {
		_ = w.WriteMsg(s.forward(r, w.RemoteAddr().Network()))
		return
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.RecursionAvailable = true
	found := s.answer(m, q, strings.TrimSuffix(strings.TrimSuffix(name, s.domain), "."))
	if !found {
		m.Rcode = dns.RcodeNameError
	}
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{s.soa()}
	}
	_ = w.WriteMsg(m)
}

// answer fills m for a name under the domain (rel: the labels before it);
// it reports whether the name exists.
func (s *Server) answer(m *dns.Msg, q dns.Question, rel string) bool {
	labels := strings.Split(rel, ".")
	switch {
	case len(labels) == 3 && labels[2] == "svc":
		return s.service(m, q, labels[1], labels[0])
	case len(labels) == 4 && labels[3] == "svc":
		return s.endpointHost(m, q, labels[2], labels[1], labels[0])
	case len(labels) == 5 && labels[4] == "svc" && strings.HasPrefix(labels[0], "_") && strings.HasPrefix(labels[1], "_"):
		return s.srv(m, q, labels[3], labels[2], labels[0][1:], labels[1][1:])
	case len(labels) == 3 && labels[2] == "pod":
		ip, err := netip.ParseAddr(strings.ReplaceAll(labels[0], "-", "."))
		if err != nil || !ip.Is4() {
			return false
		}
		if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
			m.Answer = append(m.Answer, s.a(q.Name, ip.String()))
		}
		return true
	}
	return false
}

func (s *Server) fqdn(parts ...string) string { return strings.Join(parts, ".") + "." + s.domain }

func (s *Server) a(name, ip string) dns.RR {
	return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: net.ParseIP(ip).To4()}
}

func (s *Server) soa() dns.RR {
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: s.domain, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:  "ns.dns." + s.domain, Mbox: "hostmaster." + s.domain,
		Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: ttl,
	}
}

// service answers <svc>.<ns>.svc.<domain>.
func (s *Server) service(m *dns.Msg, q dns.Question, ns, name string) bool {
	svc, ok := s.source.Service(ns, name)
	if !ok {
		return false
	}
	switch {
	case svc.Spec.Type == v1.ServiceTypeExternalName:
		if q.Qtype == dns.TypeCNAME || q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
			m.Answer = append(m.Answer, &dns.CNAME{
				Hdr:    dns.RR_Header{Name: q.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: ttl},
				Target: dns.Fqdn(svc.Spec.ExternalName),
			})
		}
		return true
	case q.Qtype != dns.TypeA && q.Qtype != dns.TypeANY:
		return true
	case svc.Spec.ClusterIP == v1.ClusterIPNone:
		ips := readyIPs(s.endpoints(ns, name))
		for _, ip := range ips {
			m.Answer = append(m.Answer, s.a(q.Name, ip))
		}
		return len(ips) > 0
	case svc.Spec.ClusterIP != "":
		m.Answer = append(m.Answer, s.a(q.Name, svc.Spec.ClusterIP))
	}
	return true
}

// endpointHost answers <hostname>.<svc>.<ns>.svc.<domain>, the pods of a
// headless service that name themselves (spec.hostname and subdomain).
func (s *Server) endpointHost(m *dns.Msg, q dns.Question, ns, svc, host string) bool {
	ep := s.endpoints(ns, svc)
	if ep == nil {
		return false
	}
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			if a.Hostname == host || dashed(a.IP) == host {
				if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
					m.Answer = append(m.Answer, s.a(q.Name, a.IP))
				}
				return true
			}
		}
	}
	return false
}

// srv answers _<port>._<proto>.<svc>.<ns>.svc.<domain> for a named port:
// the service's name and port, or for a headless service each ready pod.
func (s *Server) srv(m *dns.Msg, q dns.Question, ns, name, port, proto string) bool {
	svc, ok := s.source.Service(ns, name)
	if !ok {
		return false
	}
	var sp *v1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.Name == port && strings.EqualFold(string(p.Protocol), proto) {
			sp = p
		}
	}
	if sp == nil {
		return false
	}
	if q.Qtype != dns.TypeSRV && q.Qtype != dns.TypeANY {
		return true
	}
	add := func(target, ip string, port int32) {
		m.Answer = append(m.Answer, &dns.SRV{
			Hdr:      dns.RR_Header{Name: q.Name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: ttl},
			Priority: 0, Weight: 100, Port: uint16(port), Target: target,
		})
		m.Extra = append(m.Extra, s.a(target, ip))
	}
	if svc.Spec.ClusterIP != v1.ClusterIPNone {
		if svc.Spec.ClusterIP != "" {
			add(s.fqdn(name, ns, "svc"), svc.Spec.ClusterIP, sp.Port)
		}
		return true
	}
	if ep := s.endpoints(ns, name); ep != nil {
		for _, ss := range ep.Subsets {
			for _, p := range ss.Ports {
				if p.Name != port {
					continue
				}
				for _, a := range ss.Addresses {
					host := a.Hostname
					if host == "" {
						host = dashed(a.IP)
					}
					add(s.fqdn(host, name, ns, "svc"), a.IP, p.Port)
				}
			}
		}
	}
	return true
}

func (s *Server) endpoints(ns, name string) *v1.Endpoints {
	ep, _ := s.source.Endpoints(ns, name)
	return ep
}

func readyIPs(ep *v1.Endpoints) []string {
	if ep == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			if !seen[a.IP] {
				seen[a.IP] = true
				out = append(out, a.IP)
			}
		}
	}
	return out
}

func dashed(ip string) string { return strings.ReplaceAll(ip, ".", "-") }

// forward asks the host's resolvers, in turn, and returns the first
// answer; SERVFAIL when none answers.
func (s *Server) forward(r *dns.Msg, network string) *dns.Msg {
	var lastErr error
	for _, up := range s.upstreams {
		c := &dns.Client{Net: "udp", Timeout: forwardTimeout}
		if network == "tcp" {
			c.Net = "tcp"
		}
		resp, _, err := c.Exchange(r, up)
		if err == nil && resp.Truncated && c.Net == "udp" {
			c.Net = "tcp"
			resp, _, err = c.Exchange(r, up)
		}
		if err == nil {
			return resp
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = errors.New("no resolver")
	}
	s.logger.Debug("DNS forward failed", "name", r.Question[0].Name, "error", lastErr)
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeServerFailure)
	return m
}

// Port is the port the server listens on: DNS's.
const Port = 53

// Addr is host:53.
func Addr(host netip.Addr) string { return net.JoinHostPort(host.String(), strconv.Itoa(Port)) }

// hostResolvConf is the host's resolver configuration.
const hostResolvConf = "/etc/resolv.conf"

// DefaultUpstreams are the host's resolvers; none when the file cannot
// be read (the server then answers only cluster names).
func DefaultUpstreams() []string {
	out, err := HostResolvers(hostResolvConf)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return out
}
