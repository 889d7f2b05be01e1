package node

import (
	"context"
	"math/rand/v2"
	"time"
)

// backOff spaces out retries of an operation that keeps failing: it
// doubles from min to max, with ±25% jitter so that many agents losing
// one master do not come back in step. It is not safe for concurrent use.
type backOff struct {
	min, max time.Duration
	next     time.Duration
}

func newBackOff(min, max time.Duration) *backOff {
	return &backOff{min: min, max: max, next: min}
}

// Reset starts over after a success.
func (b *backOff) Reset() { b.next = b.min }

// Duration returns the wait before the next attempt and doubles it.
func (b *backOff) Duration() time.Duration {
	d := b.next
	b.next = min(b.next*2, b.max)
	jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return d + jitter
}

// Wait sleeps for Duration or until ctx is done; it reports whether ctx
// is still live.
func (b *backOff) Wait(ctx context.Context) bool {
	return sleep(ctx, b.Duration())
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
