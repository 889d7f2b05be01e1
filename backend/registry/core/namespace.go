package core

import (
	v1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/berthpaas/berth/backend/registry/generic"
)

var supportedNamespacePhases = []v1.NamespacePhase{v1.NamespaceActive, v1.NamespaceTerminating}

// NamespaceStrategy holds the rules of namespaces, which are cluster-scoped
// and named by a DNS-1123 label.
type NamespaceStrategy struct{}

var _ generic.Strategy = NamespaceStrategy{}

// New returns an empty namespace.
func (NamespaceStrategy) New() runtime.Object { return &v1.Namespace{} }

// NewList returns an empty namespace list.
func (NamespaceStrategy) NewList() runtime.Object { return &v1.NamespaceList{} }

// NamespaceScoped reports false: namespaces are cluster-scoped.
func (NamespaceStrategy) NamespaceScoped() bool { return false }

// HasStatus reports true: the phase moves to Terminating on deletion.
func (NamespaceStrategy) HasStatus() bool { return true }

// PrepareForCreate drops any status the client sent and starts the
// namespace Active.
func (NamespaceStrategy) PrepareForCreate(obj runtime.Object) {
	ns := obj.(*v1.Namespace)
	ns.Status = v1.NamespaceStatus{Phase: v1.NamespaceActive}
}

// Validate checks a new namespace.
func (NamespaceStrategy) Validate(obj runtime.Object) field.ErrorList {
	ns := obj.(*v1.Namespace)
	allErrs := apivalidation.ValidateObjectMeta(&ns.ObjectMeta, false, apivalidation.ValidateNamespaceName, field.NewPath("metadata"))
	return append(allErrs, validateNamespaceSpec(&ns.Spec, field.NewPath("spec"))...)
}

// PrepareForUpdate keeps the old status and system metadata, and the old
// spec.finalizers: like in Kubernetes, only the finalize step changes them.
func (NamespaceStrategy) PrepareForUpdate(obj, old runtime.Object) {
	ns, oldNS := obj.(*v1.Namespace), old.(*v1.Namespace)
	ns.Status = *oldNS.Status.DeepCopy()
	ns.Spec.Finalizers = append([]v1.FinalizerName(nil), oldNS.Spec.Finalizers...)
	keepSystemMeta(&ns.ObjectMeta, &oldNS.ObjectMeta)
}

// ValidateUpdate checks ns as a replacement of old.
func (NamespaceStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	ns, oldNS := obj.(*v1.Namespace), old.(*v1.Namespace)
	allErrs := apivalidation.ValidateObjectMetaUpdate(&ns.ObjectMeta, &oldNS.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateNamespaceSpec(&ns.Spec, field.NewPath("spec"))...)
	return append(allErrs, validateOptionalEnum(ns.Status.Phase, supportedNamespacePhases, field.NewPath("status", "phase"))...)
}

// PrepareForStatusUpdate keeps the old spec and metadata.
func (NamespaceStrategy) PrepareForStatusUpdate(obj, old runtime.Object) {
	ns, oldNS := obj.(*v1.Namespace), old.(*v1.Namespace)
	ns.Spec = *oldNS.Spec.DeepCopy()
	keepMetaForStatus(&ns.ObjectMeta, &oldNS.ObjectMeta)
}

// Fields returns the namespace fields selectors match.
func (NamespaceStrategy) Fields(obj runtime.Object) fields.Set {
	ns := obj.(*v1.Namespace)
	return fields.Set{
		"metadata.name": ns.Name,
		"status.phase":  string(ns.Status.Phase),
	}
}

func validateNamespaceSpec(spec *v1.NamespaceSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, f := range spec.Finalizers {
		allErrs = append(allErrs, apivalidation.ValidateFinalizerName(string(f), fldPath.Child("finalizers").Index(i))...)
	}
	return allErrs
}

var _ generic.TerminatingStrategy = NamespaceStrategy{}

// PrepareForDelete shows a namespace being deleted as Terminating, as
// Kubernetes does while its contents go.
func (NamespaceStrategy) PrepareForDelete(obj runtime.Object) {
	obj.(*v1.Namespace).Status.Phase = v1.NamespaceTerminating
}
