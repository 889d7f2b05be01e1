package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/logstream"
)

const (
	// logPiece is where the json-file driver cuts a line without a
	// newline (its copier's buffer): a TTY's log, which has no frames,
	// is split into messages by it.
	logPiece = 16 << 10
	// maxFrame bounds one frame of the engine's multiplexed streams.
	maxFrame = 16 << 20
)

// Logs writes a container's log to w; see runtime.Runtime. The engine's
// log (read with its times) is the record; while a running container is
// followed, its live output (an attach, logs=false, started before the
// log is read) sends each stream's unfinished line ahead of the log (see
// package logstream). The bytes are the container's own, whatever the
// length or ending of its lines.
func (r *Runtime) Logs(ctx context.Context, uid, name string, opts runtime.LogOptions, w io.Writer) error {
	in, err := r.findInstance(ctx, uid, name, opts.Previous)
	if err != nil {
		return err
	}
	info, err := r.cli.ContainerInspect(ctx, in.id)
	if err != nil {
		return fmt.Errorf("container %q of pod %q: %w", name, uid, engineError(err))
	}
	tty := info.Config != nil && info.Config.Tty
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup // the readers of the log and of the live output
	defer func() {
		cancel()
		wg.Wait()
	}()
	var live *logstream.Live
	kick := make(chan struct{}, 1)
	if opts.Follow && info.State != nil && info.State.Running {
		live = r.attachLive(ctx, &wg, in.id, tty, kick)
	}
	since := opts.Since(time.Now())
	messages := make(chan logstream.Message, 64)
	var (
		readErr  error       // set before logEnded
		logEnded atomic.Bool // the reader ended by itself: the log's end or an error
	)
	reader, err := r.logReader(ctx, &wg, info, opts, since, kick)
	if err != nil {
		return fmt.Errorf("logs of container %q of pod %q: %w", name, uid, engineError(err))
	}
	wg.Go(func() {
		defer close(messages)
		if err := reader(messages); ctx.Err() == nil {
			readErr = err
			logEnded.Store(true)
		}
	})
	jopts := logstream.Options{
		Timestamps: opts.Timestamps, SinceTime: since,
		Hold: logstream.DefaultHold, Settle: logstream.DefaultSettle,
	}
	if opts.LimitBytes != nil {
		jopts.LimitBytes = *opts.LimitBytes
	}
	if err := logstream.Join(ctx, w, messages, live, jopts); err != nil {
		return err
	}
	if logEnded.Load() && readErr != nil {
		return fmt.Errorf("logs of container %q of pod %q: %w", name, uid, engineError(readErr))
	}
	return nil
}

// logReader starts reading a container's log: from its json-file files
// when they can be read here (see jsonfile.go: the engine's own follow
// repeats and skips lines where the file rotates), else through the
// engine's API. The function it returns sends the log's messages, from
// since on, until the log ends (with a follow: the container stopped) or
// ctx does.
func (r *Runtime) logReader(ctx context.Context, wg *sync.WaitGroup, info container.InspectResponse, opts runtime.LogOptions, since time.Time, kick <-chan struct{}) (func(chan<- logstream.Message) error, error) {
	tail := int64(-1)
	if opts.TailLines != nil {
		tail = max(*opts.TailLines, 0)
	}
	if !r.logsFromEngine && info.LogPath != "" && rotatesByRename(info.HostConfig) {
		files, err := openChain(info.LogPath)
		if err == nil {
			fr := &logFileReader{path: info.LogPath, tail: tail, since: since, follow: opts.Follow, kick: kick}
			if opts.Follow {
				stopped := make(chan struct{})
				fr.stopped = stopped
				wg.Go(func() {
					defer close(stopped)
					waited, failed := r.cli.ContainerWait(ctx, info.ID, container.WaitConditionNotRunning)
					select {
					case <-waited:
					case <-failed:
					}
				})
			}
			return func(out chan<- logstream.Message) error { return fr.read(ctx, files, out) }, nil
		}
		r.logger.Debug("the log's files cannot be read here; the engine's API serves", "container_id", info.ID, "error", err)
	}
	tty := info.Config != nil && info.Config.Tty
	lo := container.LogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     opts.Follow,
		Timestamps: true,
		Tail:       "all",
	}
	if tail >= 0 {
		lo.Tail = strconv.FormatInt(tail, 10)
	}
	if !since.IsZero() {
		// The engine takes whole seconds here; Join skips to the
		// nanosecond.
		lo.Since = strconv.FormatInt(since.Unix(), 10)
	}
	body, err := r.cli.ContainerLogs(ctx, info.ID, lo)
	if err != nil {
		return nil, err
	}
	return func(out chan<- logstream.Message) error {
		stop := context.AfterFunc(ctx, func() { body.Close() })
		defer stop()
		defer body.Close()
		return readLog(ctx, body, tty, out)
	}, nil
}

