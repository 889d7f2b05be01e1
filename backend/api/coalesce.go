package api

import (
	"bytes"
	"io"
	"time"
)

const (
	// logSocketCoalesce is how long a busy log socket gathers what the
	// node sends into one message, so that a container writing line by
	// line costs a browser a message (a task of its main thread) per
	// window, not per line. What comes after two quiet windows (a prompt,
	// a progress bar's step) goes out at once.
	logSocketCoalesce = 5 * time.Millisecond
	// maxCoalesced stops gathering a message at this size.
	maxCoalesced = 64 << 10
)

// coalesce reads r and passes what it read to send, up to maxCoalesced
// a message. While the source is busy (a message went out within two
// windows), a message gathers what arrives within window of its first
// byte; after a quiet spell, what arrives is sent at once, with whatever
// is already waiting. It returns the error that ended the reading (io.EOF at
// the end of r), after sending all that was read, or the first error of
// send. Its reader goroutine ends once r's Read returns after that (the
// caller closes r).
func coalesce(r io.Reader, window time.Duration, send func([]byte) error) (readErr, sendErr error) {
	type chunk struct {
		data []byte
		err  error
	}
	chunks := make(chan chunk, 64)
	done := make(chan struct{})
	defer close(done)
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			select {
			case chunks <- chunk{bytes.Clone(buf[:n]), err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var msg []byte
	var last time.Time // when the last message went out
	for {
		c := <-chunks
		msg, readErr = append(msg[:0], c.data...), c.err
		if readErr == nil {
			// A busy stream (a message went out within two windows):
			// gather for a window, as a flood's lines. A quiet one: take
			// only what is already here.
			var timer *time.Timer
			var until <-chan time.Time
			if time.Since(last) < 2*window {
				timer = time.NewTimer(window)
				until = timer.C
			}
		gather:
			for len(msg) < maxCoalesced {
				if until == nil {
					select {
					case c = <-chunks:
					default:
						break gather
					}
				} else {
					select {
					case c = <-chunks:
					case <-until:
						break gather
					}
				}
				msg, readErr = append(msg, c.data...), c.err
				if readErr != nil {
					break
				}
			}
			if timer != nil {
				timer.Stop()
			}
		}
		if len(msg) > 0 {
			if err := send(msg); err != nil {
				return nil, err
			}
			last = time.Now()
		}
		if readErr != nil {
			return readErr, nil
		}
	}
}
