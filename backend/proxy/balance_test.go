package proxy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// hostTables are the host's iptables for a test, or a skip where the test
// cannot change them. Every chain of the instance id and the jumps into
// them are removed when the test ends.
func hostTables(t *testing.T, id string) *execTables {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("changing the host's iptables needs root")
	}
	tables, err := newExecTables(t.Context())
	if err != nil {
		t.Skipf("no usable iptables: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := Cleanup(ctx, tables, id); err != nil {
			t.Errorf("removing the test's rules: %v", err)
		}
	})
	return tables
}

// TestRewritesDoNotStarveEndpoints: a UDP service of six endpoints
// (listeners on loopback addresses) on the host's iptables, its rules
// written again after every second flow, as syncs write them on any
// change in the cluster: every endpoint still gets flows. With a round
// robin by nth counters, which start again with their rule, four of the
// six got none (as a new replica once answered none of 120 requests in
// TestServicesAcrossAgents).
func TestRewritesDoNotStarveEndpoints(t *testing.T) {
	c := newChains(ID(fmt.Sprintf("test-balance-%d", time.Now().UnixNano())))
	tables := hostTables(t, c.id)
	ctx := t.Context()

	const endpoints, flows = 6, 120
	var (
		mu       sync.Mutex
		received = map[string]int{}
		total    int
		wg       sync.WaitGroup
	)
	sp := ServicePort{
		Name:      "demo/balance:udp",
		ClusterIP: netip.AddrFrom4([4]byte{127, 2, byte(rand.IntN(250) + 1), byte(rand.IntN(250) + 1)}).String(),
		Port:      53, Protocol: v1.ProtocolUDP,
	}
	// Runs after the listeners' Close, registered later, ends the readers.
	t.Cleanup(wg.Wait)
	for i := range endpoints {
		l, err := net.ListenPacket("udp4", fmt.Sprintf("127.1.0.%d:0", i+1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		addr := l.LocalAddr().(*net.UDPAddr)
		sp.Endpoints = append(sp.Endpoints, Endpoint{IP: addr.IP.String(), Port: int32(addr.Port)})
		wg.Go(func() {
			buf := make([]byte, 16)
			for {
				if _, _, err := l.ReadFrom(buf); err != nil {
					return
				}
				mu.Lock()
				received[addr.String()]++
				total++
				mu.Unlock()
			}
		})
	}
	write := func() {
		existing, err := tables.Chains(ctx, "nat")
		if err != nil {
			t.Fatal(err)
		}
		if err := tables.Restore(ctx, buildRules(c, []ServicePort{sp}, existing)); err != nil {
			t.Fatal(err)
		}
	}
	write()
	for _, j := range c.jumps() {
		if j.table == "nat" && j.chain == "OUTPUT" {
			if err := tables.EnsureJump(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
	}
	service := &net.UDPAddr{IP: net.ParseIP(sp.ClusterIP), Port: int(sp.Port)}
	for i := range flows {
		if i%2 == 0 {
			write()
		}
		// A socket of its own: a new source port, a new flow.
		conn, err := net.DialUDP("udp4", nil, service)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := total
		mu.Unlock()
		if n == flows || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if total != flows {
		t.Fatalf("the endpoints got %d of %d datagrams: %v", total, flows, received)
	}
	for _, e := range sp.Endpoints {
		if received[e.String()] == 0 {
			t.Errorf("endpoint %s got none of %d flows: %v", e, flows, received)
		}
	}
}
