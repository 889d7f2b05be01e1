package remotecommand

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// spdyProtocols lists what a SPDY session accepts: v4 only, the version
// client-go's SPDY executor (and kubectl before websockets) prefers. v1
// to v3 differ only in how the error channel reports an outcome and date
// from before Kubernetes 1.5.
var spdyProtocols = []string{ProtocolV4}

// DefaultStreamCreationTimeout bounds how long a SPDY session waits for
// the client to open the streams it asked for, as the kubelet's
// --streaming-connection-idle-timeout neighbour streamCreationTimeout.
const DefaultStreamCreationTimeout = 30 * time.Second

// IsSPDYUpgrade reports whether r asks to switch to SPDY/3.1, as client-go's
// SPDY round tripper does.
func IsSPDYUpgrade(r *http.Request) bool {
	return httpstream.IsUpgradeRequest(r) && strings.EqualFold(r.Header.Get(httpstream.HeaderUpgrade), spdy.HeaderSpdy31)
}

// serveSPDY serves one session over SPDY, as the kubelet does: the
// client negotiates the protocol in X-Stream-Protocol-Version headers,
// then opens one stream per channel (the streamType header names it:
// error, stdin, stdout, stderr, resize). Stdin ends when the client
// half-closes its stream. When run returns, its outcome goes on the error
// stream as a v4 Status and the connection closes, which resets the
// other streams (their readers see EOF).
func (s *Server) serveSPDY(w http.ResponseWriter, r *http.Request, opts Options, run RunFunc) error {
	log := s.logger().With("protocol", "SPDY/3.1+"+ProtocolV4, "container", opts.Container)
	if _, ok := r.Header[http.CanonicalHeaderKey(httpstream.HeaderProtocolVersion)]; !ok {
		err := fmt.Errorf("a SPDY session needs a %s header offering %q: %w", httpstream.HeaderProtocolVersion, spdyProtocols, ErrUnsupportedProtocol)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return err
	}
	if _, err := httpstream.Handshake(r, w, spdyProtocols); err != nil {
		// Handshake has answered (403, with the protocols it accepts).
		return fmt.Errorf("%v: %w", err, ErrUnsupportedProtocol)
	}
	expected := expectedStreams(opts)
	arrived := make(chan newStream, len(expected))
	accepting := make(chan struct{})
	var acceptOnce sync.Once
	stopAccepting := func() { acceptOnce.Do(func() { close(accepting) }) }
	defer stopAccepting()
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st httpstream.Stream, replySent <-chan struct{}) error {
		typ := st.Headers().Get(v1.StreamType)
		if !expected[typ] {
			return fmt.Errorf("unexpected stream of type %q", typ)
		}
		select {
		case arrived <- newStream{st, replySent}:
			return nil
		case <-accepting:
			return fmt.Errorf("stream of type %q after the session started", typ)
		}
	})
	if conn == nil {
		// The upgrader has answered the request.
		return errors.New("SPDY upgrade failed")
	}
	// Deferred in this order so that the connection closes, ending the
	// resize reader, before the wait for it.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer conn.Close()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-conn.CloseChan():
			cancel()
		case <-ctx.Done():
		}
	}()

	byType, err := waitForStreams(ctx, arrived, len(expected), s.streamCreationTimeout())
	stopAccepting()
	if err != nil {
		log.Debug("session not established", "error", err)
		return err
	}
	streams := runtime.Streams{TTY: opts.TTY}
	if st := byType[v1.StreamTypeStdin]; st != nil {
		streams.Stdin = st
	}
	if st := byType[v1.StreamTypeStdout]; st != nil {
		streams.Stdout = sessionWriter{ctx: ctx, w: st}
	}
	if st := byType[v1.StreamTypeStderr]; st != nil {
		streams.Stderr = sessionWriter{ctx: ctx, w: st}
	}
	if st := byType[v1.StreamTypeResize]; st != nil {
		resize := make(chan runtime.TerminalSize, 1)
		streams.Resize = resize
		wg.Go(func() { readResizes(st, resize) })
	}

	code, runErr := run(ctx, streams)
	log.Debug("command ended", "exit_code", code, "error", runErr)
	if ctx.Err() != nil {
		return fmt.Errorf("client went away before the command ended: %w", ErrSessionClosed)
	}
	msg, err := encodeStatus(ProtocolV4, exitStatus(code, runErr))
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	if _, err := byType[v1.StreamTypeError].Write(msg); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	// Closing the connection (deferred) resets the streams: the resize
	// reader ends and the client reads the end of every stream.
	return nil
}

