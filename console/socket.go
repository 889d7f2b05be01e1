package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// sessionCookie is the console's session cookie, set by the API's
// /auth/login.
const sessionCookie = "berth_session"

// whoamiPath is asked once per websocket, with the browser's cookie, to
// refuse a dead session before upgrading.
const whoamiPath = "/apis/berth.dev/v1/whoami"

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

// authenticate asks the API who the request's session belongs to. It
// returns nil when the API accepts it, and otherwise the API's Status.
func (c *Console) authenticate(r *http.Request) *metav1.Status {
	ctx, cancel := context.WithTimeout(r.Context(), authTimeout)
	defer cancel()
	req, err := apiRequest(ctx, r, whoamiPath)
	if err != nil {
		return newStatus(http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
	}
	resp, err := c.serveAPI(ctx, req)
	if err != nil {
		return newStatus(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, "the API did not answer: "+err.Error())
	}
	defer resp.Close()
	if resp.code != http.StatusOK {
		return readStatus(resp)
	}
	return nil
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
	if st := c.authenticate(r); st != nil {
		return writeStatus(ec, st)
	}
	s, ok := c.open(r)
	if !ok {
		return writeStatus(ec, newStatus(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable,
			"the server is shutting down"))
	}
	defer c.handlers.Done()
	defer c.forget(s)
	upgrader := websocket.Upgrader{CheckOrigin: c.checkOrigin}
	conn, err := upgrader.Upgrade(ec.Response(), r, nil)
	if err != nil {
		s.cancel()
		return nil // the upgrader has answered
	}
	s.run(conn)
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

func writeStatus(ec echo.Context, st *metav1.Status) error {
	return ec.JSON(int(st.Code), st)
}
