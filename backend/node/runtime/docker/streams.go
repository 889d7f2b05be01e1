package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// findInstance is the newest instance of a pod's app container, or with
// previous the one it replaced. ErrNotFound if there is none.
func (r *Runtime) findInstance(ctx context.Context, uid, name string, previous bool) (instance, error) {
	pc, err := r.listPod(ctx, uid)
	if err != nil {
		return instance{}, err
	}
	ins := pc.apps[name]
	if len(ins) == 0 {
		return instance{}, fmt.Errorf("container %q of pod %q: %w", name, uid, runtime.ErrNotFound)
	}
	if !previous {
		return ins[0], nil
	}
	for _, in := range ins[1:] {
		if in.restarts == ins[0].restarts-1 {
			return in, nil
		}
	}
	return instance{}, fmt.Errorf("previous terminated container %q of pod %q: %w", name, uid, runtime.ErrNotFound)
}

// Exec runs cmd in a container and returns its exit code; see
// runtime.Runtime.
func (r *Runtime) Exec(ctx context.Context, uid, name string, cmd []string, s runtime.Streams) (int, error) {
	in, err := r.findInstance(ctx, uid, name, false)
	if err != nil {
		return -1, err
	}
	if !running(in.summary.State) {
		return -1, fmt.Errorf("container %q of pod %q is not running", name, uid)
	}
	created, err := r.cli.ContainerExecCreate(ctx, in.id, container.ExecOptions{
		Cmd:          cmd,
		Tty:          s.TTY,
		AttachStdin:  s.Stdin != nil,
		AttachStdout: s.Stdout != nil,
		AttachStderr: s.Stderr != nil,
	})
	if err != nil {
		return -1, fmt.Errorf("exec in container %q of pod %q: %w", name, uid, engineError(err))
	}
	// Attaching starts the process.
	hijacked, err := r.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{Tty: s.TTY})
	if err != nil {
		return -1, fmt.Errorf("exec in container %q of pod %q: %w", name, uid, engineError(err))
	}
	resize := func(size runtime.TerminalSize) error {
		return r.cli.ContainerExecResize(ctx, created.ID, container.ResizeOptions{
			Height: uint(size.Height), Width: uint(size.Width),
		})
	}
	if err := copyStreams(ctx, hijacked, s, s.TTY, true, resize); err != nil {
		return -1, fmt.Errorf("exec in container %q of pod %q: %w", name, uid, engineError(err))
	}
	// The output ends a little before the engine records the exit.
	for {
		ins, err := r.cli.ContainerExecInspect(ctx, created.ID)
		if err != nil {
			return -1, fmt.Errorf("exec in container %q of pod %q: %w", name, uid, engineError(err))
		}
		if !ins.Running {
			return ins.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Attach connects the streams to a container's main process until its
// output ends (the process exits) or ctx ends. Stdin is connected only to
// a container whose spec asked for stdin; its end closes the process's
// stdin only if the container is stdinOnce (without a TTY), as in
// Kubernetes, where a later attach then finds stdin closed.
func (r *Runtime) Attach(ctx context.Context, uid, name string, s runtime.Streams) error {
	in, err := r.findInstance(ctx, uid, name, false)
	if err != nil {
		return err
	}
	info, err := r.cli.ContainerInspect(ctx, in.id)
	if err != nil {
		return fmt.Errorf("attach to container %q of pod %q: %w", name, uid, engineError(err))
	}
	tty := info.Config != nil && info.Config.Tty
	if info.Config == nil || !info.Config.OpenStdin {
		s.Stdin = nil
	}
	hijacked, err := r.cli.ContainerAttach(ctx, in.id, container.AttachOptions{
		Stream: true,
		Stdin:  s.Stdin != nil,
		Stdout: s.Stdout != nil,
		Stderr: s.Stderr != nil,
	})
	if err != nil {
		return fmt.Errorf("attach to container %q of pod %q: %w", name, uid, engineError(err))
	}
	resize := func(size runtime.TerminalSize) error {
		return r.cli.ContainerResize(ctx, in.id, container.ResizeOptions{
			Height: uint(size.Height), Width: uint(size.Width),
		})
	}
	// The engine ends an attach session when its stdin closes, before the
	// output of what was read, unless the container is StdinOnce (and has
	// no TTY): then the end of s.Stdin closes the process's stdin, as
	// Kubernetes' stdinOnce says, and the output goes on until it exits.
	closeStdin := info.Config.StdinOnce && !tty
	if err := copyStreams(ctx, hijacked, s, tty, closeStdin, resize); err != nil {
		return fmt.Errorf("attach to container %q of pod %q: %w", name, uid, engineError(err))
	}
	return nil
}

// copyStreams connects a hijacked exec or attach connection to the
// streams until the output ends or ctx ends. The engine multiplexes stdout
// and stderr on one stream unless a TTY merges them. With closeStdin, the
// end of s.Stdin closes the process's stdin.
func copyStreams(ctx context.Context, h types.HijackedResponse, s runtime.Streams, tty, closeStdin bool, resize func(runtime.TerminalSize) error) error {
	defer h.Close()
	stop := context.AfterFunc(ctx, h.Close)
	defer stop()

	done := make(chan struct{})
	defer close(done)
	if s.Resize != nil {
		go func() {
			for {
				select {
				case <-done:
					return
				case size, ok := <-s.Resize:
					if !ok {
						return
					}
					// A resize that races the end of the session fails
					// harmlessly.
					_ = resize(size)
				}
			}
		}()
	}
	if s.Stdin != nil {
		go func() {
			_, _ = io.Copy(h.Conn, s.Stdin)
			if closeStdin {
				_ = h.CloseWrite()
			}
		}()
	}

	stdout, stderr := s.Stdout, s.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	var err error
	if tty {
		_, err = io.Copy(stdout, h.Reader)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, h.Reader)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Diff lists the container's filesystem changes; see runtime.Runtime.
func (r *Runtime) Diff(ctx context.Context, uid, name string) ([]runtime.Change, error) {
	in, err := r.findInstance(ctx, uid, name, false)
	if err != nil {
		return nil, err
	}
	changes, err := r.cli.ContainerDiff(ctx, in.id)
	if err != nil {
		return nil, fmt.Errorf("diff of container %q of pod %q: %w", name, uid, engineError(err))
	}
	out := make([]runtime.Change, 0, len(changes))
	for _, c := range changes {
		out = append(out, runtime.Change{Path: c.Path, Kind: c.Kind.String()})
	}
	return out, nil
}
