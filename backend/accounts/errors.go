package accounts

import "errors"

// The error vocabulary of this package. Returned errors wrap one of these
// with context; the API maps each to an HTTP status in one place.
var (
	// ErrNotFound: the user, token or membership does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a user or live token with that name exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidCredentials: unknown user or wrong password; which of the
	// two is deliberately not said.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrUnauthenticated: the token is unknown, expired or revoked.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrRateLimited: too many failed logins; callers return it when
	// LoginLimiter.Allow refuses.
	ErrRateLimited = errors.New("too many failed attempts, try again later")
	// ErrInvalid: an argument breaks a rule (name syntax, password length,
	// role, token kind).
	ErrInvalid = errors.New("invalid")
)
