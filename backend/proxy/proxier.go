package proxy

//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// resyncPeriod is how often the rules are written again even without a
// change, and the jumps into them checked (Docker or an admin may have
// flushed a built-in chain).
const resyncPeriod = 30 * time.Second

// coalesce is how long a sync waits after a change for the ones that
// follow it (a scale of many pods).
const coalesce = 10 * time.Millisecond

// Proxier makes connections to services' cluster IPs and node ports reach
// their ready endpoints, through iptables DNAT rules, as kube-proxy's
// iptables mode does. See doc.go.
type Proxier struct {
	tables    Tables
	conntrack Conntrack
	chains    chains
	logger    *slog.Logger
	health    *healthChecker

	mu        sync.Mutex
	services  []*v1.Service            // guarded by mu
	endpoints map[string]*v1.Endpoints // guarded by mu; by namespace/name
	changed   chan struct{}            // capacity 1: a sync is wanted
	// written are the ports of the last rules written (by Run's loop
	// only): their UDP flows are cleared as endpoints go.
	written []ServicePort
	// Synced, when set, is called after each sync that wrote the rules.
	synced func()
}

// ID names the proxy instance of a service network: every chain of the
// instance carries it. Several clusters on one host have different ones.
func ID(network string) string {
	sum := sha256.Sum256([]byte("berth-service-network/" + network))
	return hex.EncodeToString(sum[:4])
}

// New returns a proxier of the service network named network (the
// cluster DNS's address), after checking that the host can run it: an
// error wrapping errUnsupported says what the host lacks.
func New(ctx context.Context, network string, logger *slog.Logger) (*Proxier, error) {
	tables, err := checkHost(ctx)
	if err != nil {
		return nil, err
	}
	return newProxier(tables, netlinkConntrack{}, network, logger), nil
}

func newProxier(tables Tables, ct Conntrack, network string, logger *slog.Logger) *Proxier {
	p := &Proxier{
		tables:    tables,
		conntrack: ct,
		chains:    newChains(ID(network)),
		logger:    logger,
		endpoints: map[string]*v1.Endpoints{},
		changed:   make(chan struct{}, 1),
	}
	p.health = newHealthChecker(logger, p.wake)
	return p
}

// IsUnsupported reports whether err says the host cannot run the proxy.
func IsUnsupported(err error) bool { return errors.Is(err, errUnsupported) }

// Update hands the proxier the services and endpoints of the cluster.
func (p *Proxier) Update(services []*v1.Service, endpoints map[string]*v1.Endpoints) {
	p.mu.Lock()
	p.services, p.endpoints = services, endpoints
	p.mu.Unlock()
	p.wake()
}

func (p *Proxier) wake() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// Run writes the rules and keeps them current until ctx ends, then
// removes them and the jumps into them.
func (p *Proxier) Run(ctx context.Context) error {
	defer p.cleanup()
	var wg sync.WaitGroup
	defer wg.Wait()
	hctx, stop := context.WithCancel(ctx)
	defer stop()
	wg.Go(func() { p.health.run(hctx) })

	ticker := time.NewTicker(resyncPeriod)
	defer ticker.Stop()
	p.wake()
	failing, jumped := false, false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			jumped = false
		case <-p.changed:
			// Let a burst of changes arrive before writing.
			select {
			case <-time.After(coalesce):
			case <-ctx.Done():
				return nil
			}
		}
		err := p.sync(ctx, func() error {
			if jumped {
				return nil
			}
			// The chains exist from the first sync on: only then may
			// the built-in chains jump to them.
			err := p.ensureJumps(ctx)
			jumped = err == nil
			return err
		})
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				p.logger.Error("service proxy: writing the rules failed; retrying", "error", err)
			}
			failing = true
			time.AfterFunc(time.Second, p.wake)
		case err == nil && failing:
			p.logger.Info("service proxy: rules written again")
			failing = false
		}
	}
}

// sync writes the rules of the current state, has jump hook them in
// (the chains exist from then on), then clears the UDP flows whose
// entries the new rules contradict: a flow seen before the jumps were in
// would keep its entry un-NATed.
func (p *Proxier) sync(ctx context.Context, jump func() error) error {
	p.mu.Lock()
	ports := ServicePorts(p.services, p.endpoints)
	p.mu.Unlock()
	// Every ready endpoint is probed, those out of the rules too: they
	// come back when they answer, and are not forgotten (and so put back
	// unprobed) meanwhile.
	var targets []string
	for i := range ports {
		if ports[i].Protocol == v1.ProtocolTCP {
			for _, e := range ports[i].Endpoints {
				targets = append(targets, e.String())
			}
		}
		ports[i].Endpoints = p.answering(ports[i])
	}
	p.health.setTargets(sets.List(sets.New(targets...)))
	existing, err := p.tables.Chains(ctx, "nat")
	if err != nil {
		return err
	}
	if err := p.tables.Restore(ctx, buildRules(p.chains, ports, existing)); err != nil {
		return err
	}
	if err := jump(); err != nil {
		return err
	}
	p.clearFlows(ctx, ports)
	if p.synced != nil {
		p.synced()
	}
	return nil
}

// clearFlows deletes the conntrack entries of the UDP flows that the
// rules just written for ports no longer send where their entries do
// (staleFlows): the next packet of such a flow is DNATed anew.
func (p *Proxier) clearFlows(ctx context.Context, ports []ServicePort) {
	flows := staleFlows(p.written, ports)
	p.written = ports
	if len(flows) == 0 {
		return
	}
	n, err := p.conntrack.ClearUDP(ctx, flows)
	if err != nil {
		// The rules are right; such flows reach a gone endpoint until
		// their entries time out.
		p.logger.Warn("service proxy: clearing conntrack entries of UDP flows failed", "flows", len(flows), "error", err)
		return
	}
	if n > 0 {
		p.logger.Info("service proxy: conntrack entries of UDP flows cleared", "entries", n, "flows", len(flows))
	}
}

// answering are the endpoints of a port that pass their health checks;
// all of them when none does (better a failure than no service when the
// checks themselves cannot reach the pods).
func (p *Proxier) answering(sp ServicePort) []Endpoint {
	if sp.Protocol != v1.ProtocolTCP {
		return sp.Endpoints
	}
	var out []Endpoint
	for _, e := range sp.Endpoints {
		if p.health.healthy(e.String()) {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return sp.Endpoints
	}
	return out
}

func (p *Proxier) ensureJumps(ctx context.Context) error {
	var errs []error
	for _, j := range p.chains.jumps() {
		errs = append(errs, p.tables.EnsureJump(ctx, j))
	}
	return errors.Join(errs...)
}

// cleanup removes the instance's jumps and chains from the host.
func (p *Proxier) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Cleanup(ctx, p.tables, p.chains.id); err != nil {
		p.logger.Error("service proxy: removing its rules", "error", err)
		return
	}
	p.logger.Info("service proxy: rules removed")
}

// Cleanup removes every rule and chain of the proxy instance id.
func Cleanup(ctx context.Context, tables Tables, id string) error {
	c := newChains(id)
	var errs []error
	for _, j := range c.jumps() {
		errs = append(errs, tables.DeleteJump(ctx, j))
	}
	for _, table := range []string{"nat", "filter"} {
		existing, err := tables.Chains(ctx, table)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var mine []string
		for ch := range existing {
			if c.owns(ch) {
				mine = append(mine, ch)
			}
		}
		errs = append(errs, tables.DeleteChains(ctx, table, mine))
	}
	return errors.Join(errs...)
}
