package proxy

import (
	"log/slog"
	"strings"
	"testing"
)

// TestNewOnAHostWithoutIptables: the proxier refuses to start, saying
// what the host lacks, as an error IsUnsupported recognises.
func TestNewOnAHostWithoutIptables(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := New(t.Context(), "10.96.0.0/16", slog.New(slog.DiscardHandler))
	if err == nil || !IsUnsupported(err) || !strings.Contains(err.Error(), "iptables is not installed") {
		t.Fatalf("New without iptables: %v, want an unsupported host naming iptables", err)
	}
}
