package storage

import "github.com/berthpaas/berth/backend/errdefs"

// The storage errors. Each is of an errdefs class (in brackets), which is
// what callers outside storage check with errors.Is; the storage-specific
// sentinels refine it for callers that care (a watch that must re-list).
var (
	// ErrNotFound: the key does not exist. [ErrNotFound]
	ErrNotFound = errdefs.New(errdefs.ErrNotFound, "not found")
	// ErrAlreadyExists: Create found the key taken. [ErrAlreadyExists]
	ErrAlreadyExists = errdefs.New(errdefs.ErrAlreadyExists, "already exists")
	// ErrConflict: the object changed since the caller read it. [ErrConflict]
	ErrConflict = errdefs.New(errdefs.ErrConflict, "the object has been modified; please apply your changes to the latest version and try again")
	// ErrCompacted: the requested revision was compacted away. [ErrExpired]
	ErrCompacted = errdefs.New(errdefs.ErrExpired, "resource version too old")
	// ErrParentNotFound: a key that Create required to exist (the
	// namespace) is missing. [ErrNotFound]
	ErrParentNotFound = errdefs.New(errdefs.ErrNotFound, "parent not found")
	// ErrBadContinue: a continue token that this server did not issue, or
	// one for another list. [ErrBadRequest]
	ErrBadContinue = errdefs.New(errdefs.ErrBadRequest, "the provided continue parameter is too old or invalid")
)
