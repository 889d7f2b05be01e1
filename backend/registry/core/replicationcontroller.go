package core

import (
	"maps"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/berthpaas/berth/backend/registry/generic"
)

// ReplicationControllerStrategy holds the rules of replication controllers.
// metadata.generation counts spec changes, so that status.observedGeneration
// tells clients whether the controller has acted on the latest spec.
type ReplicationControllerStrategy struct{}

var _ generic.Strategy = ReplicationControllerStrategy{}

// New returns an empty replication controller.
func (ReplicationControllerStrategy) New() runtime.Object { return &v1.ReplicationController{} }

// NewList returns an empty replication controller list.
func (ReplicationControllerStrategy) NewList() runtime.Object {
	return &v1.ReplicationControllerList{}
}

// NamespaceScoped reports true: replication controllers live in a namespace.
func (ReplicationControllerStrategy) NamespaceScoped() bool { return true }

// HasStatus reports true: the replication manager writes the status.
func (ReplicationControllerStrategy) HasStatus() bool { return true }

// PrepareForCreate drops any status the client sent, sets generation 1 and
// defaults the spec.
func (ReplicationControllerStrategy) PrepareForCreate(obj runtime.Object) {
	rc := obj.(*v1.ReplicationController)
	rc.Status = v1.ReplicationControllerStatus{}
	rc.Generation = 1
	setReplicationControllerDefaults(rc)
}

// Validate checks a new replication controller.
func (ReplicationControllerStrategy) Validate(obj runtime.Object) field.ErrorList {
	rc := obj.(*v1.ReplicationController)
	allErrs := apivalidation.ValidateObjectMeta(&rc.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateReplicationControllerSpec(&rc.Spec, field.NewPath("spec"))...)
}

// PrepareForUpdate keeps the old status and system metadata, defaults the
// spec, and bumps the generation when the spec changed.
func (ReplicationControllerStrategy) PrepareForUpdate(obj, old runtime.Object) {
	rc, oldRC := obj.(*v1.ReplicationController), old.(*v1.ReplicationController)
	rc.Status = *oldRC.Status.DeepCopy()
	keepSystemMeta(&rc.ObjectMeta, &oldRC.ObjectMeta)
	setReplicationControllerDefaults(rc)
	if !apiequality.Semantic.DeepEqual(rc.Spec, oldRC.Spec) {
		rc.Generation = oldRC.Generation + 1
	}
}

// ValidateUpdate checks rc as a replacement of old; every spec field may
// change.
func (ReplicationControllerStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	rc, oldRC := obj.(*v1.ReplicationController), old.(*v1.ReplicationController)
	allErrs := apivalidation.ValidateObjectMetaUpdate(&rc.ObjectMeta, &oldRC.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateReplicationControllerSpec(&rc.Spec, field.NewPath("spec"))...)
	return append(allErrs, validateReplicationControllerStatus(&rc.Status, field.NewPath("status"))...)
}

// PrepareForStatusUpdate keeps the old spec and metadata.
func (ReplicationControllerStrategy) PrepareForStatusUpdate(obj, old runtime.Object) {
	rc, oldRC := obj.(*v1.ReplicationController), old.(*v1.ReplicationController)
	rc.Spec = *oldRC.Spec.DeepCopy()
	keepMetaForStatus(&rc.ObjectMeta, &oldRC.ObjectMeta)
}

// Fields returns the replication controller fields selectors match.
func (ReplicationControllerStrategy) Fields(obj runtime.Object) fields.Set {
	rc := obj.(*v1.ReplicationController)
	return fields.Set{
		"metadata.name":      rc.Name,
		"metadata.namespace": rc.Namespace,
	}
}

// setReplicationControllerDefaults gives a controller one replica and, when
// it has no selector or labels, those of its pod template, as Kubernetes
// does.
func setReplicationControllerDefaults(rc *v1.ReplicationController) {
	if rc.Spec.Replicas == nil {
		replicas := int32(1)
		rc.Spec.Replicas = &replicas
	}
	template := rc.Spec.Template
	if template == nil {
		return
	}
	if len(rc.Spec.Selector) == 0 {
		rc.Spec.Selector = maps.Clone(template.Labels)
	}
	if len(rc.Labels) == 0 {
		rc.Labels = maps.Clone(template.Labels)
	}
	setPodSpecDefaults(&template.Spec)
}

func validateReplicationControllerSpec(spec *v1.ReplicationControllerSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	selectorPath := fldPath.Child("selector")
	if len(spec.Selector) == 0 {
		allErrs = append(allErrs, field.Required(selectorPath, ""))
	}
	allErrs = append(allErrs, metav1validation.ValidateLabels(spec.Selector, selectorPath)...)
	if spec.Replicas != nil {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(*spec.Replicas), fldPath.Child("replicas"))...)
	}
	allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if spec.Template == nil {
		return append(allErrs, field.Required(fldPath.Child("template"), ""))
	}
	return append(allErrs, validatePodTemplate(spec.Template, spec.Selector, fldPath.Child("template"))...)
}

// validatePodTemplate checks the template of a controller whose pods the
// selector must match and that restarts them always.
func validatePodTemplate(template *v1.PodTemplateSpec, selector map[string]string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	labelsPath := fldPath.Child("metadata", "labels")
	if len(selector) > 0 && !labels.SelectorFromSet(selector).Matches(labels.Set(template.Labels)) {
		allErrs = append(allErrs, field.Invalid(labelsPath, template.Labels, "`selector` does not match template `labels`"))
	}
	allErrs = append(allErrs, metav1validation.ValidateLabels(template.Labels, labelsPath)...)
	allErrs = append(allErrs, apivalidation.ValidateAnnotations(template.Annotations, fldPath.Child("metadata", "annotations"))...)

	specPath := fldPath.Child("spec")
	allErrs = append(allErrs, validatePodSpec(&template.Spec, specPath)...)
	if rp := template.Spec.RestartPolicy; rp != "" && rp != v1.RestartPolicyAlways {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("restartPolicy"), rp, []v1.RestartPolicy{v1.RestartPolicyAlways}))
	}
	if template.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicationController is not Supported"))
	}
	return allErrs
}

func validateReplicationControllerStatus(status *v1.ReplicationControllerStatus, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, f := range []struct {
		name  string
		value int64
	}{
		{"replicas", int64(status.Replicas)},
		{"fullyLabeledReplicas", int64(status.FullyLabeledReplicas)},
		{"readyReplicas", int64(status.ReadyReplicas)},
		{"availableReplicas", int64(status.AvailableReplicas)},
		{"observedGeneration", status.ObservedGeneration},
	} {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(f.value, fldPath.Child(f.name))...)
	}
	if status.FullyLabeledReplicas > status.Replicas {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("fullyLabeledReplicas"), status.FullyLabeledReplicas, "cannot be greater than the number of replicas"))
	}
	if status.ReadyReplicas > status.Replicas {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("readyReplicas"), status.ReadyReplicas, "cannot be greater than the number of replicas"))
	}
	if status.AvailableReplicas > status.ReadyReplicas {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("availableReplicas"), status.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return allErrs
}

var _ generic.DependentsStrategy = ReplicationControllerStrategy{}

// HasDependents marks replication controllers as owners of their pods:
// the replication manager honours the orphan and foregroundDeletion
// finalizers of a controller being deleted.
func (ReplicationControllerStrategy) HasDependents() {}
