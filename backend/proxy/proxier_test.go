package proxy

//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// fakeTables keeps the chains and jumps a proxier writes, beside the
// real iptables of the integration tests (test/e2e).
type fakeTables struct {
	mu     sync.Mutex
	chains map[string]map[string]bool // by table
	rules  map[string][]string        // by chain, the last restore's
	jumps  map[string]jump
}

func newFakeTables() *fakeTables {
	return &fakeTables{
		chains: map[string]map[string]bool{"nat": {"PREROUTING": true}, "filter": {"FORWARD": true}},
		rules:  map[string][]string{},
		jumps:  map[string]jump{},
	}
}

func (f *fakeTables) Restore(_ context.Context, rules string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	table := ""
	for _, l := range strings.Split(rules, "\n") {
		switch {
		case strings.HasPrefix(l, "*"):
			table = l[1:]
		case strings.HasPrefix(l, ":"):
			name := strings.Fields(l[1:])[0]
			f.chains[table][name] = true
			f.rules[name] = nil
		case strings.HasPrefix(l, "-A "):
			chain := strings.Fields(l)[1]
			f.rules[chain] = append(f.rules[chain], l)
		case strings.HasPrefix(l, "-X "):
			delete(f.chains[table], strings.Fields(l)[1])
			delete(f.rules, strings.Fields(l)[1])
		}
	}
	return nil
}

func (f *fakeTables) Chains(_ context.Context, table string) (map[string]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.chains[table]), nil
}

func (f *fakeTables) EnsureJump(_ context.Context, j jump) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jumps[j.table+" "+j.chain+" "+strings.Join(j.args, " ")] = j
	return nil
}

func (f *fakeTables) DeleteJump(_ context.Context, j jump) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.jumps, j.table+" "+j.chain+" "+strings.Join(j.args, " "))
	return nil
}

func (f *fakeTables) DeleteChains(_ context.Context, table string, chains []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range chains {
		delete(f.chains[table], ch)
		delete(f.rules, ch)
	}
	return nil
}

