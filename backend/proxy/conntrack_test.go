package proxy

//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// noConntrack clears nothing, for the proxier tests on fake tables.
type noConntrack struct{}

func (noConntrack) ClearUDP(context.Context, []Flow) (int, error) { return 0, nil }

func TestStaleFlows(t *testing.T) {
	a, b := Endpoint{IP: "10.244.0.2", Port: 5353}, Endpoint{IP: "10.244.1.2", Port: 5353}
	dns := func(nodePort int32, eps ...Endpoint) ServicePort {
		return ServicePort{Name: "demo/dns:dns", ClusterIP: "10.96.0.10", Port: 53, NodePort: nodePort, Protocol: v1.ProtocolUDP, Endpoints: eps}
	}
	web := ServicePort{Name: "demo/web:http", ClusterIP: "10.96.0.5", Port: 80, Protocol: v1.ProtocolTCP, Endpoints: []Endpoint{a}}
	cip := netip.MustParseAddr("10.96.0.10")
	to := func(e Endpoint) netip.Addr { return netip.MustParseAddr(e.IP) }
	tests := []struct {
		name          string
		before, after []ServicePort
		want          []Flow
	}{{
		name:   "nothing changed",
		before: []ServicePort{dns(0, a, b)}, after: []ServicePort{dns(0, b, a)},
	}, {
		name:   "an endpoint replaced: its flows go",
		before: []ServicePort{dns(0, a)}, after: []ServicePort{dns(0, b)},
		want: []Flow{{Dst: cip, Port: 53, Endpoint: to(a), EndpointPort: 5353}},
	}, {
		name:   "an endpoint gone from a node port service: by cluster IP and by node port",
		before: []ServicePort{dns(30053, a, b)}, after: []ServicePort{dns(30053, b)},
		want: []Flow{{Dst: cip, Port: 53, Endpoint: to(a), EndpointPort: 5353}, {Port: 30053, Endpoint: to(a), EndpointPort: 5353}},
	}, {
		name:   "the service deleted",
		before: []ServicePort{dns(0, a)},
		want:   []Flow{{Dst: cip, Port: 53, Endpoint: to(a), EndpointPort: 5353}},
	}, {
		name:   "a service that gets its first endpoint: what reached it without one goes",
		before: []ServicePort{dns(30053)}, after: []ServicePort{dns(30053, a)},
		want: []Flow{{Dst: cip, Port: 53}, {Port: 30053}},
	}, {
		name:  "the first sync: every served UDP port is new",
		after: []ServicePort{dns(0, a), web},
		want:  []Flow{{Dst: cip, Port: 53}},
	}, {
		name:   "TCP services are left alone",
		before: []ServicePort{web},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := staleFlows(tt.before, tt.after)
			if !slices.Equal(got, tt.want) {
				t.Errorf("staleFlows:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

// TestUDPFlowFollowsReplacedEndpoint: a client of a UDP service keeps
// sending from one source port (as resolvers do) while the service's only
// endpoint is replaced; its datagrams reach the new endpoint, on the
// host's iptables and conntrack. Without the entries cleared, the flow's
// entry kept DNATing them to the gone endpoint for as long as the client
// sent.
func TestUDPFlowFollowsReplacedEndpoint(t *testing.T) {
	network := fmt.Sprintf("test-conntrack-%d", time.Now().UnixNano())
	tables := hostTables(t, ID(network))
	p := newProxier(tables, netlinkConntrack{}, network, slog.New(slog.DiscardHandler))
	synced := make(chan struct{}, 1)
	p.synced = func() {
		select {
		case synced <- struct{}{}:
		default:
		}
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	// Endpoints are UDP listeners on loopback addresses; the cluster IP
	// is one too, so that nothing leaves the host.
	listen := func(ip string) (net.PacketConn, Endpoint) {
		l, err := net.ListenPacket("udp4", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l, Endpoint{IP: ip, Port: int32(l.LocalAddr().(*net.UDPAddr).Port)}
	}
	first, firstEP := listen("127.1.0.1")
	second, secondEP := listen("127.1.0.2")
	clusterIP := netip.AddrFrom4([4]byte{127, 3, byte(rand.IntN(250) + 1), byte(rand.IntN(250) + 1)})
	svc := []*v1.Service{{Spec: v1.ServiceSpec{ClusterIP: clusterIP.String(), Ports: []v1.ServicePort{{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP}}}}}
	svc[0].Namespace, svc[0].Name = "demo", "dns"
	update := func(e Endpoint) {
		t.Helper()
		ep := endpoints("dns", map[string]string{e.IP: "a"}, nil, v1.EndpointPort{Name: "dns", Port: e.Port, Protocol: v1.ProtocolUDP})
		p.Update(svc, map[string]*v1.Endpoints{"demo/dns": ep})
		// The sync that follows the update has written the rules and
		// cleared the entries.
		deadline := time.After(10 * time.Second)
		for {
			select {
			case <-synced:
			case <-deadline:
				t.Fatalf("no sync with endpoint %s", e)
			}
			out, err := tables.run(t.Context(), nil, "iptables-save", "-t", "nat")
			if err == nil && slices.ContainsFunc(strings.Split(string(out), "\n"), func(l string) bool {
				return strings.Contains(l, p.chains.id) && strings.HasSuffix(l, "--to-destination "+e.String())
			}) {
				return
			}
		}
	}

	client, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(clusterIP, 53)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	// reaches sends from the client's one source port until l gets a
	// datagram, for up to 5 s.
	reaches := func(l net.PacketConn) bool {
		buf := make([]byte, 64)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			// A gone endpoint's port unreachable comes back as
			// ECONNREFUSED on the next write.
			if _, err := client.Write([]byte("query")); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatal(err)
			}
			l.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, _, err := l.ReadFrom(buf); err == nil {
				return true
			}
		}
		return false
	}

	update(firstEP)
	if !reaches(first) {
		t.Fatalf("the client's datagrams never reached the endpoint %s", firstEP)
	}
	update(secondEP)
	first.Close()
	if !reaches(second) {
		t.Fatalf("after the endpoint %s was replaced by %s, the client (source %s) still did not reach it", firstEP, secondEP, client.LocalAddr())
	}
}
