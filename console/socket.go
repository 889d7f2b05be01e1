package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// sessionCookie is the console's session cookie, set by the API's
// /auth/login.
const sessionCookie = "berth_session"

// holdPath is watched for the life of each websocket, with the browser's
// cookie: the API refuses a dead session (401) or one past its socket
// limit (429) before the upgrade, counts the socket while it lasts, and
// ends the watch, and so the socket, when the session is revoked.
const holdPath = "/apis/berth.dev/v1/whoami?watch=1"

const (
	pingInterval = 30 * time.Second
	// pongWait is how long a socket may stay silent (no pong, no message)
	// before it is taken for dead.
	pongWait    = 75 * time.Second
	writeWait   = 10 * time.Second // for one frame to a slow browser
	authTimeout = 10 * time.Second // for the whoami check at upgrade
	// closeTimeout bounds the close frame sent on Shutdown.
	closeTimeout = time.Second
	// Limits per socket: a browser message (a watch request is ~200
	// bytes), the watches open at once, the length of a watch id.
	maxMessage = 64 << 10
	maxWatches = 32
	maxWatchID = 64
)

// checkOrigin accepts the request's own scheme and host and the configured
// origins; a browser always sends Origin on a websocket, so a request
// without one is refused too.
func (c *Console) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	for _, o := range c.allowedOrigins {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return strings.EqualFold(u.Scheme, scheme) && strings.EqualFold(u.Host, r.Host) &&
		u.Path == "" && u.User == nil
}

// sessionHold is the open session watch of a socket: its body ends when
// the session does.
type sessionHold struct {
	resp   *apiResponse
	cancel context.CancelFunc
}

// Close ends the watch and waits for its handler to return.
func (h *sessionHold) Close() {
	h.cancel()
	h.resp.Close()
}

// hold opens the session watch of a socket (holdPath) under ctx, which
// must last as long as the socket. It returns the open watch, or the
// API's refusal as a Status.
func (c *Console) hold(ctx context.Context, r *http.Request) (*sessionHold, *metav1.Status) {
	req, err := apiRequest(ctx, r, holdPath)
	if err != nil {
		return nil, newStatus(http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
	}
	// Only the answer is bounded by authTimeout; the watch itself lasts.
	answered := make(chan struct{})
	ctx, cancel := context.WithCancel(ctx)
	defer close(answered)
	go func() {
		select {
		case <-answered:
		case <-time.After(authTimeout):
			cancel()
		}
	}()
	resp, err := c.serveAPI(ctx, req)
	if err != nil {
		cancel()
		return nil, newStatus(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, "the API did not answer: "+err.Error())
	}
	if resp.code != http.StatusOK {
		defer resp.Close()
		defer cancel()
		return nil, readStatus(resp)
	}
	return &sessionHold{resp: resp, cancel: cancel}, nil
}

// serveWatch upgrades GET /console/ws/watch after checking the origin and
// the session, then serves the watch protocol until the socket closes.
func (c *Console) serveWatch(ec echo.Context) error {
	r := ec.Request()
	if !c.checkOrigin(r) {
		return writeStatus(ec, newStatus(http.StatusForbidden, metav1.StatusReasonForbidden,
			fmt.Sprintf("websocket from origin %q refused: not this server", r.Header.Get("Origin"))))
	}
	if ck, err := r.Cookie(sessionCookie); err != nil || ck.Value == "" {
		return writeStatus(ec, newStatus(http.StatusUnauthorized, metav1.StatusReasonUnauthorized,
			"no session: log in first"))
	}
	s, ok := c.open(r)
	if !ok {
		return writeStatus(ec, newStatus(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable,
			"the server is shutting down"))
	}
	defer c.handlers.Done()
	defer c.forget(s)
	held, st := c.hold(s.ctx, r)
	if st != nil {
		s.cancel()
		return writeStatus(ec, st)
	}
	defer held.Close()
	upgrader := websocket.Upgrader{CheckOrigin: c.checkOrigin}
	conn, err := upgrader.Upgrade(ec.Response(), r, nil)
	if err != nil {
		s.cancel()
		return nil // the upgrader has answered
	}
	s.run(conn, held)
	return nil
}

// open registers a session for r, unless the console is shut down.
func (c *Console) open(r *http.Request) (*session, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, false
	}
	// The socket's life is its own, not that of the request's context,
	// which net/http stops watching once the connection is hijacked.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	s := &session{
		console: c,
		req:     r,
		logger:  c.logger.With("remote_addr", r.RemoteAddr),
		ctx:     ctx,
		cancel:  cancel,
		watches: make(map[string]*watch),
	}
	c.sessions[s] = struct{}{}
	c.handlers.Add(1)
	return s, true
}

func (c *Console) forget(s *session) {
	c.mu.Lock()
	delete(c.sessions, s)
	c.mu.Unlock()
}

// writeStatus answers st, with Retry-After when it says when to retry (a
// limit reached).
func writeStatus(ec echo.Context, st *metav1.Status) error {
	if d := st.Details; d != nil && d.RetryAfterSeconds > 0 {
		ec.Response().Header().Set("Retry-After", strconv.Itoa(int(d.RetryAfterSeconds)))
	}
	return ec.JSON(int(st.Code), st)
}
