package generic

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berthpaas/berth/backend/errdefs"

	"github.com/berthpaas/berth/backend/registry/storage"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
)

// Registry serves one resource: it stamps what the server owns (uid,
// creation time, names from generateName), asks the Strategy for defaults
// and validation, and reads and writes through the storage.
type Registry struct {
	// Resource is the plural, lowercase name ("pods"); required.
	Resource string
	// Kind is the object kind ("Pod"); required.
	Kind     string
	Strategy Strategy
	Store    *storage.Store
	// Now stamps creation times; time.Now when nil.
	Now func() time.Time
}

// ListOptions narrow a list or a watch.
type ListOptions struct {
	Labels   labels.Selector
	Fields   fields.Selector
	Limit    int64
	Continue string
	// ResourceVersion is where a watch starts; "" or "0" means a list of
	// the current state as ADDED events, then changes.
	ResourceVersion string
}

func (r *Registry) key(ns, name string) string {
	if !r.Strategy.NamespaceScoped() {
		ns = ""
	}
	return storage.Key(r.Resource, ns, name)
}

func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Create stores a new object in namespace ns (ignored for cluster-scoped
// resources). It fails with *InvalidError, storage.ErrAlreadyExists, or
// storage.ErrParentNotFound when the namespace does not exist.
func (r *Registry) Create(ctx context.Context, ns string, obj runtime.Object) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	if err := r.adoptNamespace(m, ns); err != nil {
		return nil, err
	}
	if m.GetResourceVersion() != "" {
		return nil, errdefs.BadRequest("resourceVersion should not be set on objects to be created")
	}
	generated := m.GetName() == "" && m.GetGenerateName() != ""
	m.SetUID(uuid.NewUUID())
	m.SetCreationTimestamp(metav1.NewTime(r.now().Truncate(time.Second)))
	m.SetDeletionTimestamp(nil)
	m.SetManagedFields(nil)
	r.Strategy.PrepareForCreate(obj)
	var requires []string
	if r.Strategy.NamespaceScoped() {
		requires = append(requires, storage.Key("namespaces", "", ns))
	}
	for attempt := 0; ; attempt++ {
		if generated {
			m.SetName(m.GetGenerateName() + rand.String(5))
		}
		if errs := r.Strategy.Validate(obj); len(errs) > 0 {
			return nil, &errdefs.InvalidError{Kind: r.Kind, Name: m.GetName(), Errs: errs}
		}
		err = r.Store.Create(ctx, r.key(ns, m.GetName()), obj, requires...)
		if generated && errors.Is(err, storage.ErrAlreadyExists) && attempt < 8 {
			continue
		}
		if errors.Is(err, storage.ErrParentNotFound) {
			return nil, errdefs.WithSubject(err, schema.GroupResource{Resource: "namespaces"}, ns)
		}
		if err != nil {
			return nil, err
		}
		return obj, nil
	}
}

func (r *Registry) adoptNamespace(m metav1.Object, ns string) error {
	if !r.Strategy.NamespaceScoped() {
		m.SetNamespace("")
		return nil
	}
	if m.GetNamespace() != "" && m.GetNamespace() != ns {
		return &errdefs.InvalidError{Kind: r.Kind, Name: m.GetName(), Errs: field.ErrorList{
			field.Invalid(field.NewPath("metadata", "namespace"), m.GetNamespace(), "does not match the namespace of the request ("+ns+")"),
		}}
	}
	m.SetNamespace(ns)
	return nil
}

