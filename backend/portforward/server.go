package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	v1 "k8s.io/api/core/v1"
	k8sportforward "k8s.io/apimachinery/pkg/util/portforward"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// Protocols.
const (
	// ProtocolV1 is the port forward protocol over SPDY.
	ProtocolV1 = k8sportforward.PortForwardV1Name // "portforward.k8s.io"
	// ProtocolWebsocketV1 is the websocket subprotocol that tunnels
	// ProtocolV1's SPDY.
	ProtocolWebsocketV1 = k8sportforward.WebsocketsSPDYTunnelingPortForwardV1 // "SPDY/3.1+portforward.k8s.io"
)

// DefaultStreamCreationTimeout bounds how long the second stream of a
// forwarded connection may lag behind the first, as the kubelet's.
const DefaultStreamCreationTimeout = 30 * time.Second

// The error classes of the package.
var (
	// ErrUnsupportedProtocol: the request is neither a SPDY nor a
	// websocket upgrade offering a protocol the server speaks.
	ErrUnsupportedProtocol = errors.New("unsupported port forward protocol")
)

// DialFunc connects to port of the pod whose ports are forwarded.
type DialFunc func(ctx context.Context, port uint16) (net.Conn, error)

// Server serves port forward sessions. The zero value is ready to use.
type Server struct {
	// StreamCreationTimeout bounds the wait for the second stream of a
	// forwarded connection; 0 means DefaultStreamCreationTimeout.
	StreamCreationTimeout time.Duration
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
}

// IsUpgrade reports whether r asks for a port forward session: a SPDY
// upgrade, or a websocket upgrade (whose subprotocols Serve checks).
func IsUpgrade(r *http.Request) bool {
	return websocket.IsWebSocketUpgrade(r) ||
		httpstream.IsUpgradeRequest(r) && strings.EqualFold(r.Header.Get(httpstream.HeaderUpgrade), spdy.HeaderSpdy31)
}

// Serve upgrades r (any origin: the caller authenticates) and forwards
// the connections the client opens to dial until the client goes away or
// ctx ends. A request that is no upgrade, or offers no protocol the server
// speaks, is answered with 400 (403 for a SPDY negotiation that fails, as
// the kubelet answers) and an error wrapping ErrUnsupportedProtocol.
func (s *Server) Serve(ctx context.Context, w http.ResponseWriter, r *http.Request, dial DialFunc) error {
	h := &handler{
		dial:    dial,
		pairs:   make(map[string]*streamPair),
		arrived: make(chan httpstream.Stream),
		done:    make(chan struct{}),
		timeout: s.StreamCreationTimeout,
		log:     s.logger(),
	}
	if h.timeout <= 0 {
		h.timeout = DefaultStreamCreationTimeout
	}
	conn, err := h.upgrade(w, r)
	if err != nil {
		return err
	}
	h.run(ctx, conn)
	return nil
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// handler is one port forward session.
type handler struct {
	dial    DialFunc
	timeout time.Duration
	log     *slog.Logger
	// arrived receives the streams the client opens, checked.
	arrived chan httpstream.Stream
	// done is closed when the session ends: late streams are refused.
	done chan struct{}
	// wg counts the session's goroutines.
	wg sync.WaitGroup

	mu    sync.Mutex             // guards pairs
	pairs map[string]*streamPair // by request ID, until complete or timed out
}

// upgrade switches r to SPDY, directly or inside a websocket.
func (h *handler) upgrade(w http.ResponseWriter, r *http.Request) (httpstream.Connection, error) {
	switch {
	case websocket.IsWebSocketUpgrade(r):
		if !slices.Contains(websocket.Subprotocols(r), ProtocolWebsocketV1) {
			err := fmt.Errorf("client offers %q, server supports %q: %w", websocket.Subprotocols(r), ProtocolWebsocketV1, ErrUnsupportedProtocol)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return nil, err
		}
		upgrader := websocket.Upgrader{
			Subprotocols: []string{ProtocolWebsocketV1},
			CheckOrigin:  func(*http.Request) bool { return true },
		}
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			// The upgrader has answered the request.
			return nil, fmt.Errorf("websocket upgrade: %w", err)
		}
		h.log = h.log.With("protocol", ProtocolWebsocketV1)
		// Client-go's adapter, as kube-apiserver's tunneling handler uses.
		tunnel := portforward.NewTunnelingConnection("server", ws)
		conn, err := spdy.NewServerConnection(tunnel, h.accept)
		if err != nil {
			tunnel.Close()
			return nil, fmt.Errorf("SPDY over the websocket: %w", err)
		}
		return conn, nil
	case IsUpgrade(r):
		if _, err := httpstream.Handshake(r, w, []string{ProtocolV1}); err != nil {
			// Handshake has answered.
			return nil, fmt.Errorf("%v: %w", err, ErrUnsupportedProtocol)
		}
		conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, h.accept)
		if conn == nil {
			// The upgrader has answered.
			return nil, errors.New("SPDY upgrade failed")
		}
		h.log = h.log.With("protocol", ProtocolV1)
		return conn, nil
	}
	err := fmt.Errorf("a port forward is a SPDY or websocket upgrade: %w", ErrUnsupportedProtocol)
	http.Error(w, err.Error(), http.StatusBadRequest)
	return nil, err
}

