package docker

import (
	"errors"
	"fmt"
	"testing"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/berthpaas/berth/backend/errdefs"
)

func TestEngineError(t *testing.T) {
	gone := fmt.Errorf("no such container: abc: %w", cerrdefs.ErrNotFound)
	err := engineError(gone)
	if !errors.Is(err, errdefs.ErrNotFound) || !cerrdefs.IsNotFound(err) || err.Error() != gone.Error() {
		t.Errorf("engineError(not found) = %v", err)
	}
	down := fmt.Errorf("engine: %w", cerrdefs.ErrUnavailable)
	if err := engineError(down); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("engineError(unavailable) = %v", err)
	}
	other := errors.New("boom")
	if err := engineError(other); err != other {
		t.Errorf("engineError(unclassified) = %v", err)
	}
}
