package accounts

import (
	"context"
	"errors"
	"time"

	"github.com/berthpaas/berth/backend/errdefs"
)

// The error vocabulary of this package, each of an errdefs class (in
// brackets). Returned errors wrap one of these with context; the API maps
// the class to an HTTP status in one place.
var (
	// ErrNotFound: the user, token or membership does not exist. [ErrNotFound]
	ErrNotFound = errdefs.New(errdefs.ErrNotFound, "not found")
	// ErrAlreadyExists: a user or live token with that name exists. [ErrAlreadyExists]
	ErrAlreadyExists = errdefs.New(errdefs.ErrAlreadyExists, "already exists")
	// ErrInvalidCredentials: unknown user or wrong password; which of the
	// two is deliberately not said. [ErrUnauthenticated]
	ErrInvalidCredentials = errdefs.New(errdefs.ErrUnauthenticated, "invalid credentials")
	// ErrUnauthenticated: the token is unknown, expired or revoked. [ErrUnauthenticated]
	ErrUnauthenticated = errdefs.New(errdefs.ErrUnauthenticated, "unauthenticated")
	// ErrInvalid: an argument breaks a rule (name syntax, password length,
	// role, token kind). [ErrBadRequest]
	ErrInvalid = errdefs.New(errdefs.ErrBadRequest, "invalid")
)

// retryAfter is how long a caller is asked to wait when the database
// does not answer.
const retryAfter = 5 * time.Second

// unavailable classes a database failure [ErrUnavailable, Retry-After]:
// the request may succeed once PostgreSQL is back.
func unavailable(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return errdefs.Unavailable(retryAfter, "%s: %v", what, err)
}