// accept checks a stream the client opens (httpstream.NewStreamHandler):
// it needs a port and a stream type of error or data.
func (h *handler) accept(st httpstream.Stream, _ <-chan struct{}) error {
	if _, err := streamPort(st); err != nil {
		return err
	}
	switch typ := st.Headers().Get(v1.StreamType); typ {
	case v1.StreamTypeError, v1.StreamTypeData:
	default:
		return fmt.Errorf("invalid stream type %q", typ)
	}
	select {
	case h.arrived <- st:
		return nil
	case <-h.done:
		return errors.New("the port forward session has ended")
	}
}

// streamPort reads a stream's port header: 1-65535.
func streamPort(st httpstream.Stream) (uint16, error) {
	s := st.Headers().Get(v1.PortHeader)
	if s == "" {
		return 0, fmt.Errorf("%q header is required", v1.PortHeader)
	}
	port, err := strconv.ParseUint(s, 10, 16)
	if err != nil || port == 0 {
		return 0, fmt.Errorf("invalid port %q: must be 1-65535", s)
	}
	return uint16(port), nil
}

// run pairs the streams and forwards each pair until the connection
// closes or ctx ends; it returns after every forward has.
func (h *handler) run(ctx context.Context, conn httpstream.Connection) {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		close(h.done)
		cancel()
		// Resets every stream: the forwards' copies end.
		conn.Close()
		h.wg.Wait()
	}()
	for {
		select {
		case <-conn.CloseChan():
			return
		case <-ctx.Done():
			return
		case st := <-h.arrived:
			id := requestID(st)
			p, created := h.pair(id)
			if created {
				h.wg.Go(func() { h.expire(ctx, conn, p) })
			}
			complete, err := p.add(st)
			if err != nil {
				p.fail(fmt.Sprintf("error processing stream for request %s: %v", id, err))
				continue
			}
			if complete {
				h.wg.Go(func() { h.forward(ctx, p) })
			}
		}
	}
}

// requestID is the stream's requestID header or, for clients older than
// it, what the kubelet derives from the stream's number: the error stream
// opens just before its data stream.
func requestID(st httpstream.Stream) string {
	if id := st.Headers().Get(v1.PortForwardRequestIDHeader); id != "" {
		return id
	}
	id := int(st.Identifier())
	if st.Headers().Get(v1.StreamType) == v1.StreamTypeData {
		id -= 2
	}
	return strconv.Itoa(id)
}

// pair returns the pair of id, creating it if needed.
func (h *handler) pair(id string) (p *streamPair, created bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p, ok := h.pairs[id]; ok {
		return p, false
	}
	p = &streamPair{id: id, complete: make(chan struct{})}
	h.pairs[id] = p
	return p, true
}

// expire forgets p once it is complete, or fails it when its second
// stream has not come within the timeout.
func (h *handler) expire(ctx context.Context, conn httpstream.Connection, p *streamPair) {
	timer := time.NewTimer(h.timeout)
	defer timer.Stop()
	select {
	case <-p.complete:
	case <-timer.C:
		p.fail(fmt.Sprintf("timed out waiting for the streams of request %s", p.id))
	case <-ctx.Done():
	}
	h.mu.Lock()
	delete(h.pairs, p.id)
	h.mu.Unlock()
	data, errs := p.streams()
	conn.RemoveStreams(data, errs)
}

// forward connects p's port and copies both ways. It closes p's streams
// when the pod's side closes, without waiting for the client's: client-go
// closes its side only once the error stream has ended. The connection to
// the pod is closed once both sides are done, or the session ends.
func (h *handler) forward(ctx context.Context, p *streamPair) {
	data, errs := p.streams()
	defer errs.Close()
	defer data.Close()
	port, _ := streamPort(data) // checked by accept
	log := h.log.With("port", port, "request_id", p.id)
	conn, err := h.dial(ctx, port)
	if err != nil {
		log.Debug("dial failed", "error", err)
		fmt.Fprintf(errs, "error forwarding port %d to pod: %v", port, err)
		return
	}
	// The session ending closes the connection, which ends both copies.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	podDone := make(chan struct{})
	h.wg.Go(func() {
		defer conn.Close()
		// Client to pod, until the client half-closes its stream (the
		// pod then reads the end) or the session resets it.
		if _, err := io.Copy(conn, data); err != nil {
			return
		}
		closeWrite(conn)
		select {
		case <-podDone:
		case <-ctx.Done():
		}
	})
	// Pod to client, until the pod closes its side.
	_, err = io.Copy(data, conn)
	close(podDone)
	if err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
		log.Debug("copy from the pod ended", "error", err)
		conn.Close()
	}
}

// closeWrite half-closes conn when it can (TCP), else closes it.
func closeWrite(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	conn.Close()
}

// streamPair is the error and data streams of one forwarded connection.
type streamPair struct {
	id       string
	complete chan struct{} // closed when both streams are there

	mu   sync.Mutex // guards data and errs
	data httpstream.Stream
	errs httpstream.Stream
}

// add adds st; it reports whether the pair is then complete, and an error
// for a second stream of one type.
func (p *streamPair) add(st httpstream.Stream) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch st.Headers().Get(v1.StreamType) {
	case v1.StreamTypeError:
		if p.errs != nil {
			return false, errors.New("error stream already assigned")
		}
		p.errs = st
	case v1.StreamTypeData:
		if p.data != nil {
			return false, errors.New("data stream already assigned")
		}
		p.data = st
	}
	complete := p.errs != nil && p.data != nil
	if complete {
		close(p.complete)
	}
	return complete, nil
}

func (p *streamPair) streams() (data, errs httpstream.Stream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.data, p.errs
}

// fail writes msg on the pair's error stream, if it has one.
func (p *streamPair) fail(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.errs != nil {
		fmt.Fprint(p.errs, msg)
	}
}
