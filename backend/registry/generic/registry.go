package generic

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/storage"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Registry serves one resource: it stamps what the server owns (uid,
// creation time, names from generateName), asks the Strategy for defaults
// and validation and its hooks for admission, and reads and writes through
// the storage. Build registries once (core.NewRegistries) and share them.
type Registry struct {
	// Resource is the plural, lowercase name ("pods"); required.
	Resource string
	// Kind is the object kind ("Pod"); required.
	Kind     string
	Strategy Strategy
	Store    *storage.Store
	// Now stamps creation times; time.Now when nil.
	Now func() time.Time

	// Admission decides every write; nil admits all.
	Admission Admission
	// Allocator, when set, hands out the values no two objects may hold.
	Allocator Allocator
	// Charger, when set, takes what a new object costs from its
	// namespace's quotas just before it is stored (see Charger).
	Charger Charger
	// TTL, when positive, is how long objects live before etcd drops them.
	TTL time.Duration
	// AfterCreate runs once an object is stored; its error undoes the
	// create (a namespace whose creator could not be made its admin).
	AfterCreate func(ctx context.Context, obj runtime.Object) error
	// AfterDelete runs once an object is removed for good (not when it is
	// only marked for a graceful or finalized deletion), with its last
	// state: it frees what the object held outside its key (a node's pod
	// subnet). It cannot fail the delete, which has happened; what it
	// could not free, a controller must repair.
	AfterDelete func(ctx context.Context, obj runtime.Object)
	// Finalizer, when set, makes deletion two-phase (see Finalizer).
	Finalizer Finalizer
	// Auditor records writes of in-process components; nil records none.
	Auditor Auditor
	// GroupVersion of the resource's objects ({"", "v1"} for core/v1).
	GroupVersion schema.GroupVersion
	// Managers, when set, keep managedFields and serve server-side apply.
	Managers *FieldManagers
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
	// Predicate, when set, further narrows the objects, before paging
	// (what a caller may see).
	Predicate storage.Predicate
	// SendInitialEvents makes a watch from a resourceVersion begin with
	// the current objects as ADDED events and a bookmark marked
	// k8s.io/initial-events-end (client-go's streaming list). A watch
	// without a resourceVersion always begins so.
	SendInitialEvents bool
	// ExactRevision, when not zero, makes a list read the objects as they
	// were at that revision (resourceVersionMatch=Exact).
	ExactRevision int64
}

// namespaceResource names namespaces, which every namespaced object
// requires and whose termination blocks new objects.
var namespaceResource = schema.GroupResource{Resource: "namespaces"}

// namespaceKey is the key of namespace ns.
func namespaceKey(ns string) string { return storage.Key(namespaceResource.Resource, "", ns) }

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

func (r *Registry) admit(ctx context.Context, a *Attributes) error {
	if r.Admission == nil {
		return nil
	}
	a.Resource = r.Resource
	return r.Admission.Admit(ctx, a)
}

// charge takes a new object's cost from its namespace's quotas, once it
// is valid and about to be stored; the refund gives it back when the
// store refuses the object after all.
func (r *Registry) charge(ctx context.Context, ns, name string, obj runtime.Object, dryRun bool) (refund func(), err error) {
	if r.Charger == nil {
		return func() {}, nil
	}
	a := &Attributes{Operation: Create, Resource: r.Resource, Namespace: ns, Name: name, Object: obj, DryRun: dryRun}
	undo, err := r.Charger.Charge(ctx, a)
	if err != nil {
		return nil, err
	}
	return func() {
		// The request may be ending: the refund must happen anyway.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		undo(ctx)
	}, nil
}

func (r *Registry) audit(ctx context.Context, verb, ns, name string, err error) {
	if r.Auditor != nil {
		r.Auditor.RecordWrite(ctx, verb, r.Resource, ns, name, err)
	}
}

// IsDryRun reads metav1 options' dryRun list: nil or ["All"]; anything
// else is a bad request naming the parameter.
func IsDryRun(dryRun []string) (bool, error) {
	switch {
	case len(dryRun) == 0:
		return false, nil
	case len(dryRun) == 1 && dryRun[0] == metav1.DryRunAll:
		return true, nil
	}
	return false, errdefs.Invalid("DryRun", "", field.ErrorList{
		field.NotSupported(field.NewPath("dryRun"), dryRun, []string{metav1.DryRunAll}),
	})
}

