package errdefs

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// subjectError says which object an error is about when that is not the
// object the request named (the namespace of a create, say).
type subjectError struct {
	err      error
	resource schema.GroupResource
	name     string
}

func (e *subjectError) Error() string { return e.err.Error() }
func (e *subjectError) Unwrap() error { return e.err }

// WithSubject marks err as being about resource/name, for Status's
// messages ("namespaces \"x\" not found" rather than the pod's name).
func WithSubject(err error, resource schema.GroupResource, name string) error {
	return &subjectError{err: err, resource: resource, name: name}
}

// Status is the one place where an error becomes an HTTP status and a
// Kubernetes Status body. gr and name say which object the request was
// about, for the messages. Errors that already are Statuses (an
// apierrors.APIStatus) pass through; an unclassified error is a 500.
func Status(err error, gr schema.GroupResource, name string) *apierrors.StatusError {
	var (
		se      *apierrors.StatusError
		st      apierrors.APIStatus
		invalid *InvalidError
		subject *subjectError
		retry   *RetryError
		maxErr  *http.MaxBytesError
	)
	if errors.As(err, &subject) {
		gr, name = subject.resource, subject.name
	}
	switch {
	case errors.As(err, &se):
		return se
	case errors.As(err, &st):
		return &apierrors.StatusError{ErrStatus: st.Status()}
	case errors.As(err, &invalid):
		return apierrors.NewInvalid(schema.GroupKind{Group: gr.Group, Kind: invalid.Kind}, invalid.Name, invalid.Errs)
	case errors.As(err, &maxErr):
		return apierrors.NewRequestEntityTooLargeError("the request body exceeds the limit of " + sizeString(maxErr.Limit))
	case errors.Is(err, ErrTooLarge):
		return apierrors.NewRequestEntityTooLargeError(err.Error())
	case errors.Is(err, ErrBadRequest):
		return apierrors.NewBadRequest(err.Error())
	case errors.Is(err, ErrNotFound):
		if gr.Empty() && name == "" {
			return newStatus(http.StatusNotFound, metav1.StatusReasonNotFound, err.Error())
		}
		return apierrors.NewNotFound(gr, name)
	case errors.Is(err, ErrAlreadyExists):
		return apierrors.NewAlreadyExists(gr, name)
	case errors.Is(err, ErrConflict):
		return apierrors.NewConflict(gr, name, err)
	case errors.Is(err, ErrExpired):
		return apierrors.NewResourceExpired(err.Error())
	case errors.Is(err, ErrTooManyRequests):
		after := 1
		if errors.As(err, &retry) {
			after = seconds(retry.After)
		}
		return apierrors.NewTooManyRequests(err.Error(), after)
	case errors.Is(err, ErrUnauthenticated):
		return apierrors.NewUnauthorized(err.Error())
	case errors.Is(err, ErrForbidden):
		return apierrors.NewForbidden(gr, name, err)
	case errors.Is(err, ErrUnsupported):
		return newStatus(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, err.Error())
	case errors.Is(err, ErrUnsupportedMediaType):
		return newStatus(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType, err.Error())
	case errors.Is(err, ErrUnavailable):
		se := apierrors.NewServiceUnavailable(err.Error())
		if errors.As(err, &retry) {
			se.ErrStatus.Details = &metav1.StatusDetails{RetryAfterSeconds: int32(seconds(retry.After))}
		}
		return se
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeoutError("the request did not finish in time", 1)
	case errors.Is(err, ErrInvalid):
		return apierrors.NewInvalid(schema.GroupKind{Group: gr.Group, Kind: gr.Resource}, name, nil)
	}
	return apierrors.NewInternalError(err)
}

func newStatus(code int, reason metav1.StatusReason, msg string) *apierrors.StatusError {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg,
	}}
}

// seconds rounds d up to whole seconds, at least one.
func seconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 1)
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
