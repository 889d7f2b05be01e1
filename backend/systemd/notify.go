package systemd

import (
	"context"
	"fmt"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// The states a service reports with Notify.
const (
	Ready    = daemon.SdNotifyReady    // "READY=1": start-up finished
	Stopping = daemon.SdNotifyStopping // "STOPPING=1": shutting down
	// WatchdogPing is "WATCHDOG=1": the service is alive.
	WatchdogPing = daemon.SdNotifyWatchdog
)

// Status is the STATUS= line systemctl status shows for the service.
func Status(text string) string { return "STATUS=" + text }

// Notify sends state (one or more newline-separated KEY=VALUE lines) to
// systemd. It returns nil when the process does not run under a
// notify-aware service manager (NOTIFY_SOCKET unset).
func Notify(state string) error {
	if _, err := daemon.SdNotify(false, state); err != nil {
		return fmt.Errorf("sd_notify %q: %w", state, err)
	}
	return nil
}

// WatchdogInterval is how often the service must ping the watchdog: half
// of WATCHDOG_USEC, or 0 when no watchdog is set for this process.
func WatchdogInterval() (time.Duration, error) {
	usec, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0, fmt.Errorf("watchdog settings: %w", err)
	}
	return usec / 2, nil
}

// Watchdog pings systemd's watchdog at half of WATCHDOG_USEC until ctx is
// done. It returns at once, with nil, when no watchdog is set; otherwise it
// returns ctx's error, or the error of a malformed WATCHDOG_USEC.
func Watchdog(ctx context.Context) error {
	interval, err := WatchdogInterval()
	if err != nil || interval <= 0 {
		return err
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if err := Notify(WatchdogPing); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}
