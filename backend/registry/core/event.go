package core

import (
	v1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/berthpaas/berth/backend/registry/generic"
)

// Longest reason and message an event may carry; writers truncate to them.
// They are the limits of Kubernetes' events.k8s.io API.
const (
	MaxEventReasonLength  = 128
	MaxEventMessageLength = 1024
)

var supportedEventTypes = []string{v1.EventTypeNormal, v1.EventTypeWarning}

// EventStrategy holds the rules of events. Writers (scheduler, controllers,
// node agents) stamp the timestamps and count; the strategy sets nothing.
type EventStrategy struct{}

var _ generic.Strategy = EventStrategy{}

// New returns an empty event.
func (EventStrategy) New() runtime.Object { return &v1.Event{} }

// NewList returns an empty event list.
func (EventStrategy) NewList() runtime.Object { return &v1.EventList{} }

// NamespaceScoped reports true: an event lives in the namespace of the
// object it is about.
func (EventStrategy) NamespaceScoped() bool { return true }

// HasStatus reports false: events have no status.
func (EventStrategy) HasStatus() bool { return false }

// PrepareForCreate does nothing: an event is stored as written.
func (EventStrategy) PrepareForCreate(runtime.Object) {}

// Validate checks a new event.
func (EventStrategy) Validate(obj runtime.Object) field.ErrorList {
	event := obj.(*v1.Event)
	allErrs := apivalidation.ValidateObjectMeta(&event.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateEvent(event)...)
}

// PrepareForUpdate keeps the old system metadata.
func (EventStrategy) PrepareForUpdate(obj, old runtime.Object) {
	keepSystemMeta(&obj.(*v1.Event).ObjectMeta, &old.(*v1.Event).ObjectMeta)
}

// ValidateUpdate checks event as a replacement of old (a writer bumping
// count and lastTimestamp).
func (EventStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	event, oldEvent := obj.(*v1.Event), old.(*v1.Event)
	allErrs := apivalidation.ValidateObjectMetaUpdate(&event.ObjectMeta, &oldEvent.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateEvent(event)...)
}

// PrepareForStatusUpdate does nothing: events have no status subresource.
func (EventStrategy) PrepareForStatusUpdate(obj, old runtime.Object) {}

// Fields returns the event fields selectors match; kubectl describe finds
// an object's events by involvedObject.*.
func (EventStrategy) Fields(obj runtime.Object) fields.Set {
	event := obj.(*v1.Event)
	source := event.Source.Component
	if source == "" {
		source = event.ReportingController
	}
	return fields.Set{
		"metadata.name":                  event.Name,
		"metadata.namespace":             event.Namespace,
		"involvedObject.kind":            event.InvolvedObject.Kind,
		"involvedObject.namespace":       event.InvolvedObject.Namespace,
		"involvedObject.name":            event.InvolvedObject.Name,
		"involvedObject.uid":             string(event.InvolvedObject.UID),
		"involvedObject.apiVersion":      event.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": event.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       event.InvolvedObject.FieldPath,
		"reason":                         event.Reason,
		"reportingComponent":             event.ReportingController,
		"source":                         source,
		"type":                           event.Type,
	}
}

func validateEvent(event *v1.Event) field.ErrorList {
	var allErrs field.ErrorList
	if ns := event.InvolvedObject.Namespace; ns != "" && ns != event.Namespace {
		allErrs = append(allErrs, field.Invalid(field.NewPath("involvedObject", "namespace"), ns, "does not match event.namespace"))
	}
	if len(event.Reason) > MaxEventReasonLength {
		allErrs = append(allErrs, field.TooLong(field.NewPath("reason"), "", MaxEventReasonLength))
	}
	if len(event.Message) > MaxEventMessageLength {
		allErrs = append(allErrs, field.TooLong(field.NewPath("message"), "", MaxEventMessageLength))
	}
	return append(allErrs, validateOptionalEnum(event.Type, supportedEventTypes, field.NewPath("type"))...)
}
