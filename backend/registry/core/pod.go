package core

import (
	"reflect"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/berthpaas/berth/backend/registry/generic"
)

// PodStrategy holds the rules of pods. A pod's spec is fixed once created,
// but for container images, a shorter active deadline, added tolerations,
// and spec.nodeName, which the scheduler sets once to bind the pod.
type PodStrategy struct{}

var _ generic.Strategy = PodStrategy{}

var supportedPodPhases = []v1.PodPhase{v1.PodPending, v1.PodRunning, v1.PodSucceeded, v1.PodFailed, v1.PodUnknown}

// podUpdateForbiddenMsg is Kubernetes' message, so clients that match on it
// behave the same.
const podUpdateForbiddenMsg = "pod updates may not change fields other than " +
	"`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`," +
	"`spec.tolerations` (only additions to existing tolerations),`spec.nodeName` (only to bind an unbound pod)"

// New returns an empty pod.
func (PodStrategy) New() runtime.Object { return &v1.Pod{} }

// NewList returns an empty pod list.
func (PodStrategy) NewList() runtime.Object { return &v1.PodList{} }

// NamespaceScoped reports true: pods live in a namespace.
func (PodStrategy) NamespaceScoped() bool { return true }

// HasStatus reports true: the node agent writes pods/status.
func (PodStrategy) HasStatus() bool { return true }

// PrepareForCreate drops any status the client sent, starts the pod
// Pending, and defaults its spec.
func (PodStrategy) PrepareForCreate(obj runtime.Object) {
	pod := obj.(*v1.Pod)
	pod.Status = v1.PodStatus{Phase: v1.PodPending}
	setPodDefaults(pod)
}

// Validate checks a new pod.
func (PodStrategy) Validate(obj runtime.Object) field.ErrorList {
	pod := obj.(*v1.Pod)
	allErrs := apivalidation.ValidateObjectMeta(&pod.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validatePodSpec(&pod.Spec, field.NewPath("spec"))...)
}

// PrepareForUpdate keeps the old status and system metadata, and defaults
// the new spec so that a replacement omitting defaults changes nothing.
func (PodStrategy) PrepareForUpdate(obj, old runtime.Object) {
	pod, oldPod := obj.(*v1.Pod), old.(*v1.Pod)
	pod.Status = *oldPod.Status.DeepCopy()
	keepSystemMeta(&pod.ObjectMeta, &oldPod.ObjectMeta)
	setPodDefaults(pod)
}

// ValidateUpdate checks pod as a replacement of old: it must be a valid pod
// whose spec differs only where podUpdateForbiddenMsg allows.
func (PodStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	pod, oldPod := obj.(*v1.Pod), old.(*v1.Pod)
	allErrs := apivalidation.ValidateObjectMetaUpdate(&pod.ObjectMeta, &oldPod.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validatePodSpec(&pod.Spec, field.NewPath("spec"))...)
	allErrs = append(allErrs, validatePodSpecUpdate(&pod.Spec, &oldPod.Spec, field.NewPath("spec"))...)
	return append(allErrs, validatePodStatusUpdate(&pod.Status, &oldPod.Status, field.NewPath("status"))...)
}

// PrepareForStatusUpdate keeps the old spec and metadata: pods/status
// changes status only.
func (PodStrategy) PrepareForStatusUpdate(obj, old runtime.Object) {
	pod, oldPod := obj.(*v1.Pod), old.(*v1.Pod)
	pod.Spec = *oldPod.Spec.DeepCopy()
	keepMetaForStatus(&pod.ObjectMeta, &oldPod.ObjectMeta)
}

// Fields returns the pod fields selectors match: the scheduler lists
// unbound pods with spec.nodeName=, a node agent its own with
// spec.nodeName=<node>.
func (PodStrategy) Fields(obj runtime.Object) fields.Set {
	pod := obj.(*v1.Pod)
	return fields.Set{
		"metadata.name":           pod.Name,
		"metadata.namespace":      pod.Namespace,
		"spec.nodeName":           pod.Spec.NodeName,
		"spec.restartPolicy":      string(pod.Spec.RestartPolicy),
		"spec.schedulerName":      pod.Spec.SchedulerName,
		"spec.serviceAccountName": pod.Spec.ServiceAccountName,
		"status.phase":            string(pod.Status.Phase),
		"status.podIP":            pod.Status.PodIP,
	}
}

func setPodDefaults(pod *v1.Pod) {
	setPodSpecDefaults(&pod.Spec)
	setRequestsFromLimits(&pod.Spec)
}

