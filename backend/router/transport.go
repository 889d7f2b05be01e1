package router

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Limits of the router's connections to endpoints, both transports.
const (
	// maxIdlePerEndpoint idle keep-alive connections are kept per
	// endpoint; more are closed once their request is done.
	maxIdlePerEndpoint = 64
	// idleConnTimeout closes a kept connection no request used for that
	// long (an endpoint whose pod is gone holds none for ever).
	idleConnTimeout = 90 * time.Second
	// maxResponseHeaderBytes bounds an endpoint's answer header: an
	// endpoint is a tenant's pod, and the router holds many answers.
	maxResponseHeaderBytes = 1 << 20
)

// errNoAnswer is a connection's failure before the first byte of an
// answer: on a kept connection, the endpoint closed it while idle.
var errNoAnswer = errors.New("the endpoint closed the connection without an answer")

// inlineTransport is the transport of plain requests (GET, HEAD,
// OPTIONS, TRACE; no body, no upgrade): most of what a router carries.
// It writes the request and reads the answer in the goroutine that
// serves the client, on a kept-alive connection of the endpoint's own.
// http.Transport hands each request to a connection's writer goroutine
// and its answer back from a reader goroutine, and waits for the body's
// end from the reader again: more goroutine wake-ups per request (a
// thread woken, a context switch, each time), which cost as much as the
// rest of the hop. Under BenchmarkRouter's load, a bare ReverseProxy on
// http.Transport took 250 µs of CPU per request (4 context switches
// besides the server's own), a proxy writing and reading inline 124 µs.
// Requests with a body, which need writing and reading at once, and
// upgrades go to http.Transport.
type inlineTransport struct {
	dial func(ctx context.Context, network, address string) (net.Conn, error)
	// idleTimeout is idleConnTimeout; tests shorten it.
	idleTimeout time.Duration

	mu sync.Mutex
	// idle are the kept connections of each endpoint (host:port), the
	// most recently used last; guarded by mu.
	idle map[string][]*backendConn
}

func newInlineTransport(dial func(ctx context.Context, network, address string) (net.Conn, error)) *inlineTransport {
	return &inlineTransport{dial: dial, idleTimeout: idleConnTimeout, idle: map[string][]*backendConn{}}
}

// inline reports whether req may go through an inlineTransport: nothing
// to send after the header, no protocol switch, and safe to send again
// on a new connection when a kept one turns out closed.
func inline(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
	default:
		return false
	}
	return (req.Body == nil || req.Body == http.NoBody) && req.ContentLength <= 0 &&
		len(req.TransferEncoding) == 0 && req.Header.Get("Upgrade") == ""
}

// backendConn is one connection to an endpoint.
type backendConn struct {
	t    *inlineTransport
	key  string
	conn net.Conn
	lim  *limitedReader
	br   *bufio.Reader
	bw   *bufio.Writer
	// idleTimer closes the connection once idle too long; guarded by t.mu.
	idleTimer *time.Timer
}

// limitedReader reads from a connection at most n more bytes: it bounds
// an answer's header, and is lifted for its body.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("the endpoint's answer header is longer than %d bytes", maxResponseHeaderBytes)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// RoundTrip sends req on a kept connection of its endpoint, or a new
// one. A kept connection the endpoint closed while it was idle fails
// before any answer; the request then goes again on another (it is
// idempotent and has no body), as http.Transport does.
func (t *inlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for {
		pc, reused, err := t.get(req.Context(), req.URL.Host)
		if err != nil {
			return nil, err
		}
		resp, err := pc.roundTrip(req)
		if err == nil {
			return resp, nil
		}
		pc.conn.Close()
		if !reused || !errors.Is(err, errNoAnswer) || req.Context().Err() != nil {
			return nil, err
		}
	}
}

// get takes the most recently used idle connection to address, or dials
// one.
func (t *inlineTransport) get(ctx context.Context, address string) (pc *backendConn, reused bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	for {
		t.mu.Lock()
		list := t.idle[address]
		if len(list) == 0 {
			t.mu.Unlock()
			break
		}
		pc = list[len(list)-1]
		list[len(list)-1] = nil
		t.idle[address] = list[:len(list)-1]
		if len(list) == 1 {
			delete(t.idle, address)
		}
		pc.idleTimer.Stop()
		t.mu.Unlock()
		if !pc.spoken() {
			return pc, true, nil
		}
		pc.conn.Close()
	}
	conn, err := t.dial(ctx, "tcp", address)
	if err != nil {
		return nil, false, err
	}
	pc = &backendConn{t: t, key: address, conn: conn, lim: &limitedReader{r: conn}}
	pc.br = bufio.NewReader(pc.lim)
	pc.bw = bufio.NewWriter(conn)
	return pc, false, nil
}

