package storage

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Event is one change seen by a watch. Err is set (and Object nil) when the
// watch ends abnormally, for instance with ErrCompacted.
type Event struct {
	Type   watch.EventType
	Object runtime.Object
	Err    error
	// Created is the revision at which the object was created (for a
	// deletion, the deleted object's); zero for errors and bookmarks.
	Created int64
}

// Watch streams the changes under prefix made after revision fromRV, in
// revision order, until ctx ends. Updates that move an object into or out
// of match arrive as ADDED or DELETED, as Kubernetes does. It returns
// ErrCompacted if fromRV was compacted away; a compaction while watching
// ends the stream with an Event whose Err wraps ErrCompacted.
func (s *Store) Watch(ctx context.Context, prefix string, fromRV int64, newObj func() runtime.Object, match Predicate) (<-chan Event, error) {
	if fromRV > 0 {
		_, err := s.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(fromRV), clientv3.WithCountOnly())
		switch {
		case errors.Is(err, rpctypes.ErrCompacted):
			return nil, fmt.Errorf("watch %q from %d: %w", prefix, fromRV, ErrCompacted)
		case err != nil && !errors.Is(err, rpctypes.ErrFutureRev):
			return nil, fmt.Errorf("watch %q: %w", prefix, err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	wch := s.client.Watch(clientv3.WithRequireLeader(ctx), prefix,
		clientv3.WithPrefix(), clientv3.WithRev(fromRV+1), clientv3.WithPrevKV())
	out := make(chan Event, 128)
	go func() {
		defer close(out)
		defer cancel()
		for resp := range wch {
			if err := resp.Err(); err != nil {
				if errors.Is(err, rpctypes.ErrCompacted) {
					err = fmt.Errorf("watch %q: %w", prefix, ErrCompacted)
				}
				send(ctx, out, Event{Type: watch.Error, Err: err})
				return
			}
			for _, ev := range resp.Events {
				e, ok, err := s.translate(ev, newObj, match)
				if err != nil {
					e = Event{Type: watch.Error, Err: err}
				} else if !ok {
					continue
				}
				if !send(ctx, out, e) {
					return
				}
			}
		}
	}()
	return out, nil
}

func send(ctx context.Context, out chan<- Event, e Event) bool {
	select {
	case out <- e:
		return true
	case <-ctx.Done():
		return false
	}
}

// translate turns an etcd event into an API event, or reports that the
// selector hides it.
func (s *Store) translate(ev *clientv3.Event, newObj func() runtime.Object, match Predicate) (Event, bool, error) {
	var prev runtime.Object
	if ev.PrevKv != nil {
		prev = newObj()
		if err := s.decode(string(ev.PrevKv.Key), ev.PrevKv.Value, ev.PrevKv.ModRevision, prev); err != nil {
			return Event{}, false, err
		}
	}
	matches := func(o runtime.Object) bool { return o != nil && (match == nil || match(o)) }
	if ev.Type == mvccpb.DELETE {
		if !matches(prev) {
			return Event{}, false, nil
		}
		if err := setResourceVersion(prev, ev.Kv.ModRevision); err != nil {
			return Event{}, false, err
		}
		return Event{Type: watch.Deleted, Object: prev, Created: ev.PrevKv.CreateRevision}, true, nil
	}
	cur := newObj()
	if err := s.decode(string(ev.Kv.Key), ev.Kv.Value, ev.Kv.ModRevision, cur); err != nil {
		return Event{}, false, err
	}
	created := ev.Kv.CreateRevision
	switch now, before := matches(cur), matches(prev); {
	case now && before:
		return Event{Type: watch.Modified, Object: cur, Created: created}, true, nil
	case now:
		return Event{Type: watch.Added, Object: cur, Created: created}, true, nil
	case before:
		return Event{Type: watch.Deleted, Object: cur, Created: created}, true, nil
	}
	return Event{}, false, nil
}
