package core

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// assertPaths fails t unless errs name exactly the fields want, in any order.
func assertPaths(t *testing.T, errs field.ErrorList, want ...string) {
	t.Helper()
	var got []string
	for _, err := range errs {
		got = append(got, err.Field)
	}
	slices.Sort(got)
	got = slices.Compact(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("error paths = %q, want %q; errors: %v", got, want, errs.ToAggregate())
	}
}

func ptr[T any](v T) *T { return &v }
