package api

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"

	"github.com/berthpaas/berth/backend/errdefs"

	"github.com/labstack/echo/v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// notFoundMessage is kube-apiserver's message for a path it does not serve.
const notFoundMessage = "the server could not find the requested resource"

// errNodeUnreachable: the agent of a pod's node does not answer.
var errNodeUnreachable = errdefs.New(errdefs.ErrUnavailable, "node unreachable")

// statusError turns err into a Status for the request about gr/name; the
// mapping itself is errdefs.Status, the one place for it.
func statusError(err error, gr schema.GroupResource, name string) *apierrors.StatusError {
	return errdefs.Status(err, gr, name)
}

// strictError lists the unknown or duplicate fields of a body decoded
// under fieldValidation=Strict.
type strictError struct {
	problems []string
}

func (e *strictError) Error() string { return "strict decoding error" }

// Status makes a strictError an apierrors.APIStatus, which errdefs.Status
// passes through.
func (e *strictError) Status() metav1.Status { return e.status().ErrStatus }

var quotedField = regexp.MustCompile(`field "([^"]+)"`)

func (e *strictError) status() *apierrors.StatusError {
	msg := "strict decoding error: "
	var causes []metav1.StatusCause
	for i, p := range e.problems {
		if i > 0 {
			msg += ", "
		}
		msg += p
		cause := metav1.StatusCause{Type: metav1.CauseTypeFieldValueInvalid, Message: p}
		if m := quotedField.FindStringSubmatch(p); m != nil {
			cause.Field = m[1]
		}
		causes = append(causes, cause)
	}
	se := apierrors.NewBadRequest(msg)
	se.ErrStatus.Details = &metav1.StatusDetails{Causes: causes}
	return se
}

// errorHandler writes every error that reaches echo as a Status.
func (a *API) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	var se *apierrors.StatusError
	switch {
	case errors.As(err, &se):
	case errors.As(err, &he):
		se = httpStatusError(he)
	default:
		se = statusError(err, schema.GroupResource{}, "")
	}
	if se.ErrStatus.Code >= 500 {
		a.logger.Error("request failed", "path", c.Request().URL.Path, "error", err)
	}
	status := se.Status()
	status.Kind, status.APIVersion = "Status", "v1"
	if d := status.Details; d != nil && d.RetryAfterSeconds > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(d.RetryAfterSeconds)))
	}
	writeJSON(c, int(status.Code), &status)
}

func httpStatusError(he *echo.HTTPError) *apierrors.StatusError {
	msg := http.StatusText(he.Code)
	if m, ok := he.Message.(string); ok {
		msg = m
	}
	switch he.Code {
	case http.StatusNotFound:
		// kube-apiserver's answer for a path it does not serve.
		if _, ok := he.Message.(string); !ok || msg == http.StatusText(http.StatusNotFound) {
			msg = notFoundMessage
		}
		return &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
			Message: msg, Details: &metav1.StatusDetails{},
		}}
	case http.StatusMethodNotAllowed:
		if _, ok := he.Message.(string); ok {
			return &apierrors.StatusError{ErrStatus: metav1.Status{
				Status: metav1.StatusFailure, Code: http.StatusMethodNotAllowed, Reason: metav1.StatusReasonMethodNotAllowed,
				Message: msg, Details: &metav1.StatusDetails{},
			}}
		}
		return apierrors.NewMethodNotSupported(schema.GroupResource{}, "")
	case http.StatusRequestEntityTooLarge:
		return apierrors.NewRequestEntityTooLargeError(msg)
	case http.StatusUnauthorized:
		return apierrors.NewUnauthorized(msg)
	}
	return apierrors.NewGenericServerResponse(he.Code, "", schema.GroupResource{}, "", msg, 0, false)
}
