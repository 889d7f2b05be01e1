// Package generic ties a resource's strategy (defaults, validation, update
// rules) to its storage on etcd. Handlers call a Registry; a Registry calls
// the Strategy for every rule and the storage for every byte.
package generic

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Strategy holds the rules of one resource. Every method is pure: no I/O,
// no clock beyond what the registry already stamped, no storage.
type Strategy interface {
	// New returns an empty object of the resource (e.g. &v1.Pod{}).
	New() runtime.Object
	// NewList returns an empty list of the resource (e.g. &v1.PodList{}).
	NewList() runtime.Object
	// NamespaceScoped reports whether objects live in a namespace.
	NamespaceScoped() bool

	// PrepareForCreate clears what a client may not set on create
	// (status, for resources with a status subresource) and applies defaults.
	PrepareForCreate(obj runtime.Object)
	// Validate checks a new object. Paths in the returned errors are the
	// JSON paths of the fields at fault ("spec.containers[0].image").
	Validate(obj runtime.Object) field.ErrorList

	// PrepareForUpdate keeps what a spec update may not change (status)
	// from old and applies defaults.
	PrepareForUpdate(obj, old runtime.Object)
	// ValidateUpdate checks obj as a replacement of old (immutable fields).
	ValidateUpdate(obj, old runtime.Object) field.ErrorList

	// PrepareForStatusUpdate keeps everything but status from old.
	// Resources without a status subresource return false from HasStatus.
	PrepareForStatusUpdate(obj, old runtime.Object)
	// HasStatus reports whether the resource has a status subresource.
	HasStatus() bool

	// Fields returns the values field selectors match against; it always
	// holds "metadata.name" (and "metadata.namespace" when namespaced).
	Fields(obj runtime.Object) fields.Set
}

// Labels returns the labels of any object with metadata.
func Labels(obj runtime.Object) labels.Set {
	if m, ok := obj.(interface{ GetLabels() map[string]string }); ok {
		return m.GetLabels()
	}
	return nil
}