// put keeps pc for the next request to its endpoint, or closes it when
// the endpoint has enough kept.
func (t *inlineTransport) put(pc *backendConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.idle[pc.key]) >= maxIdlePerEndpoint {
		pc.conn.Close()
		return
	}
	t.idle[pc.key] = append(t.idle[pc.key], pc)
	if pc.idleTimer == nil {
		pc.idleTimer = time.AfterFunc(t.idleTimeout, func() { t.expire(pc) })
	} else {
		pc.idleTimer.Reset(t.idleTimeout)
	}
}

// expire closes pc if it is still idle.
func (t *inlineTransport) expire(pc *backendConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.idle[pc.key]
	i := slices.Index(list, pc)
	if i < 0 {
		return
	}
	t.idle[pc.key] = slices.Delete(list, i, i+1)
	if len(t.idle[pc.key]) == 0 {
		delete(t.idle, pc.key)
	}
	pc.conn.Close()
}

// spoken reports whether the endpoint sent anything on pc while it was
// idle: bytes no request asked for (read as the next request's answer,
// they would answer it with what the endpoint chose before it was asked:
// http.Transport drops such a connection too, "unsolicited response"), or
// its end. It peeks at the socket without waiting; a connection it cannot
// peek at counts as spoken.
func (pc *backendConn) spoken() bool {
	if pc.br.Buffered() > 0 {
		return true
	}
	sc, ok := pc.conn.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	spoken := true
	var b [1]byte
	err = raw.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: nothing there. Anything else (a byte, the end, an
		// error) means the connection is not fit for a request.
		spoken = !errors.Is(rerr, syscall.EAGAIN)
		return true
	})
	return spoken || err != nil
}

// CloseIdleConnections closes every kept connection.
func (t *inlineTransport) CloseIdleConnections() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for key, list := range t.idle {
		for _, pc := range list {
			pc.idleTimer.Stop()
			pc.conn.Close()
		}
		delete(t.idle, key)
	}
}

// aLongTimeAgo is a deadline that unblocks a connection's reads and
// writes at once.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip writes req and reads its answer's header; the answer's body
// is read by the caller, and gives the connection back once read to its
// end. The client going away (req's context ending) ends the exchange,
// as it does with http.Transport: the endpoint sees its request end.
func (pc *backendConn) roundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	stop := context.AfterFunc(ctx, func() { _ = pc.conn.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, error) {
		if !stop() {
			return nil, ctx.Err()
		}
		return nil, err
	}
	err := req.Write(pc.bw)
	if err == nil {
		err = pc.bw.Flush()
	}
	if err != nil {
		return fail(fmt.Errorf("%w: %w", errNoAnswer, err))
	}
	pc.lim.n = maxResponseHeaderBytes
	if _, err := pc.br.Peek(1); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
			err = fmt.Errorf("%w: %w", errNoAnswer, err)
		}
		return fail(err)
	}
	var resp *http.Response
	for {
		if resp, err = http.ReadResponse(pc.br, req); err != nil {
			return fail(err)
		}
		// 1xx answers are interim (103 Early Hints, a stray 100
		// Continue): the final one follows. Nothing asked to switch
		// protocols.
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return fail(errors.New("the endpoint switched protocols on a request that asked no upgrade"))
		}
		if resp.StatusCode >= 200 {
			break
		}
	}
	pc.lim.n = math.MaxInt64
	resp.Body = &inlineBody{pc: pc, body: resp.Body, stop: stop, keep: !resp.Close}
	return resp, nil
}

// isReset reports whether err is the endpoint resetting the connection.
func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "read"
}

// inlineBody is an answer's body: read to its end, it gives its
// connection back for the next request; closed before, or failed, it
// closes the connection (what is left of the answer is not wanted).
type inlineBody struct {
	pc   *backendConn
	body io.ReadCloser
	stop func() bool
	// keep: the endpoint did not ask to close the connection.
	keep bool
	done bool
}

func (b *inlineBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.body.Read(p)
	if err != nil {
		b.finish(errors.Is(err, io.EOF))
	}
	return n, err
}

func (b *inlineBody) Close() error {
	if !b.done {
		b.finish(false)
	}
	return nil
}

// finish ends the exchange: the connection goes back to the idle ones
// when the whole answer was read, the client's context did not cut it,
// and the endpoint sent nothing beyond its answer.
// The body itself is not closed: http's body reads what is left of an
// answer on Close, which an endless stream never ends.
func (b *inlineBody) finish(eof bool) {
	b.done = true
	stopped := b.stop()
	if eof && stopped && b.keep && b.pc.br.Buffered() == 0 {
		b.pc.t.put(b.pc)
		return
	}
	b.pc.conn.Close()
}
