package hostimage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a cancelled command has, after SIGTERM to its
// process group, to clean up (mmdebstrap unmounts what it mounted in the
// root) before SIGKILL.
const stopGrace = 10 * time.Second

// command is one program a compose runs, its output going to the build
// log. Its whole process group is signalled when ctx ends.
type command struct {
	name string
	args []string
	dir  string
	env  []string // added to the environment
	log  io.Writer
	// stdout, when set, receives standard output instead of the log.
	stdout io.Writer
	stdin  io.Reader
}

// run runs c; a failure's error ends with what the program last wrote on
// standard error.
func (c command) run(ctx context.Context) error {
	if _, err := exec.LookPath(c.name); err != nil {
		return fmt.Errorf("%s is not installed on this machine (scripts/setup installs it): %w", c.name, ErrUnavailable)
	}
	cmd := exec.Command(c.name, c.args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdin = c.stdin
	tail := &tailBuffer{max: 4 << 10}
	logw := c.log
	if logw == nil {
		logw = io.Discard
	}
	errw := &lockedWriter{w: io.MultiWriter(logw, tail)}
	cmd.Stderr = errw
	if c.stdout != nil {
		cmd.Stdout = c.stdout
	} else {
		cmd.Stdout = errw
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(stopGrace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}()
	err := cmd.Wait()
	close(done)
	<-stopped
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		msg := strings.TrimSpace(tail.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 && len(msg) > 600 {
			msg = msg[i+1:]
		}
		if msg != "" {
			return fmt.Errorf("%s %s: %w: %s", c.name, firstArg(c.args), err, msg)
		}
		return fmt.Errorf("%s %s: %w", c.name, firstArg(c.args), err)
	}
	return nil
}

// output runs c and returns its standard output.
func (c command) output(ctx context.Context) ([]byte, error) {
	var out bytes.Buffer
	c.stdout = &out
	err := c.run(ctx)
	return out.Bytes(), err
}

func firstArg(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

// lockedWriter serialises the writes of a command's two output streams.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// stepf writes a step's heading into the build log.
func stepf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "==> "+format+"\n", args...)
	}
}