// validatePodSpecUpdate lays the fields an update may change over a copy of
// the old spec; anything else that differs is forbidden.
func validatePodSpecUpdate(spec, oldSpec *v1.PodSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if oldSpec.NodeName != "" {
		allErrs = append(allErrs, apivalidation.ValidateImmutableField(spec.NodeName, oldSpec.NodeName, fldPath.Child("nodeName"))...)
	}
	if old := oldSpec.ActiveDeadlineSeconds; old != nil {
		switch ads := spec.ActiveDeadlineSeconds; {
		case ads == nil:
			allErrs = append(allErrs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), ads, "must not update from a positive integer to nil value"))
		case *ads > *old:
			allErrs = append(allErrs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), *ads, "must be less than or equal to previous value"))
		}
	}
	allErrs = append(allErrs, validateOnlyAddedTolerations(spec.Tolerations, oldSpec.Tolerations, fldPath.Child("tolerations"))...)

	allowed := oldSpec.DeepCopy()
	allowed.NodeName = spec.NodeName
	allowed.ActiveDeadlineSeconds = spec.ActiveDeadlineSeconds
	allowed.Tolerations = spec.Tolerations
	copyImages(allowed.Containers, spec.Containers)
	copyImages(allowed.InitContainers, spec.InitContainers)
	if !apiequality.Semantic.DeepEqual(spec, allowed) {
		changed := changedFields(reflect.ValueOf(spec).Elem(), reflect.ValueOf(allowed).Elem(), fldPath)
		allErrs = append(allErrs, field.Forbidden(fldPath, podUpdateForbiddenMsg+"; changed: "+strings.Join(changed, ", ")))
	}
	return allErrs
}

// copyImages sets the images of dst to those of src when both list the same
// number of containers (a different number is a forbidden change anyway).
func copyImages(dst, src []v1.Container) {
	if len(dst) != len(src) {
		return
	}
	for i := range dst {
		dst[i].Image = src[i].Image
	}
}

// changedFields names the fields of the structs a and b that differ.
func changedFields(a, b reflect.Value, fldPath *field.Path) []string {
	var changed []string
	for i := range a.NumField() {
		if !apiequality.Semantic.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			changed = append(changed, fldPath.Child(jsonName(a.Type().Field(i))).String())
		}
	}
	return changed
}

// validateOnlyAddedTolerations requires every old toleration to remain;
// only its tolerationSeconds may change.
func validateOnlyAddedTolerations(tolerations, oldTolerations []v1.Toleration, fldPath *field.Path) field.ErrorList {
	for _, old := range oldTolerations {
		found := false
		for _, t := range tolerations {
			t.TolerationSeconds = old.TolerationSeconds
			if apiequality.Semantic.DeepEqual(t, old) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return nil
}

func validatePodStatusUpdate(status, oldStatus *v1.PodStatus, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	phasePath := fldPath.Child("phase")
	allErrs = append(allErrs, validateOptionalEnum(status.Phase, supportedPodPhases, phasePath)...)
	if terminal := oldStatus.Phase == v1.PodSucceeded || oldStatus.Phase == v1.PodFailed; terminal && status.Phase != oldStatus.Phase {
		allErrs = append(allErrs, field.Forbidden(phasePath, "may not transition from terminal phase "+string(oldStatus.Phase)))
	}
	if status.PodIP != "" {
		allErrs = append(allErrs, validation.IsValidIP(fldPath.Child("podIP"), status.PodIP)...)
	}
	if status.HostIP != "" {
		allErrs = append(allErrs, validation.IsValidIP(fldPath.Child("hostIP"), status.HostIP)...)
	}
	return allErrs
}

var _ generic.GracefulDeleteStrategy = PodStrategy{}

// defaultGracePeriod is Kubernetes' default terminationGracePeriodSeconds.
const defaultGracePeriod = 30

// CheckGracefulDelete deletes a pod that a node runs gracefully: the API
// marks it and its node agent removes it once its containers are gone
// (SIGTERM, the grace period, SIGKILL). A pod bound to no node, or a zero
// grace period (the agent's own final delete, or --force), goes at once.
func (PodStrategy) CheckGracefulDelete(obj runtime.Object, opts *metav1.DeleteOptions) (bool, int64) {
	pod := obj.(*v1.Pod)
	if pod.Spec.NodeName == "" || (opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds == 0) {
		return false, 0
	}
	switch {
	case opts.GracePeriodSeconds != nil:
		return true, *opts.GracePeriodSeconds
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return true, *pod.Spec.TerminationGracePeriodSeconds
	}
	return true, defaultGracePeriod
}
