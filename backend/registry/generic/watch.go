package generic

import (
	"context"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/storage"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/watch"
)

// Watch streams changes to the matching objects in ns (all namespaces when
// empty). Without a resourceVersion, or with SendInitialEvents, it first
// sends the current objects as ADDED events and a bookmark at the list's
// revision, annotated k8s.io/initial-events-end (the end of client-go's
// streaming list); the current objects are never older than a given
// resourceVersion (resourceVersionMatch=NotOlderThan). It fails with storage.ErrCompacted when the
// version is gone, and with an ErrExpired error when the version is older
// than the namespace: events from before belong to an earlier namespace
// of the same name. A namespaced watch ends (with an ErrExpired event)
// once its namespace is deleted, so that it never carries the objects of
// a namespace made again under the same name.
func (r *Registry) Watch(ctx context.Context, ns string, opts ListOptions) (<-chan storage.Event, error) {
	if !r.Strategy.NamespaceScoped() {
		ns = ""
	}
	prefix := storage.Prefix(r.Resource, ns)
	match := r.predicate(opts)
	var guard *incarnationGuard
	if ns != "" {
		created, at, err := r.Store.CreateRevision(ctx, namespaceKey(ns))
		if err != nil {
			return nil, errdefs.WithSubject(err, namespaceResource, ns)
		}
		guard = &incarnationGuard{store: r.Store, ns: ns, created: created, verifiedTo: at}
	}
	if opts.ResourceVersion != "" && opts.ResourceVersion != "0" && !opts.SendInitialEvents {
		rv, err := strconv.ParseInt(opts.ResourceVersion, 10, 64)
		if err != nil || rv < 0 {
			return nil, errdefs.BadRequest("invalid resourceVersion %q", opts.ResourceVersion)
		}
		if guard != nil && rv < guard.created {
			return nil, errdefs.Newf(errdefs.ErrExpired, "too old resource version: %d (namespace %s was created at %d)", rv, ns, guard.created)
		}
		changes, err := r.Store.Watch(ctx, prefix, rv, r.Strategy.New, match)
		if err != nil {
			return nil, err
		}
		return guard.filter(ctx, changes), nil
	}
	initial, err := r.Store.List(ctx, prefix, storage.ListOptions{}, r.Strategy.New, match)
	if err != nil {
		return nil, err
	}
	changes, err := r.Store.Watch(ctx, prefix, initial.Revision, r.Strategy.New, match)
	if err != nil {
		return nil, err
	}
	changes = guard.filter(ctx, changes)
	out := make(chan storage.Event, 128)
	go func() {
		defer close(out)
		for _, obj := range initial.Items {
			select {
			case out <- storage.Event{Type: watch.Added, Object: obj}:
			case <-ctx.Done():
				return
			}
		}
		// A bookmark at the list's revision: a client that resumes from it
		// after a reconnect sees nothing twice.
		bookmark := r.Strategy.New()
		if m, err := meta.Accessor(bookmark); err == nil {
			m.SetResourceVersion(strconv.FormatInt(initial.Revision, 10))
			m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		}
		select {
		case out <- storage.Event{Type: watch.Bookmark, Object: bookmark}:
		case <-ctx.Done():
			return
		}
		for e := range changes {
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// incarnationGuard ends a namespaced watch at the first object that does
// not belong to the namespace it started in. An object created at
// revision k belongs to that namespace if the namespace still had the same
// creation revision at some revision ≥ k (it existed without a break from
// its creation to then, and creating an object requires its namespace).
// One check of the namespace covers every object created before it, so
// the guard reads etcd at most once per burst of new objects.
type incarnationGuard struct {
	store      *storage.Store
	ns         string
	created    int64 // the namespace's creation revision
	verifiedTo int64 // the namespace had created as its creation revision at this revision
}

func (g *incarnationGuard) filter(ctx context.Context, in <-chan storage.Event) <-chan storage.Event {
	if g == nil {
		return in
	}
	out := make(chan storage.Event)
	go func() {
		defer close(out)
		for ev := range in {
			if ev.Created > g.verifiedTo && !g.verify(ctx) {
				ev = storage.Event{Type: watch.Error, Err: errdefs.Newf(errdefs.ErrExpired, "namespace %s was deleted", g.ns)}
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
			if ev.Type == watch.Error {
				return
			}
		}
	}()
	return out
}

func (g *incarnationGuard) verify(ctx context.Context) bool {
	created, at, err := g.store.CreateRevision(ctx, namespaceKey(g.ns))
	if err != nil || created != g.created {
		return false
	}
	g.verifiedTo = at
	return true
}
