package core

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/berthpaas/berth/backend/registry/generic"
)

// NodeStrategy holds the rules of nodes. Unlike other resources, a node
// keeps the status it is created with: the node agent registers a node
// together with its capacity, as the kubelet does.
type NodeStrategy struct{}

var _ generic.Strategy = NodeStrategy{}

// New returns an empty node.
func (NodeStrategy) New() runtime.Object { return &v1.Node{} }

// NewList returns an empty node list.
func (NodeStrategy) NewList() runtime.Object { return &v1.NodeList{} }

// NamespaceScoped reports false: nodes are cluster-scoped.
func (NodeStrategy) NamespaceScoped() bool { return false }

// HasStatus reports true: the node agent heartbeats through nodes/status.
func (NodeStrategy) HasStatus() bool { return true }

// PrepareForCreate keeps the status: see NodeStrategy.
func (NodeStrategy) PrepareForCreate(runtime.Object) {}

// Validate checks a new node.
func (NodeStrategy) Validate(obj runtime.Object) field.ErrorList {
	node := obj.(*v1.Node)
	allErrs := apivalidation.ValidateObjectMeta(&node.ObjectMeta, false, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateNodeSpec(&node.Spec, field.NewPath("spec"))...)
	return append(allErrs, validateNodeStatus(&node.Status, field.NewPath("status"))...)
}

// PrepareForUpdate keeps the old status and system metadata.
func (NodeStrategy) PrepareForUpdate(obj, old runtime.Object) {
	node, oldNode := obj.(*v1.Node), old.(*v1.Node)
	node.Status = *oldNode.Status.DeepCopy()
	keepSystemMeta(&node.ObjectMeta, &oldNode.ObjectMeta)
}

// ValidateUpdate checks node as a replacement of old: spec.unschedulable
// and taints change freely; spec.podCIDR(s) and spec.providerID may only
// be set once.
func (NodeStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	node, oldNode := obj.(*v1.Node), old.(*v1.Node)
	specPath := field.NewPath("spec")
	allErrs := apivalidation.ValidateObjectMetaUpdate(&node.ObjectMeta, &oldNode.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateNodeSpec(&node.Spec, specPath)...)
	allErrs = append(allErrs, validateNodeStatus(&node.Status, field.NewPath("status"))...)
	if oldNode.Spec.PodCIDR != "" {
		allErrs = append(allErrs, apivalidation.ValidateImmutableField(node.Spec.PodCIDR, oldNode.Spec.PodCIDR, specPath.Child("podCIDR"))...)
	}
	if len(oldNode.Spec.PodCIDRs) > 0 {
		allErrs = append(allErrs, apivalidation.ValidateImmutableField(node.Spec.PodCIDRs, oldNode.Spec.PodCIDRs, specPath.Child("podCIDRs"))...)
	}
	if oldNode.Spec.ProviderID != "" {
		allErrs = append(allErrs, apivalidation.ValidateImmutableField(node.Spec.ProviderID, oldNode.Spec.ProviderID, specPath.Child("providerID"))...)
	}
	return allErrs
}

// PrepareForStatusUpdate keeps the old spec and metadata.
func (NodeStrategy) PrepareForStatusUpdate(obj, old runtime.Object) {
	node, oldNode := obj.(*v1.Node), old.(*v1.Node)
	node.Spec = *oldNode.Spec.DeepCopy()
	keepMetaForStatus(&node.ObjectMeta, &oldNode.ObjectMeta)
}

// Fields returns the node fields selectors match.
func (NodeStrategy) Fields(obj runtime.Object) fields.Set {
	node := obj.(*v1.Node)
	return fields.Set{
		"metadata.name":      node.Name,
		"spec.unschedulable": fmt.Sprint(node.Spec.Unschedulable),
	}
}

func validateNodeSpec(spec *v1.NodeSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.PodCIDR != "" {
		allErrs = append(allErrs, validation.IsValidCIDR(fldPath.Child("podCIDR"), spec.PodCIDR)...)
	}
	for i, cidr := range spec.PodCIDRs {
		allErrs = append(allErrs, validation.IsValidCIDR(fldPath.Child("podCIDRs").Index(i), cidr)...)
	}
	if len(spec.PodCIDRs) > 0 && spec.PodCIDRs[0] != spec.PodCIDR {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("podCIDRs").Index(0), spec.PodCIDRs[0], "must match `podCIDR`"))
	}
	return append(allErrs, validateTaints(spec.Taints, fldPath.Child("taints"))...)
}

// validateTaints requires each taint to have a key and an effect, and no
// two taints to share both.
func validateTaints(taints []v1.Taint, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[string]bool{}
	for i, t := range taints {
		idxPath := fldPath.Index(i)
		if t.Key == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("key"), ""))
		} else {
			allErrs = append(allErrs, invalidEach(idxPath.Child("key"), t.Key, content.IsLabelKey(t.Key))...)
		}
		allErrs = append(allErrs, invalidEach(idxPath.Child("value"), t.Value, content.IsLabelValue(t.Value))...)
		allErrs = append(allErrs, validateEnum(t.Effect, supportedTaintEffects, idxPath.Child("effect"))...)
		key := t.Key + ":" + string(t.Effect)
		if seen[key] {
			allErrs = append(allErrs, field.Duplicate(idxPath, key))
		}
		seen[key] = true
	}
	return allErrs
}

func validateNodeStatus(status *v1.NodeStatus, fldPath *field.Path) field.ErrorList {
	allErrs := validateNonNegativeQuantities(status.Capacity, fldPath.Child("capacity"))
	return append(allErrs, validateNonNegativeQuantities(status.Allocatable, fldPath.Child("allocatable"))...)
}

func validateNonNegativeQuantities(list v1.ResourceList, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, name := range sortedResourceNames(list) {
		if q := list[name]; q.Sign() < 0 {
			allErrs = append(allErrs, field.Invalid(fldPath.Key(string(name)), q.String(), apivalidation.IsNegativeErrorMsg))
		}
	}
	return allErrs
}
