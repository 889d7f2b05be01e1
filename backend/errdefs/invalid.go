package errdefs

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// InvalidError is an object that breaks its resource's rules; Errs name
// each field at fault with Kubernetes' own messages. It is ErrInvalid.
type InvalidError struct {
	// Kind of the object ("Pod"), Name of it ("" when generated).
	Kind, Name string
	Errs       field.ErrorList
}

// Invalid returns an *InvalidError, or nil when errs is empty.
func Invalid(kind, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return &InvalidError{Kind: kind, Name: name, Errs: errs}
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("%s %q is invalid: %v", e.Kind, e.Name, e.Errs.ToAggregate())
}

func (e *InvalidError) Unwrap() error { return ErrInvalid }