// Get returns one object; storage.ErrNotFound if there is none.
func (r *Registry) Get(ctx context.Context, ns, name string) (runtime.Object, error) {
	obj := r.Strategy.New()
	if err := r.Store.Get(ctx, r.key(ns, name), obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// List returns a list object (e.g. *v1.PodList) of the matching objects in
// ns, or in every namespace when ns is empty.
func (r *Registry) List(ctx context.Context, ns string, opts ListOptions) (runtime.Object, error) {
	if !r.Strategy.NamespaceScoped() {
		ns = ""
	}
	res, err := r.Store.List(ctx, storage.Prefix(r.Resource, ns),
		storage.ListOptions{Limit: opts.Limit, Continue: opts.Continue},
		r.Strategy.New, r.predicate(opts))
	if err != nil {
		return nil, err
	}
	list := r.Strategy.NewList()
	if err := meta.SetList(list, res.Items); err != nil {
		return nil, err
	}
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return nil, err
	}
	lm.SetResourceVersion(strconv.FormatInt(res.Revision, 10))
	lm.SetContinue(res.Continue)
	return list, nil
}

func (r *Registry) predicate(opts ListOptions) storage.Predicate {
	lsel, fsel := opts.Labels, opts.Fields
	if (lsel == nil || lsel.Empty()) && (fsel == nil || fsel.Empty()) {
		return nil
	}
	return func(obj runtime.Object) bool {
		if lsel != nil && !lsel.Matches(Labels(obj)) {
			return false
		}
		return fsel == nil || fsel.Matches(r.Strategy.Fields(obj))
	}
}

// UpdateKind says which part of an object an update may change.
type UpdateKind int

const (
	// UpdateSpec changes everything but status.
	UpdateSpec UpdateKind = iota
	// UpdateStatus changes only status (the status subresource).
	UpdateStatus
)

// ObjectFunc computes the replacement of current. PUT returns its body;
// PATCH applies the patch to current.
type ObjectFunc func(current runtime.Object) (runtime.Object, error)

// Update replaces the object ns/name with what newObject computes, as a
// compare-and-swap: if the computed object carries a resourceVersion that
// is not the stored one, it fails with storage.ErrConflict. It fails with
// storage.ErrNotFound, *InvalidError or *BadRequestError as well.
func (r *Registry) Update(ctx context.Context, ns, name string, kind UpdateKind, newObject ObjectFunc) (runtime.Object, error) {
	dest := r.Strategy.New()
	err := r.Store.GuaranteedUpdate(ctx, r.key(ns, name), dest, 0, func(current runtime.Object) (runtime.Object, error) {
		old := current.DeepCopyObject()
		obj, err := newObject(current)
		if err != nil {
			return nil, err
		}
		return r.prepareUpdate(ns, name, kind, obj, old)
	})
	if err != nil {
		return nil, err
	}
	return dest, nil
}

func (r *Registry) prepareUpdate(ns, name string, kind UpdateKind, obj, old runtime.Object) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	om, _ := meta.Accessor(old)
	if m.GetName() != name {
		return nil, errdefs.BadRequest("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), name)
	}
	if err := r.adoptNamespace(m, ns); err != nil {
		return nil, err
	}
	switch rv := m.GetResourceVersion(); {
	case rv == "":
		// An unconditional update, as Kubernetes allows for its core types.
		m.SetResourceVersion(om.GetResourceVersion())
	case rv != om.GetResourceVersion():
		return nil, fmt.Errorf("update %s %q: %w", r.Kind, name, storage.ErrConflict)
	}
	m.SetUID(om.GetUID())
	m.SetCreationTimestamp(om.GetCreationTimestamp())
	m.SetDeletionTimestamp(om.GetDeletionTimestamp())
	m.SetGeneration(om.GetGeneration())
	m.SetManagedFields(nil)
	if kind == UpdateStatus {
		r.Strategy.PrepareForStatusUpdate(obj, old)
	} else {
		r.Strategy.PrepareForUpdate(obj, old)
	}
	if errs := r.Strategy.ValidateUpdate(obj, old); len(errs) > 0 {
		return nil, &errdefs.InvalidError{Kind: r.Kind, Name: name, Errs: errs}
	}
	return obj, nil
}

// Delete removes ns/name and returns its last state. With a non-empty
// precondition resourceVersion it fails with storage.ErrConflict when the
// stored object is newer.
func (r *Registry) Delete(ctx context.Context, ns, name, resourceVersion string) (runtime.Object, error) {
	var expected int64
	if resourceVersion != "" {
		v, err := strconv.ParseInt(resourceVersion, 10, 64)
		if err != nil {
			return nil, errdefs.BadRequest("invalid resourceVersion %q", resourceVersion)
		}
		expected = v
	}
	obj := r.Strategy.New()
	if err := r.Store.Delete(ctx, r.key(ns, name), obj, expected); err != nil {
		return nil, err
	}
	return obj, nil
}

// Watch streams changes to the matching objects in ns (all namespaces when
// empty). Without a resourceVersion it first sends the current objects as
// ADDED events. It fails with storage.ErrCompacted when the version is gone.
func (r *Registry) Watch(ctx context.Context, ns string, opts ListOptions) (<-chan storage.Event, error) {
	if !r.Strategy.NamespaceScoped() {
		ns = ""
	}
	prefix := storage.Prefix(r.Resource, ns)
	match := r.predicate(opts)
	if opts.ResourceVersion != "" && opts.ResourceVersion != "0" {
		rv, err := strconv.ParseInt(opts.ResourceVersion, 10, 64)
		if err != nil || rv < 0 {
			return nil, errdefs.BadRequest("invalid resourceVersion %q", opts.ResourceVersion)
		}
		return r.Store.Watch(ctx, prefix, rv, r.Strategy.New, match)
	}
	initial, err := r.Store.List(ctx, prefix, storage.ListOptions{}, r.Strategy.New, match)
	if err != nil {
		return nil, err
	}
	changes, err := r.Store.Watch(ctx, prefix, initial.Revision, r.Strategy.New, match)
	if err != nil {
		return nil, err
	}
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

// MarkDeleting starts a graceful deletion: it stamps deletionTimestamp and
// deletionGracePeriodSeconds on ns/name and leaves the object in place for
// whoever must finish the work (the node agent) to delete it for good. An
// object already being deleted keeps the earlier deadline.
func (r *Registry) MarkDeleting(ctx context.Context, ns, name string, grace int64) (runtime.Object, error) {
	dest := r.Strategy.New()
	now := metav1.NewTime(r.now().Truncate(time.Second))
	err := r.Store.GuaranteedUpdate(ctx, r.key(ns, name), dest, 0, func(current runtime.Object) (runtime.Object, error) {
		m, err := meta.Accessor(current)
		if err != nil {
			return nil, err
		}
		if old := m.GetDeletionGracePeriodSeconds(); m.GetDeletionTimestamp() != nil && old != nil && *old <= grace {
			return current, nil
		}
		if m.GetDeletionTimestamp() == nil {
			m.SetDeletionTimestamp(&now)
		}
		m.SetDeletionGracePeriodSeconds(&grace)
		return current, nil
	})
	if err != nil {
		return nil, err
	}
	return dest, nil
}

// ListRaw returns the stored bytes of every object in ns (all namespaces
// when empty), for a list with no selector that the caller passes through.
func (r *Registry) ListRaw(ctx context.Context, ns string, opts ListOptions) (storage.RawListResult, error) {
	if !r.Strategy.NamespaceScoped() {
		ns = ""
	}
	return r.Store.ListRaw(ctx, storage.Prefix(r.Resource, ns), storage.ListOptions{Limit: opts.Limit, Continue: opts.Continue})
}
