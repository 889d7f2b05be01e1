package fake

import (
	"context"
	"slices"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// What a fake container uses unless its env says otherwise.
const (
	defaultCPUMillis   = 100
	defaultMemoryBytes = 16 << 20
	// The infra container's simulated traffic, per second of its life.
	infraRxBytesPerSecond = 1024
	infraTxBytesPerSecond = 512
)

// Stats computes each running container's counters from the clock: CPU
// time at its FAKE_CPU_MILLICORES since its current instance started, a
// steady FAKE_MEMORY_BYTES, and traffic through the infra container since
// the pod was made; see runtime.Runtime.
func (r *Runtime) Stats(_ context.Context, uid string) ([]runtime.ContainerStats, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	now := r.now()
	var out []runtime.ContainerStats
	for _, p := range r.pods {
		if uid != "" && p.uid != uid {
			continue
		}
		base := runtime.ContainerStats{PodUID: p.uid, Namespace: p.namespace, PodName: p.name}
		infra := base
		infra.Container, infra.ID, infra.StartedAt = runtime.InfraContainerName, "fake-infra-"+p.uid, p.created
		alive := now.Sub(p.created).Seconds()
		infra.NetworkRxBytes = uint64(alive * infraRxBytesPerSecond)
		infra.NetworkTxBytes = uint64(alive * infraTxBytesPerSecond)
		out = append(out, infra)
		for _, c := range p.containers {
			c.advance(now)
			in := c.current
			if in == nil || now.Before(in.start) || !in.finished.IsZero() {
				continue
			}
			st := base
			st.Container, st.ID, st.StartedAt = c.name, in.id, in.start
			st.CPUNanos = uint64(now.Sub(in.start)) * uint64(c.cpuMillis) / 1000
			st.MemoryBytes = c.memoryBytes
			out = append(out, st)
		}
	}
	return out, nil
}

// Finished reports the instances that have exited and that the agent has
// not released, with their CPU time to the end; see runtime.Runtime.
func (r *Runtime) Finished(_ context.Context, uid string) ([]runtime.ContainerStats, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	now := r.now()
	var out []runtime.ContainerStats
	for _, p := range r.pods {
		if uid != "" && p.uid != uid {
			continue
		}
		for _, c := range p.containers {
			c.advance(now)
			for _, in := range []*instance{c.previous, c.current} {
				if in == nil || in.finished.IsZero() || in.released {
					continue
				}
				out = append(out, runtime.ContainerStats{
					PodUID: p.uid, Namespace: p.namespace, PodName: p.name, Container: c.name, ID: in.id,
					StartedAt: in.start, FinishedAt: in.finished,
					CPUNanos:        uint64(in.finished.Sub(in.start)) * uint64(c.cpuMillis) / 1000,
					MemoryPeakBytes: c.memoryBytes,
				})
			}
		}
	}
	return out, nil
}

// ReleaseFinished forgets the ends of those instances; see
// runtime.Runtime.
func (r *Runtime) ReleaseFinished(_ context.Context, ids []string) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	for _, p := range r.pods {
		for _, c := range p.containers {
			for _, in := range []*instance{c.previous, c.current} {
				if in != nil && !in.finished.IsZero() && slices.Contains(ids, in.id) {
					in.released = true
				}
			}
		}
	}
	return nil
}
