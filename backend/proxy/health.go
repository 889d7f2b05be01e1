package proxy

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Health checking stands in, in iptables mode, for the userspace proxy's
// retry on another endpoint: a TCP endpoint that stops accepting
// connections (its node died with it) is taken out of the rules after
// failedProbes probes in a row, and put back after one that succeeds:
// within about probeInterval*failedProbes+probeTimeout (0.75 s), well
// inside a client's first connect timeout, so that its retry finds the
// endpoint gone. A probe is a TCP connect to a pod nearby (the cluster's
// nodes share a link): a few milliseconds even on a loaded host.
//
// UDP endpoints are not probed, as kube-proxy probes none: a datagram
// that gets no answer proves nothing, and what a service answers is its
// own protocol's business. A UDP endpoint leaves the rules when its pod
// leaves the service's ready addresses (its readiness probe fails, it
// is deleted, or the node lifecycle controller evicts the pods of a
// node gone for its eviction timeout), and the conntrack entries of its
// flows go with it (clearFlows).
const (
	probeInterval = 250 * time.Millisecond
	probeTimeout  = 250 * time.Millisecond
	failedProbes  = 2
)

// healthChecker probes endpoints and remembers which fail.
type healthChecker struct {
	dial   func(ctx context.Context, addr string) error
	logger *slog.Logger
	// changed is told when an endpoint's health changes.
	changed func()

	mu       sync.Mutex
	failures map[string]int // guarded by mu; by ip:port, the probes failed in a row
	targets  []string       // guarded by mu; what to probe
}

func newHealthChecker(logger *slog.Logger, changed func()) *healthChecker {
	d := &net.Dialer{Timeout: probeTimeout}
	return &healthChecker{
		dial: func(ctx context.Context, addr string) error {
			c, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				c.Close()
			}
			return err
		},
		changed:  changed,
		logger:   logger,
		failures: map[string]int{},
	}
}

// setTargets replaces the endpoints to probe; those that go are
// forgotten.
func (h *healthChecker) setTargets(addrs []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.targets = addrs
	keep := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		keep[a] = true
	}
	for a := range h.failures {
		if !keep[a] {
			delete(h.failures, a)
		}
	}
}

// healthy reports whether addr answers (endpoints not probed yet do).
func (h *healthChecker) healthy(addr string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failures[addr] < failedProbes
}

// run probes every target each probeInterval until ctx ends.
func (h *healthChecker) run(ctx context.Context) {
	ticker := time.NewTicker(probeInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		h.probeOnce(ctx)
	}
}

// probeOnce probes every target once, at the same time, and tells
// changed when an endpoint's health changed.
func (h *healthChecker) probeOnce(ctx context.Context) {
	h.mu.Lock()
	targets := append([]string(nil), h.targets...)
	h.mu.Unlock()
	var wg sync.WaitGroup
	results := make([]error, len(targets))
	for i, addr := range targets {
		wg.Go(func() { results[i] = h.dial(ctx, addr) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	changed := false
	h.mu.Lock()
	for i, addr := range targets {
		before := h.failures[addr] < failedProbes
		if results[i] == nil {
			delete(h.failures, addr)
		} else {
			h.failures[addr]++
		}
		now := h.failures[addr] < failedProbes
		if before != now {
			changed = true
			if now {
				h.logger.Info("service proxy: endpoint answers again; back in the rules", "endpoint", addr)
			} else {
				h.logger.Warn("service proxy: endpoint does not accept connections; out of the rules", "endpoint", addr, "error", results[i])
			}
		}
	}
	h.mu.Unlock()
	if changed {
		h.changed()
	}
}