// dnats are the destinations the rules send connections to.
func (f *fakeTables) dnats() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, rules := range f.rules {
		for _, r := range rules {
			if _, to, ok := strings.Cut(r, "--to-destination "); ok {
				out = append(out, to)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestProxierFollowsEndpointsAndCleansUp: the rules follow the endpoints
// as they change, and when the proxier stops nothing of it is left.
func TestProxierFollowsEndpointsAndCleansUp(t *testing.T) {
	tables := newFakeTables()
	p := newProxier(tables, noConntrack{}, "10.96.0.0/16", slog.New(slog.DiscardHandler))
	p.health.dial = func(context.Context, string) error { return nil }
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

	svc := []*v1.Service{service("web", "10.96.0.5", nil)}
	waitDNATs := func(want ...string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for !slices.Equal(tables.dnats(), want) {
			select {
			case <-synced:
			case <-deadline:
				t.Fatalf("the rules send to %q, want %q", tables.dnats(), want)
			}
		}
	}
	p.Update(svc, map[string]*v1.Endpoints{"demo/web": endpoints("web", map[string]string{"10.244.0.2": "a", "10.244.1.2": "b"}, nil)})
	waitDNATs("10.244.0.2:8080", "10.244.1.2:8080")
	p.Update(svc, map[string]*v1.Endpoints{"demo/web": endpoints("web", map[string]string{"10.244.1.2": "b"}, map[string]string{"10.244.0.2": "a"})})
	waitDNATs("10.244.1.2:8080")
	p.Update(nil, nil)
	waitDNATs()

	deadline := time.After(10 * time.Second)
	for {
		tables.mu.Lock()
		n := len(tables.jumps)
		tables.mu.Unlock()
		if n == len(p.chains.jumps()) {
			break
		}
		select {
		case <-synced:
		case <-deadline:
			t.Fatalf("%d jumps into the chains, want %d", n, len(p.chains.jumps()))
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	tables.mu.Lock()
	defer tables.mu.Unlock()
	if len(tables.jumps) != 0 {
		t.Errorf("jumps left after the proxier stopped: %v", slices.Collect(maps.Keys(tables.jumps)))
	}
	for table, chains := range tables.chains {
		for ch := range chains {
			if strings.HasPrefix(ch, "BERTH-") {
				t.Errorf("chain %s left in %s", ch, table)
			}
		}
	}
}

// TestHealthCheckTakesOutDeadEndpoints: an endpoint that no longer
// accepts connections leaves the rules after failedProbes probes, and
// comes back once it answers again; when none answers, all stay.
func TestHealthCheckTakesOutDeadEndpoints(t *testing.T) {
	var mu sync.Mutex
	dead := map[string]bool{}
	p := newProxier(newFakeTables(), noConntrack{}, "10.96.0.0/16", slog.New(slog.DiscardHandler))
	p.health.dial = func(_ context.Context, addr string) error {
		mu.Lock()
		defer mu.Unlock()
		if dead[addr] {
			return context.DeadlineExceeded
		}
		return nil
	}
	sp := ServicePort{Protocol: v1.ProtocolTCP, Endpoints: []Endpoint{{IP: "10.244.0.2", Port: 80}, {IP: "10.244.1.2", Port: 80}}}
	p.health.setTargets([]string{"10.244.0.2:80", "10.244.1.2:80"})
	changes := 0
	p.health.changed = func() { changes++ }
	probe := func() { p.health.probeOnce(t.Context()) }
	mu.Lock()
	dead["10.244.0.2:80"] = true
	mu.Unlock()
	for range failedProbes {
		probe()
	}
	if got := p.answering(sp); !slices.Equal(got, sp.Endpoints[1:]) || changes != 1 {
		t.Errorf("after %d failed probes: %v (%d changes told)", failedProbes, got, changes)
	}
	mu.Lock()
	dead["10.244.1.2:80"] = true
	mu.Unlock()
	for range failedProbes {
		probe()
	}
	if got := p.answering(sp); !slices.Equal(got, sp.Endpoints) {
		t.Errorf("none answering: %v, want all", got)
	}
	mu.Lock()
	clear(dead)
	mu.Unlock()
	probe()
	if got := p.answering(sp); !slices.Equal(got, sp.Endpoints) {
		t.Errorf("all answering again: %v", got)
	}
}

// TestDeadEndpointStaysOut: an endpoint the probes took out of the rules
// stays out across later syncs until it answers again (it used to be
// forgotten by the sync that took it out, and put back unprobed).
func TestDeadEndpointStaysOut(t *testing.T) {
	tables := newFakeTables()
	p := newProxier(tables, noConntrack{}, "10.96.0.0/16", slog.New(slog.DiscardHandler))
	var mu sync.Mutex
	dead := map[string]bool{"10.244.0.2:8080": true}
	p.health.dial = func(_ context.Context, addr string) error {
		mu.Lock()
		defer mu.Unlock()
		if dead[addr] {
			return context.DeadlineExceeded
		}
		return nil
	}
	svc := []*v1.Service{service("web", "10.96.0.5", nil)}
	eps := map[string]*v1.Endpoints{"demo/web": endpoints("web", map[string]string{"10.244.0.2": "a", "10.244.1.2": "b"}, nil)}
	p.Update(svc, eps)
	sync := func() []string {
		t.Helper()
		if err := p.sync(t.Context(), func() error { return nil }); err != nil {
			t.Fatal(err)
		}
		return tables.dnats()
	}
	if got := sync(); len(got) != 2 {
		t.Fatalf("before any probe: %q, want both endpoints", got)
	}
	for range failedProbes {
		p.health.probeOnce(t.Context())
	}
	for i := range 3 {
		if got := sync(); !slices.Equal(got, []string{"10.244.1.2:8080"}) {
			t.Fatalf("sync %d after the probes failed: %q, want only the live endpoint", i, got)
		}
		p.health.probeOnce(t.Context())
	}
	mu.Lock()
	clear(dead)
	mu.Unlock()
	p.health.probeOnce(t.Context())
	if got := sync(); len(got) != 2 {
		t.Fatalf("answering again: %q, want both endpoints", got)
	}
}
