package storage

import "errors"

// The storage error classes. Every error the Store returns wraps one of them
// (or a context/etcd transport error); callers check with errors.Is.
var (
	// ErrNotFound: the key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: Create found the key taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the object changed since the caller read it.
	ErrConflict = errors.New("the object has been modified; please apply your changes to the latest version and try again")
	// ErrCompacted: the requested revision was compacted away.
	ErrCompacted = errors.New("resource version too old")
	// ErrParentNotFound: a key that Create required to exist (the namespace) is missing.
	ErrParentNotFound = errors.New("parent not found")
)
