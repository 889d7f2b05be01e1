package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/client"
)

const (
	// DefaultUsageInterval is the sampling window of usage metering.
	DefaultUsageInterval = 15 * time.Second
	// usageBatchRecords bounds the records of one delivery.
	usageBatchRecords = 4000
	// UsageRecordsPath is where the master takes usage batches.
	UsageRecordsPath = "/apis/berth.dev/v1/usagerecords"
)

// usageMeter samples every running container each interval into usage
// records, spools them on disk, and delivers the spool to the master in
// order. See doc.go ("Usage metering").
type usageMeter struct {
	node  string
	rt    runtime.Runtime
	spool *spool
	log   *slog.Logger
	now   func() time.Time

	mu    sync.Mutex // serialises samples
	state usageState // guarded by mu

	// wake pokes the sender (capacity 1).
	wake chan struct{}
}

func newUsageMeter(node, stateDir string, rt runtime.Runtime, log *slog.Logger) (*usageMeter, error) {
	sp, state, err := openSpool(stateDir)
	if err != nil {
		return nil, err
	}
	return &usageMeter{node: node, rt: rt, spool: sp, log: log.With("component", "usage"), now: time.Now,
		state: state, wake: make(chan struct{}, 1)}, nil
}

// sample measures the running containers of the pod uid (every pod when
// "") and the ones that have exited, and commits the windows that ended
// now, or when a container exited.
func (m *usageMeter) sample(ctx context.Context, uid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	stats, err := m.rt.Stats(ctx, uid)
	if err != nil {
		return err
	}
	finished, err := m.rt.Finished(ctx, uid)
	if err != nil {
		return err
	}
	now := m.now()
	records, moved := m.windows(withFinished(stats, finished), now)
	if uid == "" {
		m.state.LastSample = now
		for id := range m.state.Cursors {
			if _, ok := moved[id]; !ok {
				delete(m.state.Cursors, id) // stopped and recorded since
			}
		}
	}
	return m.commit(ctx, records, moved, finished)
}

// recordFinished commits the last windows of the pod's containers that
// have exited since it was last sampled: on its own, a container that
// exits is gone from the engine's stats, and would lose up to an
// interval. The pod worker calls it after each sync, which is cheap when
// nothing exited (the runtime looks at its cgroups).
func (m *usageMeter) recordFinished(ctx context.Context, uid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	finished, err := m.rt.Finished(ctx, uid)
	if err == nil && len(finished) > 0 {
		records, moved := m.windows(finished, m.now())
		err = m.commit(ctx, records, moved, finished)
	}
	if err != nil && ctx.Err() == nil {
		m.log.Warn("cannot record the last usage of exited containers", "pod_uid", uid, "error", err)
	}
}

