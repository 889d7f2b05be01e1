// Package cache keeps an in-memory copy of the objects of one resource,
// fed by a list and then a watch of the registry, for the scheduler and
// the controllers: they read the copy and react to its changes.
//
//	list ──▶ replace copy (handler sees the differences) ──▶ watch from the
//	list's revision ──▶ apply each event ──▶ on error or end: list again
package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/berthpaas/berth/backend/registry/storage"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/berthpaas/berth/backend/registry/generic"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Object is what an informer holds: a pointer to an API object.
type Object interface {
	runtime.Object
	metav1.Object
}

// Handler is told of each change to the copy: old is nil for an object
// that appeared, cur is nil for one that went away. It runs on the
// informer's goroutine and must not block for long.
type Handler[T Object] func(old, cur T)

// relistDelay is the pause before listing again after a failed list.
const relistDelay = time.Second

// Informer mirrors the objects of Registry that match Options.
type Informer[T Object] struct {
	source    Source
	namespace string
	options   generic.ListOptions
	handler   Handler[T]
	logger    *slog.Logger

	mu sync.RWMutex
	// items is the copy, by Key; guarded by mu.
	items map[string]T
	// synced is closed, once, after the first list.
	synced     chan struct{}
	syncedOnce sync.Once
}

// Source is what an informer reads: a registry.
type Source interface {
	List(ctx context.Context, ns string, opts generic.ListOptions) (runtime.Object, error)
	Watch(ctx context.Context, ns string, opts generic.ListOptions) (<-chan storage.Event, error)
	// Fields returns what field selectors match on obj.
	Fields(obj runtime.Object) fields.Set
}

// New returns an informer of the objects of source in namespace (all
// namespaces when empty) that match opts (its ResourceVersion, Limit and
// Continue are ignored). handler may be nil.
func New[T Object](source Source, namespace string, opts generic.ListOptions, handler Handler[T], logger *slog.Logger) *Informer[T] {
	opts.ResourceVersion, opts.Limit, opts.Continue = "", 0, ""
	var zero T
	return &Informer[T]{
		source: source, namespace: namespace, options: opts, handler: handler,
		logger: logger.With("object", fmt.Sprintf("%T", zero)),
		items:  map[string]T{}, synced: make(chan struct{}),
	}
}

// Key is the cache key of an object: "namespace/name", or "name" for a
// cluster-scoped one.
func Key(obj metav1.Object) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}

// Run lists and watches until ctx ends.
func (i *Informer[T]) Run(ctx context.Context) {
	for ctx.Err() == nil {
		rv, err := i.relist(ctx)
		if err != nil {
			if ctx.Err() == nil {
				i.logger.Warn("list", "error", err)
				sleep(ctx, relistDelay)
			}
			continue
		}
		if err := i.watch(ctx, rv); err != nil && ctx.Err() == nil {
			i.logger.Info("watch ended; listing again", "error", err)
		}
	}
}

// Synced is closed once the copy holds a first full list.
func (i *Informer[T]) Synced() <-chan struct{} { return i.synced }

// WaitForSync waits for the first list; false if ctx ended first.
func (i *Informer[T]) WaitForSync(ctx context.Context) bool {
	select {
	case <-i.synced:
		return true
	case <-ctx.Done():
		return false
	}
}

// Get returns the cached object with key. Callers must not modify it.
func (i *Informer[T]) Get(key string) (T, bool) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	obj, ok := i.items[key]
	return obj, ok
}

// List returns the cached objects. Callers must not modify them.
func (i *Informer[T]) List() []T {
	i.mu.RLock()
	defer i.mu.RUnlock()
	out := make([]T, 0, len(i.items))
	for _, obj := range i.items {
		out = append(out, obj)
	}
	return out
}

// Assume puts obj, which the caller just wrote, into the copy ahead of its
// watch event, so that the next decision sees it. The handler is not
// called. An object that no longer matches the options is removed. A copy
// newer than obj is kept.
func (i *Informer[T]) Assume(obj T) {
	i.mu.Lock()
	defer i.mu.Unlock()
	key := Key(obj)
	if old, ok := i.items[key]; ok && newer(old, obj) {
		return
	}
	if i.matches(obj) {
		i.items[key] = obj
	} else {
		delete(i.items, key)
	}
}

func (i *Informer[T]) matches(obj T) bool {
	o := i.options
	if o.Labels != nil && !o.Labels.Matches(generic.Labels(obj)) {
		return false
	}
	return o.Fields == nil || o.Fields.Matches(i.source.Fields(obj))
}

// relist replaces the copy with a fresh list and returns its revision.
func (i *Informer[T]) relist(ctx context.Context) (string, error) {
	listObj, err := i.source.List(ctx, i.namespace, i.options)
	if err != nil {
		return "", err
	}
	objs, err := meta.ExtractList(listObj)
	if err != nil {
		return "", err
	}
	lm, err := meta.ListAccessor(listObj)
	if err != nil {
		return "", err
	}
	fresh := make(map[string]T, len(objs))
	for _, o := range objs {
		obj := o.(T)
		fresh[Key(obj)] = obj
	}
	i.mu.Lock()
	old := i.items
	i.items = fresh
	i.mu.Unlock()
	i.syncedOnce.Do(func() { close(i.synced) })
	if i.handler != nil {
		var zero T
		for key, obj := range fresh {
			prev, ok := old[key]
			switch {
			case !ok:
				i.handler(zero, obj)
			case prev.GetResourceVersion() != obj.GetResourceVersion():
				i.handler(prev, obj)
			}
		}
		for key, prev := range old {
			if _, ok := fresh[key]; !ok {
				i.handler(prev, zero)
			}
		}
	}
	return lm.GetResourceVersion(), nil
}

// watch applies the changes after revision rv until the watch ends.
func (i *Informer[T]) watch(ctx context.Context, rv string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := i.options
	opts.ResourceVersion = rv
	events, err := i.source.Watch(ctx, i.namespace, opts)
	if err != nil {
		return err
	}
	for e := range events {
		if e.Err != nil {
			return e.Err
		}
		obj, ok := e.Object.(T)
		if !ok {
			continue
		}
		i.apply(e.Type, obj)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.New("watch closed")
}

func (i *Informer[T]) apply(typ watch.EventType, obj T) {
	key := Key(obj)
	var zero T
	i.mu.Lock()
	old, had := i.items[key]
	if typ == watch.Deleted {
		delete(i.items, key)
	} else {
		if had && newer(old, obj) {
			// An assumed write already put a later version here.
			i.mu.Unlock()
			return
		}
		i.items[key] = obj
	}
	i.mu.Unlock()
	if i.handler == nil {
		return
	}
	switch {
	case typ == watch.Deleted && had:
		i.handler(old, zero)
	case typ == watch.Deleted:
		i.handler(obj, zero)
	case had:
		i.handler(old, obj)
	default:
		i.handler(zero, obj)
	}
}

// newer reports whether a is a later version than b.
func newer(a, b Object) bool {
	ra, errA := strconv.ParseInt(a.GetResourceVersion(), 10, 64)
	rb, errB := strconv.ParseInt(b.GetResourceVersion(), 10, 64)
	return errA == nil && errB == nil && ra > rb
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
