package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/fake"
)

// TestWriteError: the node's errors become Statuses through errdefs.Status
// alone.
func TestWriteError(t *testing.T) {
	tests := []struct {
		err    error
		code   int
		reason metav1.StatusReason
	}{
		{fmt.Errorf("container %q of pod %q: %w", "c", "u", runtime.ErrNotFound), http.StatusNotFound, metav1.StatusReasonNotFound},
		{errdefs.BadRequest("tailLines=%q is not a non-negative integer", "x"), http.StatusBadRequest, metav1.StatusReasonBadRequest},
		{fmt.Errorf("logs: %w", fake.ErrUnavailable), http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable},
		{errors.New("boom"), http.StatusInternalServerError, metav1.StatusReasonInternalError},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		writeError(rec, tt.err)
		var st metav1.Status
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatal(err)
		}
		if rec.Code != tt.code || st.Code != int32(tt.code) || st.Reason != tt.reason || st.Kind != "Status" {
			t.Errorf("%v: %d %+v, want %d %s", tt.err, rec.Code, st, tt.code, tt.reason)
		}
	}
}