func (s *Server) streamCreationTimeout() time.Duration {
	if s.StreamCreationTimeout <= 0 {
		return DefaultStreamCreationTimeout
	}
	return s.StreamCreationTimeout
}

// expectedStreams are the stream types a session with opts opens: the
// error stream always, one per selected stream, and resize with a TTY.
func expectedStreams(opts Options) map[string]bool {
	types := map[string]bool{v1.StreamTypeError: true}
	if opts.Stdin {
		types[v1.StreamTypeStdin] = true
	}
	if opts.Stdout {
		types[v1.StreamTypeStdout] = true
	}
	if opts.Stderr {
		types[v1.StreamTypeStderr] = true
	}
	if opts.TTY {
		types[v1.StreamTypeResize] = true
	}
	return types
}

// newStream is a stream the client opened, and the channel closed once
// the server's reply to it is sent.
type newStream struct {
	st        httpstream.Stream
	replySent <-chan struct{}
}

// waitForStreams collects n streams of distinct types and waits until the
// server has replied to each, as the kubelet does (waitStreamReply): a
// session that ended before a reply went out would reset a stream the
// client is still waiting to see accepted, and the client would report
// "stream reset" instead of the exit code. It fails when the timeout
// passes or ctx ends.
func waitForStreams(ctx context.Context, arrived <-chan newStream, n int, timeout time.Duration) (map[string]httpstream.Stream, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	byType := make(map[string]httpstream.Stream, n)
	var replies []<-chan struct{}
	for len(byType) < n {
		select {
		case ns := <-arrived:
			typ := ns.st.Headers().Get(v1.StreamType)
			if byType[typ] != nil {
				return nil, fmt.Errorf("two streams of type %q: %w", typ, ErrInvalidOptions)
			}
			byType[typ] = ns.st
			replies = append(replies, ns.replySent)
		case <-timer.C:
			return nil, fmt.Errorf("the client opened %d of %d streams within %v: %w", len(byType), n, timeout, ErrSessionClosed)
		case <-ctx.Done():
			return nil, fmt.Errorf("client went away before opening its streams: %w", ErrSessionClosed)
		}
	}
	for _, sent := range replies {
		select {
		case <-sent:
		case <-timer.C:
			return nil, fmt.Errorf("the replies to the client's streams were not sent within %v: %w", timeout, ErrSessionClosed)
		case <-ctx.Done():
			return nil, fmt.Errorf("client went away before its streams were accepted: %w", ErrSessionClosed)
		}
	}
	return byType, nil
}

// readResizes decodes the resize stream's JSON sizes onto ch until the
// stream ends, then closes ch.
func readResizes(r io.Reader, ch chan runtime.TerminalSize) {
	defer close(ch)
	dec := json.NewDecoder(r)
	for {
		var size runtime.TerminalSize
		if err := dec.Decode(&size); err != nil {
			return
		}
		sendLatest(ch, size)
	}
}

// sessionWriter fails every write once the session has ended (the client
// went away), as a websocket session's writes do: a SPDY stream may take
// a write into its buffer after its connection closed, and run must not
// believe that output reached anyone.
type sessionWriter struct {
	ctx context.Context
	w   io.Writer
}

func (s sessionWriter) Write(p []byte) (int, error) {
	if s.ctx.Err() != nil {
		return 0, ErrSessionClosed
	}
	return s.w.Write(p)
}