// rotatesByRename reports whether a container's log is a json-file log
// that the engine rotates by renaming, which a reader of its files can
// follow (jsonfile.go). With max-file 1 the engine truncates the one file
// in place instead, and the engine's API serves.
func rotatesByRename(hc *container.HostConfig) bool {
	if hc == nil || hc.LogConfig.Type != "json-file" {
		return false
	}
	v, ok := hc.LogConfig.Config["max-file"]
	if !ok {
		return hc.LogConfig.Config["max-size"] == "" // never rotated
	}
	n, err := strconv.Atoi(v)
	return err == nil && n >= 2
}

// attachLive attaches to a running container's output (no stdin, no
// history) and feeds it to a Live until the output or ctx ends. Without
// an attach (the engine refused, the container just stopped) it returns
// nil: the log alone serves.
func (r *Runtime) attachLive(ctx context.Context, wg *sync.WaitGroup, id string, tty bool, kick chan<- struct{}) *logstream.Live {
	requested := time.Now()
	hijacked, err := r.cli.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		r.logger.Debug("no live output for a log follow; the log alone serves", "container_id", id, "error", err)
		return nil
	}
	live := logstream.NewLive(requested, time.Now(), logstream.DefaultLiveBuffer)
	wg.Go(func() {
		defer live.End()
		defer hijacked.Close()
		stop := context.AfterFunc(ctx, hijacked.Close)
		defer stop()
		if tty {
			for {
				buf := make([]byte, 32<<10)
				n, err := hijacked.Reader.Read(buf)
				if n > 0 && !live.Write(logstream.Stdout, buf[:n], time.Now()) {
					return
				}
				poke(kick)
				if err != nil {
					return
				}
			}
		}
		for {
			stream, payload, err := readFrame(hijacked.Reader)
			if err != nil {
				return
			}
			if stream != nil && !live.Write(*stream, payload, time.Now()) {
				return
			}
			poke(kick)
		}
	})
	return live
}

// poke leaves a token in c unless one waits there already.
func poke(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// readLog sends the messages of the engine's log (read with timestamps)
// to out until the log or ctx ends. Without a TTY each frame of the
// multiplexed stream holds one message; a TTY's log is one stream of
// "TIME TEXT" messages, each ending at its newline or at logPiece bytes.
func readLog(ctx context.Context, r io.Reader, tty bool, out chan<- logstream.Message) error {
	br := bufio.NewReaderSize(r, 64<<10)
	send := func(m logstream.Message) error {
		select {
		case out <- m:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		var m logstream.Message
		if tty {
			stamp, err := br.ReadSlice(' ')
			if errors.Is(err, io.EOF) && len(stamp) == 0 {
				return nil
			}
			if err != nil {
				return fmt.Errorf("reading the log: %w", err)
			}
			t, err := time.Parse(time.RFC3339Nano, string(stamp[:len(stamp)-1]))
			if err != nil {
				return fmt.Errorf("reading the log: a message without its time: %w", err)
			}
			m = logstream.Message{Stream: logstream.Stdout, Time: t}
			for len(m.Data) < logPiece {
				b, err := br.ReadByte()
				if err != nil {
					break // the last message, cut short by the end
				}
				m.Data = append(m.Data, b)
				if b == '\n' {
					break
				}
			}
		} else {
			stream, payload, err := readFrame(br)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if stream == nil {
				continue
			}
			i := bytes.IndexByte(payload, ' ')
			if i < 0 {
				return fmt.Errorf("reading the log: a message without its time: %q", payload[:min(len(payload), 64)])
			}
			t, err := time.Parse(time.RFC3339Nano, string(payload[:i]))
			if err != nil {
				return fmt.Errorf("reading the log: a message without its time: %w", err)
			}
			m = logstream.Message{Stream: *stream, Time: t, Data: payload[i+1:]}
		}
		if err := send(m); err != nil {
			return err
		}
	}
}

// readFrame reads one frame of the engine's multiplexed stdout/stderr
// stream: the stream it belongs to (nil for stdin, which is skipped) and
// its payload. The engine's own errors (stream 3) are returned as errors.
func readFrame(r io.Reader) (*logstream.Stream, []byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, nil, err
	}
	size := binary.BigEndian.Uint32(hdr[4:])
	if size > maxFrame {
		return nil, nil, fmt.Errorf("a frame of %d bytes from the engine", size)
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, nil, err
	}
	var s logstream.Stream
	switch hdr[0] {
	case 0:
		return nil, nil, nil
	case 1:
		s = logstream.Stdout
	case 2:
		s = logstream.Stderr
	case 3:
		return nil, nil, fmt.Errorf("the engine: %s", bytes.TrimSpace(payload))
	default:
		return nil, nil, fmt.Errorf("a frame of unknown stream %d from the engine", hdr[0])
	}
	return &s, payload, nil
}
