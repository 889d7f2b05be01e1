package accounts

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

const (
	// auditQueueLen entries may wait for the database; past that, Record
	// waits for room, up to auditQueueWait.
	auditQueueLen = 8192
	// auditQueueWait bounds how long Record holds a request up when the
	// queue is full: a database hiccup shorter than that loses nothing,
	// and a flood of requests is slowed down to the pace the database
	// takes. Past it the entry is dropped and counted (Dropped, exported
	// as berth_audit_dropped_total): a database that is down must not
	// stop the API.
	auditQueueWait = time.Second
	// auditBatchLen bounds one COPY.
	auditBatchLen = 512
	// auditWriteTimeout bounds one write. Writes are detached from the
	// writer's context, which only says when to stop taking entries: the
	// entries already taken are still written.
	auditWriteTimeout = 10 * time.Second
)

// errAuditWriterStopped is returned by Flush once the writer's context has
// ended.
var errAuditWriterStopped = errors.New("audit writer stopped")

// AuditWriter records audit entries in the background: Record queues,
// and a goroutine writes what is queued in batches, as fast as the database
// takes them. When the queue is full, Record waits for room for a bounded
// time (back-pressure); entries are lost only past that wait (Dropped
// counts them) or when a write fails (logged, and counted too).
type AuditWriter struct {
	store     *Store
	logger    *slog.Logger
	queue     chan auditItem
	queueWait time.Duration
	done      chan struct{} // closed when the goroutine has written its last batch
	dropped   atomic.Uint64
}

// auditItem is an entry to write, or, when flushed is set, a request to
// report once everything queued before it is written.
type auditItem struct {
	entry   AuditEntry
	flushed chan error
}

// NewAuditWriter starts a writer whose goroutine ends with ctx, after
// writing what was queued by then. Wait for Done before closing the Store.
func (s *Store) NewAuditWriter(ctx context.Context) *AuditWriter {
	return s.newAuditWriter(ctx, auditQueueLen, auditQueueWait)
}

func (s *Store) newAuditWriter(ctx context.Context, queueLen int, queueWait time.Duration) *AuditWriter {
	w := &AuditWriter{
		store:     s,
		logger:    s.logger.With("subsystem", "audit"),
		queue:     make(chan auditItem, queueLen),
		queueWait: queueWait,
		done:      make(chan struct{}),
	}
	go w.run(ctx)
	return w
}

// Record queues an entry, with its fields capped (see AuditEntry). When
// the queue is full it waits for room, at most the writer's queue wait,
// then drops the entry and counts it.
func (w *AuditWriter) Record(e AuditEntry) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	item := auditItem{entry: e.bounded()}
	select {
	case <-w.done:
		w.dropped.Add(1)
		return
	case w.queue <- item:
		return
	default:
	}
	t := time.NewTimer(w.queueWait)
	defer t.Stop()
	select {
	case w.queue <- item:
	case <-t.C:
		w.dropped.Add(1)
	case <-w.done:
		w.dropped.Add(1)
	}
}

// Flush waits until everything recorded before it is written, and returns
// the error of that write.
func (w *AuditWriter) Flush(ctx context.Context) error {
	flushed := make(chan error, 1)
	select {
	case w.queue <- auditItem{flushed: flushed}:
	case <-w.done:
		return errAuditWriterStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-flushed:
		return err
	case <-w.done:
		select {
		case err := <-flushed:
			return err
		default:
			return errAuditWriterStopped
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed once the writer has stopped.
func (w *AuditWriter) Done() <-chan struct{} { return w.done }

// Dropped returns how many entries were lost: to a queue that stayed full
// for the whole wait, to a stopped writer, or to a failed write.
func (w *AuditWriter) Dropped() uint64 { return w.dropped.Load() }

func (w *AuditWriter) run(ctx context.Context) {
	defer close(w.done)
	batch := make([]AuditEntry, 0, auditBatchLen)
	var waiters []chan error
	var reportedDrops uint64
	for {
		select {
		case item := <-w.queue:
			batch, waiters = collect(item, batch, waiters)
			for len(batch) < auditBatchLen && len(w.queue) > 0 {
				batch, waiters = collect(<-w.queue, batch, waiters)
			}
			w.write(ctx, batch, waiters)
			batch, waiters = batch[:0], waiters[:0]
			if d := w.dropped.Load(); d != reportedDrops {
				w.logger.Warn("audit entries dropped", "dropped_total", d)
				reportedDrops = d
			}
		case <-ctx.Done():
			for len(w.queue) > 0 {
				batch, waiters = collect(<-w.queue, batch, waiters)
				if len(batch) == auditBatchLen || len(w.queue) == 0 {
					w.write(ctx, batch, waiters)
					batch, waiters = batch[:0], waiters[:0]
				}
			}
			return
		}
	}
}

func collect(item auditItem, batch []AuditEntry, waiters []chan error) ([]AuditEntry, []chan error) {
	if item.flushed != nil {
		return batch, append(waiters, item.flushed)
	}
	return append(batch, item.entry), waiters
}

func (w *AuditWriter) write(ctx context.Context, batch []AuditEntry, waiters []chan error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditWriteTimeout)
	defer cancel()
	var err error
	if len(batch) > 0 {
		if err = w.store.insertAudit(ctx, batch); err != nil {
			w.dropped.Add(uint64(len(batch)))
			w.logger.Error("audit entries lost", "count", len(batch), "error", err)
		}
	}
	for _, c := range waiters {
		c <- err
	}
}
