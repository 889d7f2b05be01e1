package remotecommand

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// closeGrace is how long a session waits for the client to answer its
// close frame before dropping the connection.
const closeGrace = 2 * time.Second

// RunFunc runs the command of a session with its streams and returns the
// command's exit code (0-255), or an error if it could not be run. It must
// return when ctx is done.
type RunFunc func(ctx context.Context, s runtime.Streams) (exitCode int, err error)

// Server serves exec and attach sessions. The zero value is ready to use.
type Server struct {
	// PingPeriod is how often the server pings the client; a client that
	// sends nothing for two periods is gone. 0 means DefaultPingPeriod,
	// < 0 disables pings and the read deadline.
	PingPeriod time.Duration
	// WriteTimeout bounds each message write; 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// StreamCreationTimeout bounds how long a SPDY session waits for the
	// client's streams; 0 means DefaultStreamCreationTimeout.
	StreamCreationTimeout time.Duration
	// Logger receives debug records of sessions; nil discards them.
	Logger *slog.Logger
}

// Serve serves one session with the zero Server.
func Serve(w http.ResponseWriter, r *http.Request, opts Options, run RunFunc) error {
	var s Server
	return s.Serve(w, r, opts, run)
}

// Serve upgrades r to a websocket (any origin: the caller authenticates),
// or to SPDY when r asks for it (serveSPDY), calls run with the streams
// that opts select, reports run's outcome on the error channel and closes
// the connection normally. If the client goes
// away first, run's context is cancelled, Stdin reads io.EOF and writes
// fail; Serve then waits for run and returns an error wrapping
// ErrSessionClosed. Without a common subprotocol or with opts selecting no
// stream, Serve answers 400 and returns an error wrapping
// ErrUnsupportedProtocol or ErrInvalidOptions.
func (s *Server) Serve(w http.ResponseWriter, r *http.Request, opts Options, run RunFunc) error {
	if err := opts.normalize(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return err
	}
	if IsSPDYUpgrade(r) {
		return s.serveSPDY(w, r, opts, run)
	}
	protocol := negotiate(websocket.Subprotocols(r))
	if protocol == "" {
		err := fmt.Errorf("client offers %q, server supports %q: %w", websocket.Subprotocols(r), serverProtocols, ErrUnsupportedProtocol)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return err
	}
	upgrader := websocket.Upgrader{
		Subprotocols: []string{protocol},
		CheckOrigin:  func(*http.Request) bool { return true },
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		// The upgrader has answered the request.
		return fmt.Errorf("websocket upgrade: %w", err)
	}
	sess := &session{
		conn:     conn,
		protocol: protocol,
		opts:     opts,
		frames:   &frameWriter{conn: conn, timeout: s.writeTimeout()},
		log:      s.logger().With("protocol", protocol, "container", opts.Container),
	}
	return sess.serve(r.Context(), s.pingPeriod(), run)
}

func (s *Server) pingPeriod() time.Duration {
	if s.PingPeriod == 0 {
		return DefaultPingPeriod
	}
	return s.PingPeriod
}

