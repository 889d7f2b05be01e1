package fake

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/logstream"
)

// Logs writes the synthetic log of a container's current (or previous)
// instance: a line when it started, then one per LogInterval until it
// finished (or now). With Follow it keeps writing as lines fall due until
// the instance finishes or ctx ends. The lines are written as the Docker
// runtime writes its log (package logstream): times, sinceTime to the
// nanosecond, limitBytes.
func (r *Runtime) Logs(ctx context.Context, uid, name string, opts runtime.LogOptions, w io.Writer) error {
	if err := r.lock(); err != nil {
		return err
	}
	p, c, err := r.lookup(uid, name)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	in := c.current
	if opts.Previous {
		in = c.previous
	}
	if in == nil {
		r.mu.Unlock()
		return fmt.Errorf("container %q has no such instance (previous: %t): %w", c.name, opts.Previous, runtime.ErrNotFound)
	}
	header := fmt.Sprintf("fake container %q of pod %s/%s started (image %s)", c.name, p.namespace, p.name, c.image)
	now := r.now()
	i := r.firstLine(in, opts, now)
	since := opts.Since(now)
	r.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lines := make(chan logstream.Message)
	go func() {
		defer close(lines)
		for {
			r.mu.Lock()
			now := r.now()
			c.advance(now)
			start, finished := in.start, in.finished
			r.mu.Unlock()
			end := now
			if !finished.IsZero() {
				end = finished
			}
			at := start.Add(time.Duration(i) * r.opts.LogInterval)
			if at.After(end) {
				if !finished.IsZero() || !opts.Follow {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(at.Sub(now)):
				}
				continue
			}
			line := header
			if i > 0 {
				line = fmt.Sprintf("fake log line %d of %s", i, c.name)
			}
			select {
			case lines <- logstream.Message{Stream: logstream.Stdout, Time: at, Data: []byte(line + "\n")}:
			case <-ctx.Done():
				return
			}
			i++
		}
	}()
	jopts := logstream.Options{Timestamps: opts.Timestamps, SinceTime: since}
	if opts.LimitBytes != nil {
		jopts.LimitBytes = *opts.LimitBytes
	}
	if err := logstream.Join(ctx, w, lines, nil, jopts); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// firstLine is the index of the first line to write under the tail and
// since limits; the caller holds mu.
func (r *Runtime) firstLine(in *instance, opts runtime.LogOptions, now time.Time) int64 {
	end := now
	if !in.finished.IsZero() {
		end = in.finished
	}
	var count, first int64 // lines due so far; the first to write
	if !end.Before(in.start) {
		count = int64(end.Sub(in.start)/r.opts.LogInterval) + 1
	}
	if opts.TailLines != nil && *opts.TailLines < count {
		first = count - max(*opts.TailLines, 0)
	}
	if since := opts.Since(now); since.After(in.start) {
		first = max(first, int64((since.Sub(in.start)+r.opts.LogInterval-1)/r.opts.LogInterval))
	}
	return first
}

// Exec answers "fake exec: CMD" on stdout and exit code 0.
func (r *Runtime) Exec(_ context.Context, uid, name string, cmd []string, s runtime.Streams) (int, error) {
	if err := r.running(uid, name); err != nil {
		return 0, err
	}
	if s.Stdout != nil {
		if _, err := fmt.Fprintf(s.Stdout, "fake exec: %s\n", strings.Join(cmd, " ")); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Attach echoes stdin to stdout until stdin ends, or waits for ctx when
// there is no stdin.
func (r *Runtime) Attach(ctx context.Context, uid, name string, s runtime.Streams) error {
	if err := r.running(uid, name); err != nil {
		return err
	}
	if s.Stdin == nil || s.Stdout == nil {
		<-ctx.Done()
		return nil
	}
	_, err := io.Copy(s.Stdout, s.Stdin)
	return err
}

// Diff reports no changes: fake containers have no filesystem.
func (r *Runtime) Diff(_ context.Context, uid, name string) ([]runtime.Change, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	if _, _, err := r.lookup(uid, name); err != nil {
		return nil, err
	}
	return []runtime.Change{}, nil
}

func (r *Runtime) running(uid, name string) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	_, c, err := r.lookup(uid, name)
	if err != nil {
		return err
	}
	now := r.now()
	c.advance(now)
	if in := c.current; in == nil || now.Before(in.start) || !in.finished.IsZero() {
		return fmt.Errorf("container %q is not running", c.name)
	}
	return nil
}

// DialPort connects to a simulated port of a running pod: an echo server,
// as Attach echoes, whatever the port. A net.Pipe carries it, so the
// client's half-close (which a pipe does not have) ends it.
func (r *Runtime) DialPort(_ context.Context, uid string, _ uint16) (net.Conn, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	var names []string
	p, ok := r.pods[uid]
	if ok {
		for _, c := range p.containers {
			names = append(names, c.name)
		}
	}
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("pod %q: %w", uid, runtime.ErrNotFound)
	}
	for _, name := range names {
		if r.running(uid, name) == nil {
			client, server := net.Pipe()
			go func() {
				defer server.Close()
				_, _ = io.Copy(server, server)
			}()
			return client, nil
		}
	}
	return nil, fmt.Errorf("pod %q has no running container", uid)
}
