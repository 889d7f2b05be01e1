package cli

import (
	"context"
	"fmt"

	"golang.org/x/term"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// localTerminal is the terminal berth runs on, lent to a remote TTY.
type localTerminal struct {
	fd int
}

// makeRaw passes every key to the remote side (Ctrl-C included) until
// restore is called.
func (t *localTerminal) makeRaw() (restore func(), err error) {
	state, err := term.MakeRaw(t.fd)
	if err != nil {
		return nil, fmt.Errorf("putting the terminal in raw mode: %w", err)
	}
	return func() { _ = term.Restore(t.fd, state) }, nil
}

// sizes delivers the terminal's size now and after every change of the
// window's size, until ctx is done. When the channel is full a newer size
// replaces the pending one.
func (t *localTerminal) sizes(ctx context.Context) <-chan runtime.TerminalSize {
	out := make(chan runtime.TerminalSize, 1)
	send := func() {
		width, height, err := term.GetSize(t.fd)
		if err != nil || width <= 0 || height <= 0 {
			return
		}
		size := runtime.TerminalSize{Width: uint16(width), Height: uint16(height)}
		for {
			select {
			case out <- size:
				return
			default:
			}
			select {
			case <-out:
			default:
			}
		}
	}
	send()
	changes := windowChanges(ctx)
	go func() {
		for range changes {
			send()
		}
	}()
	return out
}
