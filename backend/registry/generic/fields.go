package generic

import (
	"context"
	"errors"
	"strings"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/storage"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// FieldManagers keep an object's managedFields (who set which field) on
// every write, and merge server-side apply patches, as kube-apiserver's
// structured-merge-diff field managers do. Main serves the resource,
// Status its status subresource.
type FieldManagers struct {
	Main, Status *managedfields.FieldManager
}

func (r *Registry) fieldManager(kind UpdateKind) *managedfields.FieldManager {
	if r.Managers == nil {
		return nil
	}
	if kind == UpdateStatus {
		return r.Managers.Status
	}
	return r.Managers.Main
}

// trackFields records a non-apply write of obj over live by manager in
// obj's managedFields. Without field managers, objects carry none.
func (r *Registry) trackFields(live, obj runtime.Object, kind UpdateKind, manager string) runtime.Object {
	fm := r.fieldManager(kind)
	m, err := meta.Accessor(obj)
	if fm == nil || err != nil {
		if err == nil {
			m.SetManagedFields(nil)
		}
		return obj
	}
	r.setKind(live)
	r.setKind(obj)
	return fm.UpdateNoErrors(live, obj, manager)
}

// setKind stamps the registry's group, version and kind on obj: the field
// managers find an object's schema by it.
func (r *Registry) setKind(obj runtime.Object) {
	if r.GroupVersion.Version != "" {
		obj.GetObjectKind().SetGroupVersionKind(r.GroupVersion.WithKind(r.Kind))
	}
}

// ApplyOptions qualify a server-side apply.
type ApplyOptions struct {
	// Manager names who applies; required.
	Manager string
	// Force takes over the fields other managers own instead of failing
	// with a conflict.
	Force  bool
	DryRun []string
}

// Apply merges a server-side apply configuration into ns/name, creating
// the object when there is none (not for the status subresource). It
// returns the result and whether it was created. A field another manager
// owns with another value is a conflict (409 naming the fields and their
// managers) unless opts.Force.
func (r *Registry) Apply(ctx context.Context, ns, name string, kind UpdateKind, applied *unstructured.Unstructured, opts ApplyOptions) (runtime.Object, bool, error) {
	fm := r.fieldManager(kind)
	if fm == nil {
		return nil, false, errdefs.Newf(errdefs.ErrUnsupportedMediaType, "server-side apply is not supported for %s", r.Resource)
	}
	if opts.Manager == "" {
		return nil, false, errdefs.Invalid("PatchOptions", "", field.ErrorList{field.Required(field.NewPath("fieldManager"), "is required for apply patch")})
	}
	if applied.GetName() != name {
		return nil, false, errdefs.BadRequest("the name of the object (%s) does not match the name on the URL (%s)", applied.GetName(), name)
	}
	apply := func(current runtime.Object) (runtime.Object, error) {
		r.setKind(current)
		return fm.Apply(current, applied, opts.Manager, opts.Force)
	}
	out, err := r.update(ctx, ns, name, kind, apply, metav1.UpdateOptions{DryRun: opts.DryRun, FieldManager: opts.Manager}, true)
	if !errors.Is(err, storage.ErrNotFound) || kind == UpdateStatus {
		return out, false, err
	}
	live := r.Strategy.New()
	r.setKind(live)
	if lm, err := meta.Accessor(live); err == nil {
		lm.SetName(name)
		lm.SetNamespace(ns)
	}
	obj, err := fm.Apply(live, applied, opts.Manager, opts.Force)
	if err != nil {
		return nil, false, err
	}
	out, err = r.create(ctx, ns, obj, metav1.CreateOptions{DryRun: opts.DryRun, FieldManager: opts.Manager}, true)
	return out, err == nil, err
}

// ManagerFromUserAgent is kube-apiserver's default field manager: the
// client's user agent up to its first slash, at most 128 bytes.
func ManagerFromUserAgent(userAgent string) string {
	manager, _, _ := strings.Cut(userAgent, "/")
	if len(manager) > 128 {
		manager = manager[:128]
	}
	return manager
}
