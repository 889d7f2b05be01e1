package errdefs_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/errdefs"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestStatus(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	tests := []struct {
		name       string
		err        error
		wantCode   int
		wantReason metav1.StatusReason
		wantMsg    string
	}{
		{"not found, wrapped", fmt.Errorf("get: %w", errdefs.ErrNotFound), 404, metav1.StatusReasonNotFound, `pods "web" not found`},
		{"subject", errdefs.WithSubject(errdefs.New(errdefs.ErrNotFound, "parent not found"), schema.GroupResource{Resource: "namespaces"}, "dev"),
			404, metav1.StatusReasonNotFound, `namespaces "dev" not found`},
		{"already exists", errdefs.ErrAlreadyExists, 409, metav1.StatusReasonAlreadyExists, `pods "web" already exists`},
		{"conflict", errdefs.New(errdefs.ErrConflict, "stale"), 409, metav1.StatusReasonConflict, `Operation cannot be fulfilled on pods "web": stale`},
		{"bad request", errdefs.BadRequest("invalid limit %q", "x"), 400, metav1.StatusReasonBadRequest, `invalid limit "x"`},
		{"invalid", errdefs.Invalid("Pod", "web", field.ErrorList{field.Required(field.NewPath("spec", "containers"), "")}),
			422, metav1.StatusReasonInvalid, `Pod "web" is invalid: spec.containers: Required value`},
		{"forbidden", errdefs.Forbidden("user %q may not", "bob"), 403, metav1.StatusReasonForbidden, `pods "web" is forbidden: user "bob" may not`},
		{"unauthenticated", errdefs.New(errdefs.ErrUnauthenticated, "no token"), 401, metav1.StatusReasonUnauthorized, "no token"},
		{"too many", errdefs.TooManyRequests(3*time.Second, "slow down"), 429, metav1.StatusReasonTooManyRequests, "slow down"},
		{"expired", errdefs.New(errdefs.ErrExpired, "too old"), 410, metav1.StatusReasonExpired, "too old"},
		{"too large", errdefs.New(errdefs.ErrTooLarge, "patch result too big"), 413, metav1.StatusReasonRequestEntityTooLarge, "Request entity too large: patch result too big"},
		{"max bytes", &http.MaxBytesError{Limit: 3 << 20}, 413, metav1.StatusReasonRequestEntityTooLarge, "Request entity too large: the request body exceeds the limit of 3 MiB"},
		{"unavailable", errdefs.New(errdefs.ErrUnavailable, "node x does not answer"), 503, metav1.StatusReasonServiceUnavailable, "node x does not answer"},
		{"status passes through", apierrors.NewResourceExpired("gone"), 410, metav1.StatusReasonExpired, "gone"},
		{"unclassified", errors.New("boom"), 500, metav1.StatusReasonInternalError, "Internal error occurred: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := errdefs.Status(tt.err, pods, "web").ErrStatus
			if int(st.Code) != tt.wantCode || st.Reason != tt.wantReason || st.Message != tt.wantMsg {
				t.Errorf("Status = %d %s %q, want %d %s %q", st.Code, st.Reason, st.Message, tt.wantCode, tt.wantReason, tt.wantMsg)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int32
	}{
		{errdefs.TooManyRequests(2500*time.Millisecond, "later"), 429},
		{errdefs.Unavailable(2500*time.Millisecond, "the database does not answer"), 503},
	} {
		st := errdefs.Status(tc.err, schema.GroupResource{}, "").ErrStatus
		if st.Code != tc.code || st.Details == nil || st.Details.RetryAfterSeconds != 3 {
			t.Fatalf("%v: %d, details = %+v, want %d with retryAfterSeconds 3", tc.err, st.Code, st.Details, tc.code)
		}
	}
}

func TestClassesMatch(t *testing.T) {
	err := fmt.Errorf("ctx: %w", errdefs.New(errdefs.ErrConflict, "x"))
	if !errors.Is(err, errdefs.ErrConflict) || errors.Is(err, errdefs.ErrNotFound) {
		t.Fatal("classes do not match through wrapping")
	}
	if err := errdefs.Invalid("Pod", "x", nil); err != nil {
		t.Fatalf("Invalid with no errors = %v, want nil", err)
	}
}
