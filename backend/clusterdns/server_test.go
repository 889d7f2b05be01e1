package clusterdns

//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// source is a fixed set of services and endpoints.
type source struct {
	services  map[string]*v1.Service
	endpoints map[string]*v1.Endpoints
}

func (s source) Service(ns, name string) (*v1.Service, bool) {
	v, ok := s.services[ns+"/"+name]
	return v, ok
}

func (s source) Endpoints(ns, name string) (*v1.Endpoints, bool) {
	v, ok := s.endpoints[ns+"/"+name]
	return v, ok
}

func testSource() source {
	svc := func(name, ip string, ports ...v1.ServicePort) *v1.Service {
		return &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: name}, Spec: v1.ServiceSpec{ClusterIP: ip, Ports: ports}}
	}
	http := v1.ServicePort{Name: "http", Port: 80, Protocol: v1.ProtocolTCP}
	ext := svc("ext", "")
	ext.Spec.Type, ext.Spec.ExternalName = v1.ServiceTypeExternalName, "example.org"
	return source{
		services: map[string]*v1.Service{
			"demo/web":  svc("web", "10.96.0.5", http),
			"demo/db":   svc("db", v1.ClusterIPNone, v1.ServicePort{Name: "pg", Port: 5432, Protocol: v1.ProtocolTCP}),
			"demo/none": svc("none", v1.ClusterIPNone),
			"demo/ext":  ext,
		},
		endpoints: map[string]*v1.Endpoints{
			"demo/db": {ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "db"}, Subsets: []v1.EndpointSubset{{
				Addresses:         []v1.EndpointAddress{{IP: "10.244.0.7", Hostname: "db-0"}, {IP: "10.244.1.8"}},
				NotReadyAddresses: []v1.EndpointAddress{{IP: "10.244.2.9"}},
				Ports:             []v1.EndpointPort{{Name: "pg", Port: 5432, Protocol: v1.ProtocolTCP}},
			}}},
		},
	}
}

// recorder is a dns.ResponseWriter that keeps the answer.
type recorder struct {
	dns.ResponseWriter
	msg *dns.Msg
}

func (r *recorder) RemoteAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(10, 244, 0, 2), Port: 5353}
}
func (r *recorder) WriteMsg(m *dns.Msg) error { r.msg = m; return nil }

func query(s *Server, name string, qtype uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	w := &recorder{}
	s.ServeDNS(w, q)
	return w.msg
}

// values are an answer's records as "TYPE value".
func values(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, "A "+rr.A.String())
		case *dns.CNAME:
			out = append(out, "CNAME "+rr.Target)
		case *dns.SRV:
			out = append(out, "SRV "+rr.Target+":"+strconv.Itoa(int(rr.Port)))
		}
	}
	sort.Strings(out)
	return out
}

func TestServeDNS(t *testing.T) {
	s := New(testSource(), "cluster.local", nil, slog.New(slog.DiscardHandler))
	tests := []struct {
		name  string
		qtype uint16
		rcode int
		want  []string
	}{
		{"web.demo.svc.cluster.local", dns.TypeA, dns.RcodeSuccess, []string{"A 10.96.0.5"}},
		{"WEB.Demo.svc.cluster.local", dns.TypeA, dns.RcodeSuccess, []string{"A 10.96.0.5"}},
		{"web.demo.svc.cluster.local", dns.TypeAAAA, dns.RcodeSuccess, nil},
		{"gone.demo.svc.cluster.local", dns.TypeA, dns.RcodeNameError, nil},
		{"web.other.svc.cluster.local", dns.TypeA, dns.RcodeNameError, nil},
		// Headless: the ready pods, by name too; none ready: no such name.
		{"db.demo.svc.cluster.local", dns.TypeA, dns.RcodeSuccess, []string{"A 10.244.0.7", "A 10.244.1.8"}},
		{"db-0.db.demo.svc.cluster.local", dns.TypeA, dns.RcodeSuccess, []string{"A 10.244.0.7"}},
		{"none.demo.svc.cluster.local", dns.TypeA, dns.RcodeNameError, nil},
		{"ext.demo.svc.cluster.local", dns.TypeA, dns.RcodeSuccess, []string{"CNAME example.org."}},
		// SRV of named ports.
		{"_http._tcp.web.demo.svc.cluster.local", dns.TypeSRV, dns.RcodeSuccess, []string{"SRV web.demo.svc.cluster.local.:80"}},
		{"_pg._tcp.db.demo.svc.cluster.local", dns.TypeSRV, dns.RcodeSuccess, []string{"SRV 10-244-1-8.db.demo.svc.cluster.local.:5432", "SRV db-0.db.demo.svc.cluster.local.:5432"}},
		{"_http._udp.web.demo.svc.cluster.local", dns.TypeSRV, dns.RcodeNameError, nil},
		{"10-244-3-4.demo.pod.cluster.local", dns.TypeA, dns.RcodeSuccess, []string{"A 10.244.3.4"}},
		{"web.demo.cluster.local", dns.TypeA, dns.RcodeNameError, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
			m := query(s, tt.name, tt.qtype)
			if m.Rcode != tt.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.rcode])
			}
			if got := values(m); !slices.Equal(got, tt.want) {
				t.Errorf("answer %q, want %q", got, tt.want)
			}
			if !m.Authoritative {
				t.Error("an answer about the cluster must be authoritative")
			}
		})
	}
}

// TestForward: names outside the cluster domain go to the host's
// resolvers; SERVFAIL when none answers.
func TestForward(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upstream := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)})
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	upstream.NotifyStartedFunc = func() { close(started) }
	go func() { _ = upstream.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = upstream.Shutdown() })

	s := New(testSource(), "cluster.local", []string{pc.LocalAddr().String()}, slog.New(slog.DiscardHandler))
	if got := values(query(s, "example.org", dns.TypeA)); !slices.Equal(got, []string{"A 192.0.2.1"}) {
		t.Errorf("forwarded answer %q", got)
	}
	closed, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := closed.LocalAddr().String()
	closed.Close()
	s = New(testSource(), "cluster.local", []string{dead}, slog.New(slog.DiscardHandler))
	if m := query(s, "example.org", dns.TypeA); m.Rcode != dns.RcodeServerFailure {
		t.Errorf("no resolver answering: rcode %s, want SERVFAIL", dns.RcodeToString[m.Rcode])
	}
}

func TestHostResolvers(t *testing.T) {
	path := t.TempDir() + "/resolv.conf"
	if err := os.WriteFile(path, []byte("nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch example.org\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := HostResolvers(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"192.0.2.53:53", "[2001:db8::53]:53"}; !slices.Equal(got, want) {
		t.Errorf("HostResolvers = %q, want %q", got, want)
	}
	if !strings.HasSuffix(Addr(netip.MustParseAddr("10.244.0.1")), ":53") {
		t.Error("Addr must be on DNS's port")
	}
}

// TestStopsWhenCancelledAtOnce: a server whose context ends before its
// listeners started serving must stop too. miekg/dns's Shutdown does
// nothing to a server not started yet, which then served on, and berth up
// hung on SIGTERM waiting for it (an e2e run's TestLogsAcrossMasterRestarts).
func TestStopsWhenCancelledAtOnce(t *testing.T) {
	s := New(testSource(), "cluster.local", nil, slog.New(slog.DiscardHandler))
	for i := range 20 {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		done := make(chan error, 1)
		go func() { done <- s.ListenAndServe(ctx, "127.0.0.1:0") }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("try %d: ListenAndServe still serving 5s after its context ended", i)
		}
	}
}
