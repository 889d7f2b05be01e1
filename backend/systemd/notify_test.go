package systemd_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/systemd"
)

func TestNotify(t *testing.T) {
	msgs := notifySocket(t)
	for _, state := range []string{systemd.Ready, systemd.Status("registered"), systemd.Stopping} {
		if err := systemd.Notify(state); err != nil {
			t.Fatalf("Notify(%q): %v", state, err)
		}
		expectMessage(t, msgs, state)
	}
}

func TestNotifyWithoutSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := systemd.Notify(systemd.Ready); err != nil {
		t.Fatalf("Notify outside systemd: %v, want nil", err)
	}
}

func TestWatchdog(t *testing.T) {
	tests := []struct {
		name     string
		usec     string
		pid      string
		wantPing bool
		wantErr  bool
	}{
		{name: "enabled", usec: "100000", pid: strconv.Itoa(os.Getpid()), wantPing: true},
		{name: "enabled without pid", usec: "100000", wantPing: true},
		{name: "another process's watchdog", usec: "100000", pid: "1"},
		{name: "not set"},
		{name: "malformed", usec: "soon", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := notifySocket(t)
			t.Setenv("WATCHDOG_USEC", tt.usec)
			t.Setenv("WATCHDOG_PID", tt.pid)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- systemd.Watchdog(ctx) }()
			if tt.wantPing {
				expectMessage(t, msgs, systemd.WatchdogPing)
				expectMessage(t, msgs, systemd.WatchdogPing) // and again after the interval
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) {
					t.Fatalf("Watchdog = %v, want context.Canceled", err)
				}
				return
			}
			defer cancel()
			select {
			case err := <-done:
				if (err != nil) != tt.wantErr {
					t.Fatalf("Watchdog = %v, want error: %v", err, tt.wantErr)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("Watchdog did not return without a watchdog to ping")
			}
			select {
			case m := <-msgs:
				t.Fatalf("unexpected notification %q", m)
			default:
			}
		})
	}
}
