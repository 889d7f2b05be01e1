package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
)

// Subprotocols of a log over a websocket, as kube-apiserver names them.
const (
	buildLogBinary = "binary.k8s.io"
	buildLogBase64 = "base64.binary.k8s.io"
)

const (
	buildLogPing      = 30 * time.Second
	buildLogWriteWait = 10 * time.Second
	// closeStatusBase plus an HTTP code closes a socket that failed,
	// after a text message holding the Status that says why.
	closeStatusBase = 4000
)

// serveBuildLogSocket streams a build's log over a websocket, as a pod's
// log is streamed (the same subprotocols and messages): the console
// follows a build's log this way. The query is that of GET .../log
// (follow, timestamps, sinceBytes, sinceTime). The first message is
// empty; each later one holds the next bytes of the log as written (a
// "\r" progress line is sent as it is written, not when its line ends).
// The socket closes with 1000 when the log ended (the build ended, or a
// read without follow was sent), 1001 when the server shuts down, and
// 4000+code after a text message with a Status when it failed (4404: no
// such build; 4429: too many log streams).
func (a *API) serveBuildLogSocket(c echo.Context, ri auth.RequestInfo) error {
	req := c.Request()
	protocol := ""
	for _, p := range websocket.Subprotocols(req) {
		if p == buildLogBinary || p == buildLogBase64 {
			protocol = p
			break
		}
	}
	if protocol == "" && len(websocket.Subprotocols(req)) > 0 {
		return errdefs.BadRequest("the log websocket speaks %s or %s; the client offered %q", buildLogBinary, buildLogBase64, websocket.Subprotocols(req))
	}
	upgrader := websocket.Upgrader{
		// authenticate refused cookies from pages of other origins.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	if protocol != "" {
		upgrader.Subprotocols = []string{protocol}
	}
	conn, err := upgrader.Upgrade(c.Response(), req, nil)
	if err != nil {
		return nil // the upgrader answered
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(req.Context()))
	defer cancel()
	s := &buildLogSocket{conn: conn, base64: protocol == buildLogBase64}
	go s.readLoop(cancel)
	go s.pingLoop(ctx)
	c.SetRequest(req.WithContext(ctx))
	c.SetResponse(echo.NewResponse(&socketResponse{s: s}, c.Echo()))
	if err := s.send(nil); err != nil {
		return nil
	}
	err = a.buildLog(c, ri, a.berth["hostimagebuilds"])
	switch {
	case err != nil && ctx.Err() == nil:
		st := statusError(err, a.berth["hostimagebuilds"].groupResource(), ri.Name).Status()
		st.Kind, st.APIVersion = "Status", "v1"
		data, _ := json.Marshal(st)
		s.mu.Lock()
		_ = conn.SetWriteDeadline(time.Now().Add(buildLogWriteWait))
		_ = conn.WriteMessage(websocket.TextMessage, data)
		s.mu.Unlock()
		s.close(closeStatusBase+int(st.Code), st.Message)
	case ctx.Err() == nil:
		select {
		case <-a.streamsDone:
			s.close(websocket.CloseGoingAway, "the server is shutting down")
		default:
			s.close(websocket.CloseNormalClosure, "")
		}
	}
	return nil
}

// buildLogSocket is one log websocket; mu serialises its writers.
type buildLogSocket struct {
	conn   *websocket.Conn
	base64 bool
	mu     sync.Mutex
}

func (s *buildLogSocket) send(data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(buildLogWriteWait))
	if s.base64 {
		return s.conn.WriteMessage(websocket.TextMessage, []byte(base64.StdEncoding.EncodeToString(data)))
	}
	return s.conn.WriteMessage(websocket.BinaryMessage, data)
}

func (s *buildLogSocket) close(code int, reason string) {
	if len(reason) > 120 {
		reason = reason[:120]
	}
	s.mu.Lock()
	_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	s.mu.Unlock()
	_ = s.conn.Close()
}

// readLoop answers pings and close frames; the client's silence past two
// ping periods, or its close, ends the stream.
func (s *buildLogSocket) readLoop(cancel context.CancelFunc) {
	defer cancel()
	s.conn.SetReadLimit(4 << 10)
	_ = s.conn.SetReadDeadline(time.Now().Add(2 * buildLogPing))
	s.conn.SetPongHandler(func(string) error { return s.conn.SetReadDeadline(time.Now().Add(2 * buildLogPing)) })
	for {
		if _, _, err := s.conn.ReadMessage(); err != nil {
			return
		}
		_ = s.conn.SetReadDeadline(time.Now().Add(2 * buildLogPing))
	}
}

func (s *buildLogSocket) pingLoop(ctx context.Context) {
	t := time.NewTicker(buildLogPing)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.mu.Lock()
			err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(buildLogWriteWait))
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}
}

// socketResponse lets the HTTP log writer write to the socket: each write
// is a message, headers are dropped.
type socketResponse struct {
	s      *buildLogSocket
	header http.Header
}

func (r *socketResponse) Header() http.Header {
	if r.header == nil {
		r.header = http.Header{}
	}
	return r.header
}

func (r *socketResponse) WriteHeader(int) {}

func (r *socketResponse) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := r.s.send(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (r *socketResponse) Flush() {}
