//go:build !unix

package cli

import "context"

// windowChanges never signals: without SIGWINCH the size is sent once.
func windowChanges(ctx context.Context) <-chan struct{} {
	out := make(chan struct{})
	context.AfterFunc(ctx, func() { close(out) })
	return out
}
