package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
// "") and commits the windows that ended now.
func (m *usageMeter) sample(ctx context.Context, uid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	stats, err := m.rt.Stats(ctx, uid)
	if err != nil {
		return err
	}
	now := m.now()
	records, moved := m.windows(stats, now)
	if uid == "" {
		m.state.LastSample = now
		for id := range m.state.Cursors {
			if _, ok := moved[id]; !ok {
				delete(m.state.Cursors, id) // stopped since
			}
		}
	}
	if err := m.spool.commit(records, moved, &m.state); err != nil {
		return err
	}
	if len(records) > 0 {
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// windows turns samples into the records of the windows they end, and
// moves the cursors; the caller holds mu. A container seen for the first
// time is counted from its start when it started after the last sample
// (it is new), and otherwise from now (the agent has just started
// metering: what came before is not the agent's to know).
func (m *usageMeter) windows(stats []runtime.ContainerStats, now time.Time) ([]berthv1.UsageRecord, map[string]usageCursor) {
	var records []berthv1.UsageRecord
	moved := make(map[string]usageCursor, len(stats))
	for _, st := range stats {
		end := usageCursor{At: now, StartedAt: st.StartedAt, CPUNanos: st.CPUNanos, Memory: st.MemoryBytes,
			RxBytes: st.NetworkRxBytes, TxBytes: st.NetworkTxBytes}
		moved[st.ID] = end
		c, ok := m.state.Cursors[st.ID]
		if !ok || !c.StartedAt.Equal(st.StartedAt) { // new, or started again (counters reset)
			if m.state.LastSample.IsZero() || !st.StartedAt.After(m.state.LastSample) {
				m.state.Cursors[st.ID] = end
				continue
			}
			c = usageCursor{At: st.StartedAt, StartedAt: st.StartedAt}
		}
		m.state.Cursors[st.ID] = end
		if !now.After(c.At) {
			continue
		}
		dt := now.Sub(c.At).Seconds()
		records = append(records, berthv1.UsageRecord{
			Node: m.node, ContainerID: st.ID, WindowStart: c.At.UTC(), WindowEnd: now.UTC(),
			PodUID: st.PodUID, Namespace: st.Namespace, Pod: st.PodName, Container: st.Container,
			CPUSeconds:        float64(counterDelta(st.CPUNanos, c.CPUNanos)) / 1e9,
			MemoryByteSeconds: float64(c.Memory+st.MemoryBytes) / 2 * dt,
			MemoryBytes:       st.MemoryBytes,
			MemoryPeakBytes:   max(c.Memory, st.MemoryBytes),
			NetworkRxBytes:    int64(counterDelta(st.NetworkRxBytes, c.RxBytes)),
			NetworkTxBytes:    int64(counterDelta(st.NetworkTxBytes, c.TxBytes)),
			RunningSeconds:    dt,
		})
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
