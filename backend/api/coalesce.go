package api

import (
	"bytes"
	"io"
	"time"
)

const (
	// logSocketCoalesce is how long a log socket gathers what the node
	// sends before it sends a message: a container writing line by line
	// then costs a browser a message (a task of its main thread) per
	// window, not per line, and a write without a newline still goes out
	// within the window.
	logSocketCoalesce = 5 * time.Millisecond
	// maxCoalesced stops gathering a message at this size.
	maxCoalesced = 64 << 10
)

// coalesce reads r and passes what it read to send, gathering into one
// message what arrives within window of the message's first byte (up to
// maxCoalesced). It returns the error that ended the reading (io.EOF at
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
	for {
		c := <-chunks
		msg, readErr = append(msg[:0], c.data...), c.err
		if readErr == nil {
			timer := time.NewTimer(window)
		gather:
			for len(msg) < maxCoalesced {
				select {
				case c = <-chunks:
					msg, readErr = append(msg, c.data...), c.err
					if readErr != nil {
						break gather
					}
				case <-timer.C:
					break gather
				}
			}
			timer.Stop()
		}
		if len(msg) > 0 {
			if err := send(msg); err != nil {
				return nil, err
			}
		}
		if readErr != nil {
			return readErr, nil
		}
	}
}
