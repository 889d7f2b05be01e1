package client

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestAPIErrorMessage(t *testing.T) {
	tests := []struct {
		name   string
		status metav1.Status
		want   string
	}{
		{
			name: "invalid with causes",
			status: metav1.Status{
				Code: 422, Reason: metav1.StatusReasonInvalid,
				Message: `Pod "web" is invalid: [spec.containers[0].image: Required value, metadata.name: Invalid value]`,
				Details: &metav1.StatusDetails{Name: "web", Kind: "Pod", Causes: []metav1.StatusCause{
					{Type: metav1.CauseTypeFieldValueRequired, Field: "spec.containers[0].image", Message: "Required value"},
					{Type: metav1.CauseTypeFieldValueInvalid, Field: "metadata.name", Message: `Invalid value: "Web": must be lower case`},
				}},
			},
			want: "Pod \"web\" is invalid:\n  * spec.containers[0].image: Required value\n  * metadata.name: Invalid value: \"Web\": must be lower case",
		},
		{
			name: "causes without kind keep the message",
			status: metav1.Status{
				Code: 400, Reason: metav1.StatusReasonBadRequest, Message: "bad selector",
				Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Field: "labelSelector", Message: "unexpected ="}, {Message: "no field"}}},
			},
			want: "bad selector:\n  * labelSelector: unexpected =\n  * no field",
		},
		{
			name:   "plain message",
			status: metav1.Status{Code: 404, Reason: metav1.StatusReasonNotFound, Message: `pods "web" not found`},
			want:   `pods "web" not found`,
		},
		{
			name:   "no message",
			status: metav1.Status{Code: 503},
			want:   "Service Unavailable (HTTP 503)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := &APIError{status: tt.status}
			if got := err.Error(); got != tt.want {
				t.Errorf("Error() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestErrorClasses(t *testing.T) {
	wrap := func(st metav1.Status) error { return fmt.Errorf("context: %w", &APIError{status: st}) }
	notFound := wrap(metav1.Status{Code: 404, Reason: metav1.StatusReasonNotFound})
	conflict := wrap(metav1.Status{Code: 409, Reason: metav1.StatusReasonConflict})
	exists := wrap(metav1.Status{Code: 409, Reason: metav1.StatusReasonAlreadyExists})
	unauthorized := wrap(metav1.Status{Code: 401})
	if !apierrors.IsNotFound(notFound) || apierrors.IsNotFound(conflict) || apierrors.IsNotFound(errors.New("x")) {
		t.Error("IsNotFound misclassifies")
	}
	if !apierrors.IsConflict(conflict) || apierrors.IsConflict(notFound) {
		t.Error("IsConflict misclassifies")
	}
	if !apierrors.IsAlreadyExists(exists) || apierrors.IsAlreadyExists(conflict) {
		t.Error("IsAlreadyExists misclassifies")
	}
	if !apierrors.IsUnauthorized(unauthorized) || apierrors.IsUnauthorized(notFound) {
		t.Error("IsUnauthorized misclassifies")
	}
}

func TestErrorFromResponse(t *testing.T) {
	tests := []struct {
		name       string
		code       int
		body       string
		wantReason metav1.StatusReason
		wantMsg    string
	}{
		{"status body", 409, `{"kind":"Status","code":409,"reason":"Conflict","message":"stale"}`, metav1.StatusReasonConflict, "stale"},
		{"status without code", 404, `{"kind":"Status","reason":"NotFound","message":"gone"}`, metav1.StatusReasonNotFound, "gone"},
		{"text body", 502, "upstream down\n", metav1.StatusReasonInternalError, "upstream down"},
		{"html body", 502, "<html>bad gateway</html>", metav1.StatusReasonInternalError, "Bad Gateway (HTTP 502)"},
		{"empty body", 401, "", metav1.StatusReasonUnauthorized, "Unauthorized (HTTP 401)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := errorFromResponse(tt.code, []byte(tt.body))
			if err.Reason() != tt.wantReason || err.Code() != tt.code || err.Error() != tt.wantMsg {
				t.Errorf("got reason %q code %d message %q; want %q %d %q", err.Reason(), err.Code(), err.Error(), tt.wantReason, tt.code, tt.wantMsg)
			}
		})
	}
	if got := errorFromResponse(http.StatusTeapot, nil).Error(); got != "I'm a teapot (HTTP 418)" {
		t.Errorf("unknown code: %q", got)
	}
}
