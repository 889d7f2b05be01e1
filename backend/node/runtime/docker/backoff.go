package docker

import "time"

const (
	// crashBackOffBase is the wait before the first restart of a container
	// that exited; it doubles with each restart up to maxBackOff.
	crashBackOffBase = time.Second
	// pullBackOffBase is the wait before an image is pulled again after a
	// failure; it doubles with each failure up to maxBackOff.
	pullBackOffBase = 10 * time.Second
	maxBackOff      = 5 * time.Minute
	// backOffReset is how long a container must have run for its next
	// restart to come without waiting longer than crashBackOffBase.
	backOffReset = 10 * time.Minute
)

// backOff is base·2ⁿ, at most maxBackOff.
func backOff(base time.Duration, n int) time.Duration {
	d := base
	for range n {
		d *= 2
		if d >= maxBackOff {
			return maxBackOff
		}
	}
	return min(d, maxBackOff)
}

// restartDelay is how long after it ended an exited instance is replaced:
// it derives from Docker's own record (restart count, start and finish
// times), so it survives an agent restart.
func restartDelay(restarts int, ran time.Duration) time.Duration {
	if ran >= backOffReset {
		return crashBackOffBase
	}
	return backOff(crashBackOffBase, restarts)
}

// pullFailure remembers a failed pull of one container's image.
type pullFailure struct {
	image    string
	message  string
	failures int
	retryAt  time.Time
}
