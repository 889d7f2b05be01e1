// Package queue is the work queue of Berth's controllers: keys
// ("namespace/name") to reconcile, each held at most once, and never handed
// to two workers at the same time.
package queue

import (
	"context"
	"sync"
	"time"
)

// Queue holds keys waiting to be processed. A key added while waiting is
// not added twice; a key added while being processed is queued again once
// Done is called for it. The zero value is not usable; call New.
type Queue struct {
	mu sync.Mutex
	// queue, waiting, processing and dirty are guarded by mu. waiting holds
	// the keys in queue; dirty the keys added while processing.
	queue      []string
	waiting    map[string]bool
	processing map[string]bool
	dirty      map[string]bool
	// timers holds the pending AddAfter timers; guarded by mu.
	timers map[string]delayed
	// wake is signalled (without blocking) when a key becomes ready.
	wake chan struct{}
}

// New returns an empty queue.
func New() *Queue {
	return &Queue{
		waiting:    map[string]bool{},
		processing: map[string]bool{},
		dirty:      map[string]bool{},
		timers:     map[string]delayed{},
		wake:       make(chan struct{}, 1),
	}
}

// Add queues key unless it is already waiting.
func (q *Queue) Add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *Queue) addLocked(key string) {
	if q.waiting[key] {
		return
	}
	if q.processing[key] {
		q.dirty[key] = true
		return
	}
	q.waiting[key] = true
	q.queue = append(q.queue, key)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// AddAfter queues key after d. Of several delayed adds of one key, the
// earliest wins.
func (q *Queue) AddAfter(key string, d time.Duration) {
	if d <= 0 {
		q.Add(key)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	at := time.Now().Add(d)
	if pending, ok := q.timers[key]; ok {
		if !pending.at.After(at) {
			return
		}
		pending.timer.Stop()
	}
	var timer *time.Timer
	timer = time.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.timers[key].timer == timer {
			delete(q.timers, key)
		}
		q.addLocked(key)
	})
	q.timers[key] = delayed{at: at, timer: timer}
}

// delayed is a pending AddAfter.
type delayed struct {
	at    time.Time
	timer *time.Timer
}

// Get waits for a key and marks it as processing; the caller must call Done
// with it. It returns false when ctx ends.
func (q *Queue) Get(ctx context.Context) (string, bool) {
	for {
		q.mu.Lock()
		if len(q.queue) > 0 {
			key := q.queue[0]
			q.queue = q.queue[1:]
			delete(q.waiting, key)
			q.processing[key] = true
			more := len(q.queue) > 0
			q.mu.Unlock()
			if more {
				select {
				case q.wake <- struct{}{}:
				default:
				}
			}
			return key, true
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-ctx.Done():
			return "", false
		}
	}
}

// Done ends the processing of key, queueing it again if it was added
// meanwhile.
func (q *Queue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if q.dirty[key] {
		delete(q.dirty, key)
		q.addLocked(key)
	}
}

// Len is the number of keys waiting.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// Stop cancels the pending delayed adds.
func (q *Queue) Stop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for key, pending := range q.timers {
		pending.timer.Stop()
		delete(q.timers, key)
	}
}
