package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"

	"github.com/berthpaas/berth/backend/accounts"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/manifest"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	"github.com/labstack/echo/v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// errNodeUnreachable: the agent of a pod's node does not answer.
var errNodeUnreachable = errors.New("node unreachable")

// statusError is the one place where Berth's error vocabulary becomes an
// HTTP status and a Kubernetes Status body. gr and name say which object
// the request was about, for the messages.
func statusError(err error, gr schema.GroupResource, name string) *apierrors.StatusError {
	var (
		se      *apierrors.StatusError
		invalid *generic.InvalidError
		bad     *generic.BadRequestError
		strict  *strictError
		maxErr  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &se):
		return se
	case errors.As(err, &invalid):
		return apierrors.NewInvalid(schema.GroupKind{Group: gr.Group, Kind: invalid.Kind}, invalid.Name, invalid.Errs)
	case errors.As(err, &bad):
		return apierrors.NewBadRequest(bad.Msg)
	case errors.As(err, &strict):
		return strict.status()
	case errors.As(err, &maxErr):
		return apierrors.NewRequestEntityTooLargeError("the request body exceeds the limit of 3 MiB")
	case errors.Is(err, manifest.ErrMalformed):
		return apierrors.NewBadRequest(err.Error())
	case errors.Is(err, storage.ErrParentNotFound):
		return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "")
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, accounts.ErrNotFound):
		return apierrors.NewNotFound(gr, name)
	case errors.Is(err, storage.ErrAlreadyExists), errors.Is(err, accounts.ErrAlreadyExists):
		return apierrors.NewAlreadyExists(gr, name)
	case errors.Is(err, storage.ErrConflict):
		return apierrors.NewConflict(gr, name, storage.ErrConflict)
	case errors.Is(err, storage.ErrCompacted):
		return apierrors.NewResourceExpired("too old resource version: " + err.Error())
	case errors.Is(err, storage.ErrBadContinue):
		return apierrors.NewBadRequest("the provided continue parameter is too old or invalid")
	case errors.Is(err, accounts.ErrInvalid):
		return apierrors.NewBadRequest(err.Error())
	case errors.Is(err, accounts.ErrRateLimited):
		return apierrors.NewTooManyRequests("too many failed logins; try again later", 60)
	case errors.Is(err, auth.ErrUnauthenticated), errors.Is(err, accounts.ErrUnauthenticated), errors.Is(err, accounts.ErrInvalidCredentials):
		return apierrors.NewUnauthorized(err.Error())
	case errors.Is(err, auth.ErrForbidden):
		return apierrors.NewForbidden(gr, name, err)
	case errors.Is(err, errNodeUnreachable):
		return apierrors.NewServiceUnavailable(err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeoutError("the request did not finish in time", 1)
	}
	return apierrors.NewInternalError(err)
}

// strictError lists the unknown or duplicate fields of a body decoded
// under fieldValidation=Strict.
type strictError struct {
	problems []string
}

func (e *strictError) Error() string { return "strict decoding error" }

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
	writeJSON(c, int(status.Code), &status)
}

func httpStatusError(he *echo.HTTPError) *apierrors.StatusError {
	msg := http.StatusText(he.Code)
	if m, ok := he.Message.(string); ok {
		msg = m
	}
	switch he.Code {
	case http.StatusNotFound:
		return apierrors.NewNotFound(schema.GroupResource{}, "")
	case http.StatusMethodNotAllowed:
		return apierrors.NewMethodNotSupported(schema.GroupResource{}, "")
	case http.StatusRequestEntityTooLarge:
		return apierrors.NewRequestEntityTooLargeError(msg)
	case http.StatusUnauthorized:
		return apierrors.NewUnauthorized(msg)
	}
	return apierrors.NewGenericServerResponse(he.Code, "", schema.GroupResource{}, "", msg, 0, false)
}
