package generic

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// InvalidError: the object breaks its resource's rules; Errs name each
// field at fault.
type InvalidError struct {
	Kind, Name string
	Errs       field.ErrorList
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("%s %q is invalid: %v", e.Kind, e.Name, e.Errs.ToAggregate())
}

// BadRequestError: the request cannot be understood as asked (a name that
// differs from the URL, a malformed selector).
type BadRequestError struct {
	Msg string
}

func (e *BadRequestError) Error() string { return e.Msg }

func badRequest(format string, args ...any) error {
	return &BadRequestError{Msg: fmt.Sprintf(format, args...)}
}
