package hostimagebuild

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/berthpaas/berth/backend/hostimages"
)

const (
	// flushInterval is how long written output waits before it is stored
	// (and so before followers see it).
	flushInterval = 200 * time.Millisecond
	// maxChunk bounds a stored piece, and the output held in memory: a
	// write that fills it is stored before the writer goes on.
	maxChunk = 256 << 10
)

// logStore is where a build's log goes.
type logStore interface {
	AppendLog(ctx context.Context, buildID, offset int64, data []byte) error
}

// logWriter stores a build's output as it is written: every
// flushInterval, or at once when maxChunk is pending. Past
// hostimages.MaxLogBytes it stores a note and drops the rest.
type logWriter struct {
	store logStore
	id    int64
	log   *slog.Logger
	stop  chan struct{}
	done  chan struct{}

	mu        sync.Mutex
	buf       []byte // guarded by mu
	offset    int64  // stored so far, guarded by mu
	truncated bool   // guarded by mu
	failed    bool   // a store failed: later output is dropped, guarded by mu
}

func newLogWriter(store logStore, id int64, log *slog.Logger) *logWriter {
	w := &logWriter{store: store, id: id, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	go w.flusher()
	return w
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.truncated {
		return len(p), nil
	}
	room := hostimages.MaxLogBytes - w.offset - int64(len(w.buf))
	if int64(len(p)) > room {
		w.buf = append(w.buf, p[:max(room, 0)]...)
		w.buf = append(w.buf, fmt.Sprintf("\n[the log is longer than %d MiB: the rest of it is not kept]\n", hostimages.MaxLogBytes>>20)...)
		w.truncated = true
	} else {
		w.buf = append(w.buf, p...)
	}
	if len(w.buf) >= maxChunk {
		w.flushLocked(context.Background())
	}
	return len(p), nil
}

func (w *logWriter) flusher() {
	defer close(w.done)
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.mu.Lock()
			w.flushLocked(context.Background())
			w.mu.Unlock()
		}
	}
}

func (w *logWriter) flushLocked(ctx context.Context) {
	for len(w.buf) > 0 && !w.failed {
		n := min(len(w.buf), maxChunk)
		if err := w.store.AppendLog(ctx, w.id, w.offset, w.buf[:n]); err != nil {
			w.log.Warn("cannot store the build's log; its output is dropped", "error", err)
			w.failed = true
			return
		}
		w.offset += int64(n)
		w.buf = w.buf[n:]
	}
	if len(w.buf) == 0 {
		w.buf = nil
	}
}

// Close stores what is pending and stops the flusher.
func (w *logWriter) Close(ctx context.Context) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked(ctx)
}