func (s *Server) writeTimeout() time.Duration {
	if s.WriteTimeout <= 0 {
		return DefaultWriteTimeout
	}
	return s.WriteTimeout
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// negotiate picks the server's most preferred protocol among offered, ""
// if none.
func negotiate(offered []string) string {
	for _, p := range serverProtocols {
		for _, o := range offered {
			if o == p {
				return p
			}
		}
	}
	return ""
}

// session is one upgraded exec or attach connection.
type session struct {
	conn     *websocket.Conn
	protocol string
	opts     Options
	frames   *frameWriter
	log      *slog.Logger

	// closed is set once the session has ended or the client has gone;
	// later writes fail with ErrSessionClosed.
	closed atomic.Bool
	// done is run's context's: once it ends (the client gone, or the
	// request's context cancelled first), writes fail too, so that run
	// never sees a write succeed after its context has ended.
	done <-chan struct{}
}

// write sends p on channel unless the session is over.
func (s *session) write(channel byte, p []byte) error {
	if s.closed.Load() || s.isDone() {
		return ErrSessionClosed
	}
	if err := s.frames.write(channel, p); err != nil {
		if s.closed.Load() {
			return ErrSessionClosed
		}
		return err
	}
	return nil
}

// isDone reports whether run's context has ended.
func (s *session) isDone() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *session) serve(parent context.Context, pingPeriod time.Duration, run RunFunc) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	s.done = ctx.Done()

	streams := runtime.Streams{TTY: s.opts.TTY}
	var stdinR *io.PipeReader
	var stdin *io.PipeWriter
	if s.opts.Stdin {
		stdinR, stdin = io.Pipe()
		streams.Stdin = stdinR
	}
	if s.opts.Stdout {
		streams.Stdout = channelWriter{channel: channelStdout, write: s.write}
	}
	if s.opts.Stderr {
		streams.Stderr = channelWriter{channel: channelStderr, write: s.write}
	}
	var resize chan runtime.TerminalSize
	if s.opts.TTY {
		resize = make(chan runtime.TerminalSize, 1)
		streams.Resize = resize
	}

	if err := s.announce(); err != nil {
		s.conn.Close()
		return fmt.Errorf("announce session: %w", err)
	}

	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	extend, ping := Keepalive(s.conn, pingPeriod, s.frames.timeout)
	wg.Go(func() { ping(ctx) })
	readDone := make(chan error, 1)
	wg.Go(func() { readDone <- s.readLoop(extend, stdin, resize) })

	type outcome struct {
		code int
		err  error
	}
	runDone := make(chan outcome, 1)
	wg.Go(func() {
		code, err := run(ctx, streams)
		runDone <- outcome{code, err}
	})

	select {
	case out := <-runDone:
		s.log.Debug("command ended", "exit_code", out.code, "error", out.err)
		err := s.finish(exitStatus(out.code, out.err))
		cancel()
		if stdinR != nil {
			// Unblocks the read loop if it waits for run to read stdin.
			stdinR.CloseWithError(ErrSessionClosed)
		}
		select {
		case <-readDone:
		case <-time.After(closeGrace):
		}
		s.conn.Close()
		return err
	case err := <-readDone:
		s.log.Debug("client went away", "error", err)
		s.closed.Store(true)
		cancel()
		s.conn.Close()
		<-runDone
		return fmt.Errorf("client went away before the command ended (%v): %w", err, ErrSessionClosed)
	}
}

// announce sends an empty message on the lowest output channel, as the
// kubelet does, to tell the client the session is established.
func (s *session) announce() error {
	switch {
	case s.opts.Stdout:
		return s.write(channelStdout, nil)
	case s.opts.Stderr:
		return s.write(channelStderr, nil)
	default:
		return s.write(channelError, nil)
	}
}

// finish reports st on the error channel and sends a normal close frame;
// later writes fail with ErrSessionClosed.
func (s *session) finish(st metav1.Status) error {
	msg, err := encodeStatus(s.protocol, st)
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	if msg != nil {
		if err := s.write(channelError, msg); err != nil {
			s.closed.Store(true)
			return fmt.Errorf("write status: %w", err)
		}
	}
	s.closed.Store(true)
	// Taking the data lock orders the close after any write in progress.
	s.frames.mu.Lock()
	defer s.frames.mu.Unlock()
	closeMsg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if err := s.conn.WriteControl(websocket.CloseMessage, closeMsg, time.Now().Add(s.frames.timeout)); err != nil {
		return fmt.Errorf("write close: %w", err)
	}
	return nil
}

// readLoop reads the client's messages until the connection fails or
// closes: stdin data goes to stdin, resize events to resize, a v5 close of
// channel 0 ends stdin. On return stdin reads io.EOF and resize is closed.
func (s *session) readLoop(extend func(), stdin *io.PipeWriter, resize chan runtime.TerminalSize) error {
	if stdin != nil {
		defer stdin.Close()
	}
	if resize != nil {
		defer close(resize)
	}
	for {
		// Re-armed before each read, so time spent waiting for run to take
		// stdin does not count as client silence. While it waits, pings
		// go unanswered: a command that never reads a flooded stdin can
		// lose a client with a short pong deadline.
		extend()
		typ, data, err := s.conn.ReadMessage()
		if err != nil {
			return err
		}
		if typ != websocket.BinaryMessage || len(data) == 0 {
			continue
		}
		channel, payload := data[0], data[1:]
		switch {
		case channel == channelStdin && stdin != nil:
			if _, err := stdin.Write(payload); err != nil {
				// run stopped reading stdin; drop what follows.
				stdin = nil
			}
		case channel == channelResize && resize != nil:
			var size runtime.TerminalSize
			if err := json.Unmarshal(payload, &size); err != nil {
				s.log.Debug("bad resize event", "error", err)
				continue
			}
			sendLatest(resize, size)
		case channel == channelClose && supportsClose(s.protocol):
			if len(payload) == 1 && payload[0] == channelStdin && stdin != nil {
				stdin.Close()
				stdin = nil
			}
		}
	}
}

// sendLatest puts size on ch (capacity 1, one sender), replacing a size the
// receiver has not taken yet: only the latest terminal size matters.
func sendLatest(ch chan runtime.TerminalSize, size runtime.TerminalSize) {
	select {
	case ch <- size:
		return
	default:
	}
	select {
	case <-ch:
	default:
	}
	ch <- size
}
