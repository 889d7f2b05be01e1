// Package errdefs is Berth's one error vocabulary, as containerd's errdefs
// is containerd's: a small set of classes that every layer (storage,
// accounts, runtimes, the API, the node agent) wraps with context, checks
// with errors.Is, and that becomes an HTTP status and a Kubernetes Status
// body in exactly one place (Status, in status.go).
//
//	storage ─┐
//	accounts ├─ fmt.Errorf("...: %w", errdefs.ErrNotFound) ─► errors.Is ─► Status ─► 404
//	runtime ─┘
package errdefs

import (
	"errors"
	"fmt"
	"time"
)

// The classes. Each names what the caller did wrong, or what went wrong,
// not which layer noticed it.
var (
	// ErrNotFound: the object does not exist. 404.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: an object with that name exists. 409.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the object changed since the caller read it, or a
	// precondition (uid, resourceVersion) does not hold. 409.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the object breaks its resource's rules. 422; an
	// *InvalidError names the fields at fault.
	ErrInvalid = errors.New("invalid")
	// ErrBadRequest: the request cannot be understood as asked (a
	// malformed parameter, selector, token or body). 400.
	ErrBadRequest = errors.New("bad request")
	// ErrUnauthenticated: no credential, or one that is unknown, expired
	// or revoked. 401.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden: the caller may not do this. 403.
	ErrForbidden = errors.New("forbidden")
	// ErrTooManyRequests: a limit on the caller's rate or concurrency is
	// reached; a *RetryError says when to try again. 429.
	ErrTooManyRequests = errors.New("too many requests")
	// ErrExpired: the requested version is gone (compacted, or older than
	// the namespace). 410.
	ErrExpired = errors.New("expired")
	// ErrTooLarge: a body or a computed result exceeds its limit. 413.
	ErrTooLarge = errors.New("too large")
	// ErrUnsupported: the method is not served. 405.
	ErrUnsupported = errors.New("unsupported")
	// ErrUnsupportedMediaType: the body's media type is not served. 415.
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrUnavailable: a dependency (a node, the database) does not answer
	// now; retrying later may work. 503.
	ErrUnavailable = errors.New("unavailable")
	// ErrTimeout: the request did not finish in time. 504.
	ErrTimeout = errors.New("timeout")
)

// classed is an error whose message is for people as it stands and whose
// class is matched with errors.Is.
type classed struct {
	class error
	msg   string
}

func (e *classed) Error() string { return e.msg }
func (e *classed) Unwrap() error { return e.class }

// New returns an error that reads msg and is errors.Is class, without
// repeating the class's name in the text.
func New(class error, msg string) error { return &classed{class: class, msg: msg} }

// Newf is New with a format.
func Newf(class error, format string, args ...any) error {
	return &classed{class: class, msg: fmt.Sprintf(format, args...)}
}

// BadRequest is Newf(ErrBadRequest, ...).
func BadRequest(format string, args ...any) error { return Newf(ErrBadRequest, format, args...) }

// Forbidden is Newf(ErrForbidden, ...).
func Forbidden(format string, args ...any) error { return Newf(ErrForbidden, format, args...) }

// RetryError is a refusal that may succeed later: ErrTooManyRequests or
// ErrUnavailable, with how long to wait (Retry-After).
type RetryError struct {
	Err   error
	After time.Duration
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// Unavailable returns a 503 refusal that asks the client to try again
// after a while: a dependency (the database) does not answer.
func Unavailable(after time.Duration, format string, args ...any) error {
	return &RetryError{Err: Newf(ErrUnavailable, format, args...), After: after}
}

// TooManyRequests returns a 429 refusal that asks the client to wait.
func TooManyRequests(after time.Duration, format string, args ...any) error {
	return &RetryError{Err: Newf(ErrTooManyRequests, format, args...), After: after}
}
