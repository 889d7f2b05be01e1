package core

import (
	"github.com/berthpaas/berth/backend/registry/generic"
	coordinationv1 "k8s.io/api/coordination/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NodeLeaseNamespace holds one Lease per node, renewed by its agent as
// the kubelet renews its own: a heartbeat cheaper than rewriting the Node.
const NodeLeaseNamespace = "kube-node-lease"

// LeaseStrategy holds the rules of coordination.k8s.io/v1 Leases, which
// client-go's leader election and the node heartbeats use.
type LeaseStrategy struct{}

var (
	_ generic.Strategy       = LeaseStrategy{}
	_ generic.TableConvertor = LeaseStrategy{}
)

// New returns an empty lease.
func (LeaseStrategy) New() runtime.Object { return &coordinationv1.Lease{} }

// NewList returns an empty lease list.
func (LeaseStrategy) NewList() runtime.Object { return &coordinationv1.LeaseList{} }

// NamespaceScoped reports true.
func (LeaseStrategy) NamespaceScoped() bool { return true }

// HasStatus reports false: a lease is all spec.
func (LeaseStrategy) HasStatus() bool { return false }

// PrepareForCreate does nothing: a lease is stored as its holder wrote it.
func (LeaseStrategy) PrepareForCreate(runtime.Object) {}

// Validate checks a new lease.
func (LeaseStrategy) Validate(obj runtime.Object) field.ErrorList {
	lease := obj.(*coordinationv1.Lease)
	allErrs := apivalidation.ValidateObjectMeta(&lease.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateLeaseSpec(&lease.Spec, field.NewPath("spec"))...)
}

// PrepareForUpdate keeps the old system metadata.
func (LeaseStrategy) PrepareForUpdate(obj, old runtime.Object) {
	keepSystemMeta(&obj.(*coordinationv1.Lease).ObjectMeta, &old.(*coordinationv1.Lease).ObjectMeta)
}

// ValidateUpdate checks lease as a replacement of old.
func (LeaseStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	lease, oldLease := obj.(*coordinationv1.Lease), old.(*coordinationv1.Lease)
	allErrs := apivalidation.ValidateObjectMetaUpdate(&lease.ObjectMeta, &oldLease.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateLeaseSpec(&lease.Spec, field.NewPath("spec"))...)
}

// PrepareForStatusUpdate does nothing: leases have no status subresource.
func (LeaseStrategy) PrepareForStatusUpdate(obj, old runtime.Object) {}

// Fields returns the lease fields selectors match.
func (LeaseStrategy) Fields(obj runtime.Object) fields.Set {
	lease := obj.(*coordinationv1.Lease)
	return fields.Set{"metadata.name": lease.Name, "metadata.namespace": lease.Namespace}
}

// TableColumns of leases, as kubectl shows them.
func (LeaseStrategy) TableColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameCol, col("Holder", "string", 0, "The holder of the lease"), ageCol}
}

// TableRow of a lease.
func (LeaseStrategy) TableRow(obj runtime.Object) []any {
	lease := obj.(*coordinationv1.Lease)
	holder := ""
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	return []any{lease.Name, holder, age(lease.CreationTimestamp)}
}

// validateLeaseSpec is Kubernetes' ValidateLeaseSpec.
func validateLeaseSpec(spec *coordinationv1.LeaseSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.LeaseDurationSeconds != nil && *spec.LeaseDurationSeconds <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("leaseDurationSeconds"), *spec.LeaseDurationSeconds, "must be greater than 0"))
	}
	if spec.LeaseTransitions != nil && *spec.LeaseTransitions < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("leaseTransitions"), *spec.LeaseTransitions, "must be greater than or equal to 0"))
	}
	if spec.Strategy != nil && *spec.Strategy != coordinationv1.OldestEmulationVersion {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("strategy"), *spec.Strategy, []string{string(coordinationv1.OldestEmulationVersion)}))
	}
	return allErrs
}
