package hostimages

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// channel is the PostgreSQL notification channel of host image events,
// so that every master learns what any of them wrote: a build queued on
// one master is run by the leader, a log written by the leader is
// followed on all.
const channel = "berth_hostimages"

// Event kinds; an event's Name is a definition's or a build's name, or a
// build's ID for log events.
const (
	eventQueue  = "queue"  // a build was queued
	eventBuild  = "build"  // a build changed
	eventCancel = "cancel" // a cancel was asked
	eventLog    = "log"    // a build's log grew (Name: its ID)
	eventEdit   = "edit"   // a definition was created or edited
)

// Event is one notification.
type Event struct {
	Kind string
	Name string
}

// broker listens on one connection and hands events to subscribers. A
// subscriber that does not keep up misses events, never blocks the
// others: readers re-read from where they are (logs by offset, builds by
// name) and poll as well.
type broker struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	subs map[chan Event]struct{} // guarded by mu
}

func newBroker(pool *pgxpool.Pool, logger *slog.Logger) *broker {
	ctx, cancel := context.WithCancel(context.Background())
	b := &broker{pool: pool, logger: logger, cancel: cancel, done: make(chan struct{}), subs: map[chan Event]struct{}{}}
	go b.listen(ctx)
	return b
}

func (b *broker) close() {
	b.cancel()
	<-b.done
}

// listen holds a LISTEN connection, and takes a new one when it fails.
func (b *broker) listen(ctx context.Context) {
	defer close(b.done)
	for ctx.Err() == nil {
		err := b.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		b.logger.Warn("host image notifications interrupted; listening again", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (b *broker) listenOnce(ctx context.Context) error {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return err
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "UNLISTEN "+channel)
	}()
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		kind, name, _ := strings.Cut(n.Payload, " ")
		b.publish(Event{Kind: kind, Name: name})
	}
}

func (b *broker) publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

// notify sends an event to every master's subscribers (this one's too,
// through PostgreSQL).
func (b *broker) notify(ctx context.Context, kind, name string) {
	if _, err := b.pool.Exec(context.WithoutCancel(ctx), "SELECT pg_notify($1, $2)", channel, kind+" "+name); err != nil {
		b.logger.Warn("host image notification not sent", "kind", kind, "name", name, "error", err)
	}
}

// Subscribe returns the events from now on, until ctx ends.
func (s *Store) Subscribe(ctx context.Context) <-chan Event {
	ch := make(chan Event, 64)
	b := s.events
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}()
	return ch
}
