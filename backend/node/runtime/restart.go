package runtime

import (
	"time"

	v1 "k8s.io/api/core/v1"
)

// Restarts reports whether a container that exited with code is run again
// under the pod's restart policy.
func Restarts(policy v1.RestartPolicy, code int) bool {
	switch policy {
	case v1.RestartPolicyNever:
		return false
	case v1.RestartPolicyOnFailure:
		return code != 0
	default:
		return true
	}
}

// Defaults of BackOff, the kubelet's.
const (
	DefaultBackOffInitial = 10 * time.Second
	DefaultBackOffMax     = 5 * time.Minute
)

// BackOff spaces out the retries of something that keeps failing: a
// container that crashes (CrashLoopBackOff), an image that cannot be
// pulled (ImagePullBackOff). The zero value takes the kubelet's
// defaults.
type BackOff struct {
	// Initial is the first wait; it doubles with each failure.
	// DefaultBackOffInitial when 0.
	Initial time.Duration
	// Max caps the wait; DefaultBackOffMax when 0.
	Max time.Duration
}

// Step is the wait after n failures in a row (n ≥ 1): Initial·2ⁿ⁻¹, at
// most Max.
func (b BackOff) Step(n int) time.Duration {
	d, limit := b.Initial, b.Max
	if d <= 0 {
		d = DefaultBackOffInitial
	}
	if limit <= 0 {
		limit = DefaultBackOffMax
	}
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// RestartDelay is how long after an exited instance of a container ended
// its next instance starts, as the kubelet's crash-loop back-off: at once
// for the first restart, then Step(restarts) for a container restarted
// restarts times so far. An instance that ran for twice Max (ten minutes
// by default) was healthy: its restart comes at once again. The delay
// derives from what a runtime records (restart count, start and end), so
// it survives an agent restart.
func (b BackOff) RestartDelay(restarts int, ran time.Duration) time.Duration {
	limit := b.Max
	if limit <= 0 {
		limit = DefaultBackOffMax
	}
	if restarts == 0 || ran >= 2*limit {
		return 0
	}
	return b.Step(restarts)
}