// Create stores a new object in namespace ns (ignored for cluster-scoped
// resources); with opts.DryRun it checks everything and stores nothing.
// It fails with *errdefs.InvalidError, storage.ErrAlreadyExists, a
// not-found error about the namespace, ErrForbidden when the namespace is
// terminating, or what admission refuses.
func (r *Registry) Create(ctx context.Context, ns string, obj runtime.Object, opts metav1.CreateOptions) (runtime.Object, error) {
	return r.create(ctx, ns, obj, opts, false)
}

// create is Create; applied says obj comes from a server-side apply,
// whose managedFields are already right.
func (r *Registry) create(ctx context.Context, ns string, obj runtime.Object, opts metav1.CreateOptions, applied bool) (out runtime.Object, err error) {
	dryRun, err := IsDryRun(opts.DryRun)
	if err != nil {
		return nil, err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	if !dryRun {
		defer func() { r.audit(ctx, "create", ns, m.GetName(), err) }()
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
	m.SetDeletionGracePeriodSeconds(nil)
	r.Strategy.PrepareForCreate(obj)
	if !applied {
		obj = r.trackFields(r.Strategy.New(), obj, UpdateSpec, opts.FieldManager)
		if m, err = meta.Accessor(obj); err != nil {
			return nil, err
		}
	}
	storeOpts := storage.CreateOptions{TTL: int64(r.TTL / time.Second), DryRun: dryRun}
	if r.Strategy.NamespaceScoped() {
		storeOpts.Requires = []string{namespaceKey(ns)}
		storeOpts.Forbids = map[string]error{
			storage.TerminatingKey(namespaceResource.Resource, ns): errdefs.Forbidden("unable to create new content in namespace %s because it is being terminated", ns),
		}
	}
	for attempt := 0; ; attempt++ {
		if generated {
			m.SetName(m.GetGenerateName() + rand.String(5))
		}
		if err := r.admit(ctx, &Attributes{Operation: Create, Namespace: ns, Name: m.GetName(), Object: obj, DryRun: dryRun}); err != nil {
			return nil, err
		}
		if err := errdefs.Invalid(r.Kind, m.GetName(), r.Strategy.Validate(obj)); err != nil {
			return nil, err
		}
		var picked []string
		var unallocated runtime.Object
		if r.Allocator != nil {
			unallocated = obj.DeepCopyObject()
			if picked, err = r.allocate(ctx, obj, nil, m.GetName()); err != nil {
				return nil, err
			}
			storeOpts.Claims = r.Allocator.Claims(obj)
		}
		refund, err := r.charge(ctx, ns, m.GetName(), obj, dryRun)
		if err != nil {
			return nil, err
		}
		err = r.Store.Create(ctx, r.key(ns, m.GetName()), obj, storeOpts)
		if err != nil {
			refund()
		}
		if generated && errors.Is(err, storage.ErrAlreadyExists) && attempt < 8 {
			if unallocated != nil {
				restore(obj, unallocated)
			}
			continue
		}
		if key, ok := takenClaim(err); ok {
			if slices.Contains(picked, key) && attempt < 8 {
				// Another write took the value just picked: pick again.
				restore(obj, unallocated)
				continue
			}
			return nil, r.taken(obj, m.GetName(), key)
		}
		if errors.Is(err, storage.ErrParentNotFound) {
			return nil, errdefs.WithSubject(err, namespaceResource, ns)
		}
		if err != nil {
			return nil, err
		}
		break
	}
	if dryRun || r.AfterCreate == nil {
		return obj, nil
	}
	if err := r.AfterCreate(ctx, obj); err != nil {
		r.undoCreate(obj)
		return nil, err
	}
	return obj, nil
}

// undoCreate removes an object whose AfterCreate failed, so that it is not
// left half made (a namespace without an admin).
func (r *Registry) undoCreate(obj runtime.Object) {
	m, _ := meta.Accessor(obj)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rv, _ := strconv.ParseInt(m.GetResourceVersion(), 10, 64)
	_ = r.Store.Delete(ctx, r.key(m.GetNamespace(), m.GetName()), r.Strategy.New(), storage.DeleteOptions{ExpectedRV: rv, Also: r.claimKeys(obj)})
}

func (r *Registry) adoptNamespace(m metav1.Object, ns string) error {
	if !r.Strategy.NamespaceScoped() {
		m.SetNamespace("")
		return nil
	}
	if m.GetNamespace() != "" && m.GetNamespace() != ns {
		return errdefs.Invalid(r.Kind, m.GetName(), field.ErrorList{
			field.Invalid(field.NewPath("metadata", "namespace"), m.GetNamespace(), "does not match the namespace of the request ("+ns+")"),
		})
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
// ns, or in every namespace when ns is empty. Selectors and the predicate
// apply before paging, so a continue token never points past what the
// caller may see.
func (r *Registry) List(ctx context.Context, ns string, opts ListOptions) (runtime.Object, error) {
	if !r.Strategy.NamespaceScoped() {
		ns = ""
	}
	prefix := storage.Prefix(r.Resource, ns)
	if opts.Continue != "" && ns != "" {
		rv, err := r.Store.ContinueRevision(opts.Continue, prefix)
		if err != nil {
			return nil, err
		}
		if err := r.checkNamespaceIncarnation(ctx, ns, rv); err != nil {
			return nil, err
		}
	}
	if opts.ExactRevision != 0 && ns != "" {
		if err := r.checkNamespaceIncarnation(ctx, ns, opts.ExactRevision); err != nil {
			return nil, err
		}
	}
	res, err := r.Store.List(ctx, prefix,
		storage.ListOptions{Limit: opts.Limit, Continue: opts.Continue, Revision: opts.ExactRevision},
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

// checkNamespaceIncarnation refuses a version of namespace ns's objects
// from before the namespace that now has that name was created: it
// belongs to an earlier namespace of the same name, maybe another
// tenant's.
func (r *Registry) checkNamespaceIncarnation(ctx context.Context, ns string, rv int64) error {
	created, _, err := r.Store.CreateRevision(ctx, namespaceKey(ns))
	if err != nil {
		return errdefs.WithSubject(err, namespaceResource, ns)
	}
	if rv < created {
		return errdefs.Newf(errdefs.ErrExpired, "too old resource version: %d (namespace %s was created at %d)", rv, ns, created)
	}
	return nil
}

func (r *Registry) predicate(opts ListOptions) storage.Predicate {
	lsel, fsel, extra := opts.Labels, opts.Fields, opts.Predicate
	if (lsel == nil || lsel.Empty()) && (fsel == nil || fsel.Empty()) && extra == nil {
		return nil
	}
	return func(obj runtime.Object) bool {
		if lsel != nil && !lsel.Matches(Labels(obj)) {
			return false
		}
		if fsel != nil && !fsel.Matches(r.Strategy.Fields(obj)) {
			return false
		}
		return extra == nil || extra(obj)
	}
}

// Fields returns what field selectors match on obj.
func (r *Registry) Fields(obj runtime.Object) fields.Set { return r.Strategy.Fields(obj) }

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
// storage.ErrNotFound, *errdefs.InvalidError, a bad request, or what
// admission refuses. With opts.DryRun it stores nothing.
func (r *Registry) Update(ctx context.Context, ns, name string, kind UpdateKind, newObject ObjectFunc, opts metav1.UpdateOptions) (runtime.Object, error) {
	return r.update(ctx, ns, name, kind, newObject, opts, false)
}

// update is Update; applied says newObject is a server-side apply, which
// keeps the managedFields itself.
func (r *Registry) update(ctx context.Context, ns, name string, kind UpdateKind, newObject ObjectFunc, opts metav1.UpdateOptions, applied bool) (out runtime.Object, err error) {
	dryRun, err := IsDryRun(opts.DryRun)
	if err != nil {
		return nil, err
	}
	verb := "update"
	if kind == UpdateStatus {
		verb = "update/status"
	}
	if !dryRun {
		defer func() { r.audit(ctx, verb, ns, name, err) }()
	}
	dest, finalized, err := r.guaranteedUpdate(ctx, ns, name, kind, newObject, dryRun, opts.FieldManager, applied)
	if err != nil {
		return nil, err
	}
	if finalized && !dryRun && r.Finalizer == nil {
		// The last finalizer of an object being deleted went: it goes now,
		// as kube-apiserver deletes it within the same update.
		dm, _ := meta.Accessor(dest)
		rv, _ := strconv.ParseInt(dm.GetResourceVersion(), 10, 64)
		gone := r.Strategy.New()
		err := r.Store.Delete(ctx, r.key(ns, name), gone, storage.DeleteOptions{ExpectedRV: rv, Also: r.claimKeys(dest)})
		switch {
		case err == nil:
			r.afterDelete(ctx, gone)
		case !errors.Is(err, storage.ErrNotFound):
			return nil, err
		}
	}
	return dest, nil
}

// guaranteedUpdate stores the update; with an Allocator it takes the
// claims of the values the object gains and releases those it drops in
// the same transaction, and picks again a value another write took
// meanwhile. finalized reports that the update removed the last
// finalizer of an object being deleted.
func (r *Registry) guaranteedUpdate(ctx context.Context, ns, name string, kind UpdateKind, newObject ObjectFunc, dryRun bool, manager string, applied bool) (dest runtime.Object, finalized bool, err error) {
	storeOpts := storage.UpdateOptions{DryRun: dryRun}
	if r.Allocator != nil {
		storeOpts.Claims = r.Allocator.Claims
	}
	for attempt := 0; ; attempt++ {
		dest = r.Strategy.New()
		var picked []string
		var last runtime.Object
		err = r.Store.GuaranteedUpdate(ctx, r.key(ns, name), dest, storeOpts, func(current runtime.Object) (runtime.Object, error) {
			old := current.DeepCopyObject()
			obj, err := newObject(current)
			if err != nil {
				return nil, err
			}
			if obj, err = r.prepareUpdate(ctx, ns, name, kind, obj, old, dryRun); err != nil {
				return nil, err
			}
			if !applied {
				obj = r.trackFields(old, obj, kind, manager)
			}
			if r.Allocator != nil && kind == UpdateSpec {
				if picked, err = r.allocate(ctx, obj, old, name); err != nil {
					return nil, err
				}
			}
			finalized = lastFinalizerRemoved(obj, old)
			last = obj
			return obj, nil
		})
		if key, ok := takenClaim(err); ok {
			if slices.Contains(picked, key) && attempt < 8 {
				continue
			}
			return nil, false, r.taken(last, name, key)
		}
		if err != nil {
			return nil, false, err
		}
		return dest, finalized, nil
	}
}

// allocate gives obj the values the registry's Allocator hands out.
func (r *Registry) allocate(ctx context.Context, obj, old runtime.Object, name string) ([]string, error) {
	picked, errs, err := r.Allocator.Allocate(ctx, obj, old)
	if err != nil {
		return nil, err
	}
	return picked, errdefs.Invalid(r.Kind, name, errs)
}

// taken is the error of a write that asked for a value another object
// holds.
func (r *Registry) taken(obj runtime.Object, name, key string) error {
	if fe := r.Allocator.Taken(obj, key); fe != nil {
		return errdefs.Invalid(r.Kind, name, field.ErrorList{fe})
	}
	return &storage.ClaimTakenError{Key: key}
}

// takenClaim returns the key of the claim that err says another object
// holds.
func takenClaim(err error) (string, bool) {
	var taken *storage.ClaimTakenError
	if errors.As(err, &taken) {
		return taken.Key, true
	}
	return "", false
}

// claimKeys are the keys of obj's claims, released with it.
func (r *Registry) claimKeys(obj runtime.Object) []string {
	if r.Allocator == nil {
		return nil
	}
	var keys []string
	for _, c := range r.Allocator.Claims(obj) {
		keys = append(keys, c.Key)
	}
	return keys
}

// restore sets *obj back to *saved (both pointers to the same type).
func restore(obj, saved runtime.Object) {
	reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(saved.DeepCopyObject()).Elem())
}

// lastFinalizerRemoved reports whether obj, being deleted with no grace
// period left, has just lost its last finalizer.
func lastFinalizerRemoved(obj, old runtime.Object) bool {
	m, err1 := meta.Accessor(obj)
	om, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil || m.GetDeletionTimestamp() == nil || len(m.GetFinalizers()) > 0 || len(om.GetFinalizers()) == 0 {
		return false
	}
	grace := m.GetDeletionGracePeriodSeconds()
	return grace == nil || *grace == 0
}

func (r *Registry) prepareUpdate(ctx context.Context, ns, name string, kind UpdateKind, obj, old runtime.Object, dryRun bool) (runtime.Object, error) {
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
	m.SetDeletionGracePeriodSeconds(om.GetDeletionGracePeriodSeconds())
	m.SetGeneration(om.GetGeneration())
	sub := ""
	if kind == UpdateStatus {
		sub = "status"
		r.Strategy.PrepareForStatusUpdate(obj, old)
	} else {
		r.Strategy.PrepareForUpdate(obj, old)
	}
	if err := r.admit(ctx, &Attributes{Operation: Update, Subresource: sub, Namespace: ns, Name: name, Object: obj, Old: old, DryRun: dryRun}); err != nil {
		return nil, err
	}
	errs := r.Strategy.ValidateUpdate(obj, old)
	if om.GetDeletionTimestamp() != nil {
		for _, f := range m.GetFinalizers() {
			if !slices.Contains(om.GetFinalizers(), f) {
				errs = append(errs, field.Forbidden(field.NewPath("metadata", "finalizers"), "no new finalizers can be added if the object is being deleted, found new finalizers ["+f+"]"))
			}
		}
	}
	if err := errdefs.Invalid(r.Kind, name, errs); err != nil {
		return nil, err
	}
	return obj, nil
}

// Delete removes ns/name, or starts removing it:
//   - a GracefulDeleteStrategy's object that it says to delete gracefully
//     is marked (deletionTimestamp, deletionGracePeriodSeconds) and left
//     for whoever finishes the work;
//   - with a Finalizer, the object is marked terminating, new objects in
//     it are refused, Finalize runs, and then it is removed.
//
// It returns the object's last state (the marked one when it stays). The
// preconditions of opts (uid, resourceVersion) must hold (ErrConflict);
// with opts.DryRun nothing changes.
func (r *Registry) Delete(ctx context.Context, ns, name string, opts metav1.DeleteOptions) (out runtime.Object, err error) {
	dryRun, err := IsDryRun(opts.DryRun)
	if err != nil {
		return nil, err
	}
	if !dryRun {
		defer func() { r.audit(ctx, "delete", ns, name, err) }()
	}
	current, err := r.Get(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	cm, err := meta.Accessor(current)
	if err != nil {
		return nil, err
	}
	if err := checkPreconditions(cm, opts.Preconditions); err != nil {
		return nil, fmt.Errorf("delete %s %q: %w", r.Kind, name, err)
	}
	if err := r.admit(ctx, &Attributes{Operation: Delete, Namespace: ns, Name: name, Old: current, DryRun: dryRun}); err != nil {
		return nil, err
	}
	rv, _ := strconv.ParseInt(cm.GetResourceVersion(), 10, 64)
	if gs, ok := r.Strategy.(GracefulDeleteStrategy); ok {
		if graceful, grace := gs.CheckGracefulDelete(current, &opts); graceful {
			return r.markDeleting(ctx, ns, name, grace, rv, dryRun)
		}
	}
	if fin := r.propagationFinalizer(opts); fin != "" || len(cm.GetFinalizers()) > 0 {
		return r.markFinalizing(ctx, ns, name, fin, rv, dryRun)
	}
	if r.Finalizer != nil {
		return r.finalize(ctx, ns, name, rv, dryRun)
	}
	obj := r.Strategy.New()
	if err := r.Store.Delete(ctx, r.key(ns, name), obj, storage.DeleteOptions{ExpectedRV: rv, DryRun: dryRun, Also: r.claimKeys(current)}); err != nil {
		return nil, err
	}
	if !dryRun {
		r.afterDelete(ctx, obj)
	}
	return obj, nil
}

// DeleteAll removes every object of namespace ns (a namespace's
// finalization), releasing their claims.
func (r *Registry) DeleteAll(ctx context.Context, ns string) error {
	prefix := storage.Prefix(r.Resource, ns)
	if r.Allocator == nil {
		_, err := r.Store.DeletePrefix(ctx, prefix)
		return err
	}
	res, err := r.Store.List(ctx, prefix, storage.ListOptions{}, r.Strategy.New, nil)
	if err != nil {
		return err
	}
	var errs []error
	for _, obj := range res.Items {
		m, _ := meta.Accessor(obj)
		rv, _ := strconv.ParseInt(m.GetResourceVersion(), 10, 64)
		err := r.Store.Delete(ctx, r.key(ns, m.GetName()), r.Strategy.New(), storage.DeleteOptions{ExpectedRV: rv, Also: r.claimKeys(obj)})
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// DeleteCollection deletes every object in ns (all namespaces when empty)
// that listOpts select, each by Delete's rules (graceful deletion,
// finalizers, propagation), and returns a list of their last states. An
// object that went meanwhile is skipped.
func (r *Registry) DeleteCollection(ctx context.Context, ns string, listOpts ListOptions, opts metav1.DeleteOptions) (runtime.Object, error) {
	if opts.Preconditions != nil {
		return nil, errdefs.BadRequest("preconditions are for the deletion of one object, not of a collection")
	}
	listOpts.Limit, listOpts.Continue = 0, ""
	list, err := r.List(ctx, ns, listOpts)
	if err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	deleted := make([]runtime.Object, 0, len(items))
	for _, item := range items {
		m, err := meta.Accessor(item)
		if err != nil {
			return nil, err
		}
		obj, err := r.Delete(ctx, m.GetNamespace(), m.GetName(), opts)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			continue
		case err != nil:
			return nil, err
		}
		deleted = append(deleted, obj)
	}
	if err := meta.SetList(list, deleted); err != nil {
		return nil, err
	}
	return list, nil
}

// propagationFinalizer is the finalizer a delete's propagation policy asks
// for, as kube-apiserver's: orphan (its dependents are released) or
// foregroundDeletion (it goes after them). Only objects whose strategy has
// dependents (a DependentsStrategy: a replication controller's pods) keep
// one; for others there is nothing to wait for and they go at once.
func (r *Registry) propagationFinalizer(opts metav1.DeleteOptions) string {
	if _, ok := r.Strategy.(DependentsStrategy); !ok {
		return ""
	}
	//lint:ignore SA1019 old clients still send orphanDependents, which kube-apiserver honours when no policy is given
	orphan := opts.OrphanDependents
	switch {
	case opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationOrphan,
		opts.PropagationPolicy == nil && orphan != nil && *orphan:
		return metav1.FinalizerOrphanDependents
	case opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationForeground:
		return metav1.FinalizerDeleteDependents
	}
	return ""
}

// markFinalizing starts the deletion of an object that finalizers hold:
// deletionTimestamp, a zero grace period and the finalizer fin (if any)
// are stamped, and the object stays until its finalizers are removed
// (Update then deletes it).
func (r *Registry) markFinalizing(ctx context.Context, ns, name, fin string, rv int64, dryRun bool) (runtime.Object, error) {
	dest := r.Strategy.New()
	now := metav1.NewTime(r.now().Truncate(time.Second))
	zero := int64(0)
	err := r.Store.GuaranteedUpdate(ctx, r.key(ns, name), dest, storage.UpdateOptions{ExpectedRV: rv, DryRun: dryRun}, func(current runtime.Object) (runtime.Object, error) {
		m, err := meta.Accessor(current)
		if err != nil {
			return nil, err
		}
		if m.GetDeletionTimestamp() == nil {
			m.SetDeletionTimestamp(&now)
			m.SetDeletionGracePeriodSeconds(&zero)
		}
		if fin != "" && !slices.Contains(m.GetFinalizers(), fin) {
			m.SetFinalizers(append(m.GetFinalizers(), fin))
		}
		return current, nil
	})
	if err != nil {
		return nil, err
	}
	return dest, nil
}

func (r *Registry) afterDelete(ctx context.Context, obj runtime.Object) {
	if r.AfterDelete != nil {
		r.AfterDelete(ctx, obj)
	}
}

// checkPreconditions compares the stored object with the delete's
// preconditions, as kube-apiserver does.
func checkPreconditions(m metav1.Object, p *metav1.Preconditions) error {
	if p == nil {
		return nil
	}
	if p.UID != nil && *p.UID != m.GetUID() {
		return errdefs.Newf(errdefs.ErrConflict, "Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID())
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
		return errdefs.Newf(errdefs.ErrConflict, "Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.GetResourceVersion())
	}
	return nil
}

// markDeleting stamps deletionTimestamp and deletionGracePeriodSeconds on
// ns/name (expected at resourceVersion rv, else a conflict) and leaves the
// object in place. An object already being deleted keeps the earlier
// deadline.
func (r *Registry) markDeleting(ctx context.Context, ns, name string, grace, rv int64, dryRun bool) (runtime.Object, error) {
	dest := r.Strategy.New()
	now := metav1.NewTime(r.now().Truncate(time.Second))
	err := r.Store.GuaranteedUpdate(ctx, r.key(ns, name), dest, storage.UpdateOptions{ExpectedRV: rv, DryRun: dryRun}, func(current runtime.Object) (runtime.Object, error) {
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

// finalize runs a two-phase deletion: mark (new objects in the namespace
// are refused from here on), Finalize, remove.
func (r *Registry) finalize(ctx context.Context, ns, name string, rv int64, dryRun bool) (runtime.Object, error) {
	marked := r.Strategy.New()
	now := metav1.NewTime(r.now().Truncate(time.Second))
	mark := func(current runtime.Object) (runtime.Object, error) {
		m, err := meta.Accessor(current)
		if err != nil {
			return nil, err
		}
		if m.GetDeletionTimestamp() == nil {
			m.SetDeletionTimestamp(&now)
		}
		if ts, ok := r.Strategy.(TerminatingStrategy); ok {
			ts.PrepareForDelete(current)
		}
		return current, nil
	}
	if err := r.Store.GuaranteedUpdate(ctx, r.key(ns, name), marked, storage.UpdateOptions{ExpectedRV: rv, DryRun: dryRun}, mark); err != nil {
		return nil, err
	}
	if dryRun {
		return marked, nil
	}
	terminating := storage.TerminatingKey(r.Resource, name)
	if err := r.Store.Put(ctx, terminating, string(marked.(metav1.Object).GetUID())); err != nil {
		return nil, err
	}
	if err := r.Finalizer.Finalize(ctx, marked); err != nil {
		return nil, fmt.Errorf("finalize %s %q (it stays terminating; deleting it again resumes): %w", r.Kind, name, err)
	}
	obj := r.Strategy.New()
	if err := r.Store.Delete(ctx, r.key(ns, name), obj, storage.DeleteOptions{Also: append([]string{terminating}, r.claimKeys(marked)...)}); err != nil {
		return nil, err
	}
	r.afterDelete(ctx, obj)
	return obj, nil
}

// ListRaw returns the stored bytes of every object in ns (all namespaces
// when empty), for a list with no selector that the caller passes through.
func (r *Registry) ListRaw(ctx context.Context, ns string, opts ListOptions) (storage.RawListResult, error) {
	if !r.Strategy.NamespaceScoped() {
		ns = ""
	}
	prefix := storage.Prefix(r.Resource, ns)
	if opts.Continue != "" && ns != "" {
		rv, err := r.Store.ContinueRevision(opts.Continue, prefix)
		if err != nil {
			return storage.RawListResult{}, err
		}
		if err := r.checkNamespaceIncarnation(ctx, ns, rv); err != nil {
			return storage.RawListResult{}, err
		}
	}
	return r.Store.ListRaw(ctx, prefix, storage.ListOptions{Limit: opts.Limit, Continue: opts.Continue})
}

// UID is a shorthand for preconditions on a uid.
func UID(uid types.UID) *metav1.Preconditions { return &metav1.Preconditions{UID: &uid} }
