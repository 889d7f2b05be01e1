package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"golang.org/x/sync/errgroup"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// statsParallel bounds the stats requests in flight: the engine answers
// each from the container's cgroup, and a few at a time keep a sample of
// hundreds of containers short without crowding the engine.
const statsParallel = 8

// Stats samples the running containers of this runtime's scope with the
// engine's one-shot stats; see runtime.Runtime. A container that stops
// while it is sampled is left out.
func (r *Runtime) Stats(ctx context.Context, uid string) ([]runtime.ContainerStats, error) {
	label := runtime.LabelPodUID
	if uid != "" {
		label += "=" + uid
	}
	list, err := r.cli.ContainerList(ctx, container.ListOptions{
		Filters: filters.NewArgs(filters.Arg("label", label), filters.Arg("label", LabelScope+"="+r.scope),
			filters.Arg("status", "running")),
	})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", engineError(err))
	}
	var mu sync.Mutex
	out := make([]runtime.ContainerStats, 0, len(list))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(statsParallel)
	for _, s := range list {
		l := s.Labels
		base := runtime.ContainerStats{
			PodUID: l[runtime.LabelPodUID], Namespace: l[runtime.LabelPodNamespace], PodName: l[runtime.LabelPodName],
			Container: l[runtime.LabelContainer], ID: s.ID,
		}
		if base.PodUID == "" || base.Container == "" {
			continue
		}
		g.Go(func() error {
			st, err := r.containerStats(gctx, base)
			if errors.Is(err, runtime.ErrNotFound) || errors.Is(err, errNotRunning) {
				return nil
			}
			if err != nil {
				return err
			}
			mu.Lock()
			out = append(out, st)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// errNotRunning: the container stopped between the list and its stats
// (the engine then answers zeroes).
var errNotRunning = errors.New("container not running")

func (r *Runtime) containerStats(ctx context.Context, st runtime.ContainerStats) (runtime.ContainerStats, error) {
	info, err := r.cli.ContainerInspect(ctx, st.ID)
	if err != nil {
		return st, fmt.Errorf("container %s: %w", st.ID, engineError(err))
	}
	if info.State == nil || !info.State.Running {
		return st, errNotRunning
	}
	st.StartedAt = parseTime(info.State.StartedAt)
	resp, err := r.cli.ContainerStatsOneShot(ctx, st.ID)
	if err != nil {
		return st, fmt.Errorf("stats of container %s: %w", st.ID, engineError(err))
	}
	defer resp.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return st, fmt.Errorf("stats of container %s: %w", st.ID, err)
	}
	if s.Read.IsZero() || s.CPUStats.CPUUsage.TotalUsage == 0 && s.MemoryStats.Usage == 0 {
		return st, errNotRunning
	}
	st.CPUNanos = s.CPUStats.CPUUsage.TotalUsage
	st.MemoryBytes = workingSet(s.MemoryStats)
	for _, n := range s.Networks {
		st.NetworkRxBytes += n.RxBytes
		st.NetworkTxBytes += n.TxBytes
	}
	return st, nil
}

// workingSet is memory usage less the inactive file pages, as the kubelet
// (and kubectl top) count it: cgroup v2 names them inactive_file, v1
// total_inactive_file.
func workingSet(m container.MemoryStats) int64 {
	inactive, ok := m.Stats["inactive_file"]
	if !ok {
		inactive = m.Stats["total_inactive_file"]
	}
	if inactive > m.Usage {
		return 0
	}
	return int64(m.Usage - inactive)
}