// commit spools the windows of a sample and then lets the runtime drop
// the final counters of the exited containers they end: committed first,
// so that an agent killed in between finds them again, and its cursors
// (at the exit) make nothing of them twice. The caller holds mu.
func (m *usageMeter) commit(ctx context.Context, records []berthv1.UsageRecord, moved map[string]usageCursor, finished []runtime.ContainerStats) error {
	if err := m.spool.commit(records, moved, &m.state); err != nil {
		return err
	}
	if len(records) > 0 {
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
	if len(finished) == 0 {
		return nil
	}
	ids := make([]string, len(finished))
	for i, st := range finished {
		ids[i] = st.ID
	}
	if err := m.rt.ReleaseFinished(ctx, ids); err != nil {
		m.log.Warn("cannot release the counters of exited containers", "error", err)
	}
	return nil
}

// withFinished joins the samples of running and exited containers; a
// container that exited while it was sampled counts as exited, with its
// final counters.
func withFinished(running, finished []runtime.ContainerStats) []runtime.ContainerStats {
	if len(finished) == 0 {
		return running
	}
	ended := make(map[string]bool, len(finished))
	for _, st := range finished {
		ended[st.ID] = true
	}
	out := slices.Clone(finished)
	for _, st := range running {
		if !ended[st.ID] {
			out = append(out, st)
		}
	}
	return out
}

// windows turns samples into the records of the windows they end, and
// moves the cursors; the caller holds mu. A container seen for the first
// time is counted from its start when it started after the last sample
// (it is new), and otherwise from now (the agent has just started
// metering: what came before is not the agent's to know). The window of
// an exited container ends when it exited; its working set is taken to
// have stayed at the last one sampled until then, and a container that
// lived within one window, never sampled, has its cgroup's memory peak as
// its peak.
func (m *usageMeter) windows(stats []runtime.ContainerStats, now time.Time) ([]berthv1.UsageRecord, map[string]usageCursor) {
	var records []berthv1.UsageRecord
	moved := make(map[string]usageCursor, len(stats))
	for _, st := range stats {
		end, exited := now, !st.FinishedAt.IsZero()
		if exited {
			end = st.FinishedAt
		}
		c, ok := m.state.Cursors[st.ID]
		next := usageCursor{At: end, StartedAt: st.StartedAt, CPUNanos: st.CPUNanos, Memory: st.MemoryBytes,
			RxBytes: st.NetworkRxBytes, TxBytes: st.NetworkTxBytes}
		if exited && ok {
			// Its network namespace went with it: nothing more counted.
			next.RxBytes, next.TxBytes = c.RxBytes, c.TxBytes
		}
		moved[st.ID] = next
		whole := false
		if !ok || !c.StartedAt.Equal(st.StartedAt) { // new, or started again (counters reset)
			if m.state.LastSample.IsZero() || !st.StartedAt.After(m.state.LastSample) {
				m.state.Cursors[st.ID] = next
				continue
			}
			c, whole = usageCursor{At: st.StartedAt, StartedAt: st.StartedAt}, true
			if exited {
				next.RxBytes, next.TxBytes = 0, 0
				moved[st.ID] = next
			}
		}
		m.state.Cursors[st.ID] = next
		if !end.After(c.At) {
			continue
		}
		dt := end.Sub(c.At).Seconds()
		rec := berthv1.UsageRecord{
			Node: m.node, ContainerID: st.ID, WindowStart: c.At.UTC(), WindowEnd: end.UTC(),
			PodUID: st.PodUID, Namespace: st.Namespace, Pod: st.PodName, Container: st.Container,
			CPUSeconds:        float64(counterDelta(st.CPUNanos, c.CPUNanos)) / 1e9,
			MemoryByteSeconds: float64(c.Memory+st.MemoryBytes) / 2 * dt,
			MemoryBytes:       st.MemoryBytes,
			MemoryPeakBytes:   max(c.Memory, st.MemoryBytes),
			NetworkRxBytes:    int64(counterDelta(next.RxBytes, c.RxBytes)),
			NetworkTxBytes:    int64(counterDelta(next.TxBytes, c.TxBytes)),
			RunningSeconds:    dt,
		}
		if exited {
			rec.MemoryByteSeconds = float64(c.Memory) * dt
			if whole {
				rec.MemoryPeakBytes = st.MemoryPeakBytes
			}
		}
		records = append(records, rec)
	}
	return records, moved
}

// counterDelta is what a counter grew by; a counter that went back was
// reset (the container started again), and counts from zero.
func counterDelta(now, before uint64) uint64 {
	if now < before {
		return now
	}
	return now - before
}

// flushPod records the last partial window of a pod's containers before
// the agent stops them. A failure is logged: stopping goes on.
func (m *usageMeter) flushPod(ctx context.Context, uid string) {
	if err := m.sample(ctx, uid); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		m.log.Warn("cannot record the last usage of a pod", "pod_uid", uid, "error", err)
	}
}

// runSampler samples every interval until ctx ends.
func (m *usageMeter) runSampler(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := m.sample(ctx, ""); err != nil && ctx.Err() == nil {
			m.log.Warn("usage sample failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runSender delivers the spool, oldest batch first, until ctx ends. A
// master or database that does not answer is retried with back-off; the
// batches wait on disk meanwhile.
func (m *usageMeter) runSender(ctx context.Context, call func(context.Context, func(*client.Client) error) error, poll time.Duration) {
	bo := newBackOff(time.Second, time.Minute)
	for {
		sent, err := m.deliver(ctx, call)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			m.log.Warn("usage delivery failed; the records wait on disk", "error", err)
			if !bo.Wait(ctx) {
				return
			}
			continue
		case sent:
			bo.Reset()
			continue // more may wait
		}
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-time.After(poll):
		}
	}
}

// deliver sends the oldest waiting batches once; it reports whether it
// sent any.
func (m *usageMeter) deliver(ctx context.Context, call func(context.Context, func(*client.Client) error) error) (bool, error) {
	records, names, err := m.spool.next(usageBatchRecords)
	if err != nil || len(names) == 0 {
		return false, err
	}
	list := berthv1.UsageRecordList{Items: records}
	list.Kind, list.APIVersion = "UsageRecordList", berthv1.SchemeGroupVersion.String()
	var answer berthv1.UsageIngest
	err = call(ctx, func(c *client.Client) error {
		return c.Do(ctx, http.MethodPost, UsageRecordsPath, nil, &list, &answer)
	})
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && permanentUsageRefusal(apiErr.Code()) {
		m.log.Error("the master refused usage records for good; they are set aside in the spool's rejected directory",
			"records", len(records), "error", err)
		return true, m.spool.reject(names)
	}
	if err != nil {
		return false, fmt.Errorf("deliver %d usage records: %w", len(records), err)
	}
	if answer.UnknownPods > 0 {
		m.log.Warn("usage of pods the master no longer knows was dropped", "records", answer.UnknownPods)
	}
	return true, m.spool.remove(names)
}

func permanentUsageRefusal(code int) bool {
	return code == http.StatusBadRequest || code == http.StatusForbidden || code == http.StatusUnprocessableEntity ||
		code == http.StatusRequestEntityTooLarge
}
