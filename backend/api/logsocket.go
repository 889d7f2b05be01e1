package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/remotecommand"
	"github.com/berthpaas/berth/backend/streams"
)

// The subprotocols of a pod's log over a websocket, as kube-apiserver
// names them.
const (
	// LogProtocolBinary: each binary message holds log bytes as written.
	LogProtocolBinary = "binary.k8s.io"
	// LogProtocolBase64: each text message holds log bytes, base64.
	LogProtocolBase64 = "base64.binary.k8s.io"
)

// Close codes of a log websocket besides the standard ones (1000 the log
// ended, 1001 the server is going away).
const (
	// CloseCredentialEnded: the credential the socket was opened with was
	// revoked; as the console's own sockets, 4001 means "do not
	// reconnect, sign in again".
	CloseCredentialEnded = 4001
	// CloseStatusBase plus an HTTP code closes a socket that failed; the
	// message before the close frame is the Status that says why.
	CloseStatusBase = 4000
)

const (
	// logSocketPing is how often the server pings; a client silent for
	// two periods (no pong, no message) is taken for gone.
	logSocketPing = remotecommand.DefaultPingPeriod
	// logSocketWrite bounds one message to a slow client.
	logSocketWrite = remotecommand.DefaultWriteTimeout
	// logSocketCloseWait is how long the server waits for the client to
	// answer its close frame.
	logSocketCloseWait = 2 * time.Second
	// logSocketReadLimit bounds what a client may send in one message;
	// the server reads nothing from it but close frames and pings.
	logSocketReadLimit = 4 << 10
	// maxCloseReason is what a close frame has room for (RFC 6455: 125
	// bytes of payload, two of them the code).
	maxCloseReason = 123
)

// errLogClientGone ends a log socket whose client closed it or stopped
// answering.
var errLogClientGone = errors.New("the client closed the log socket")

// servePodLog serves GET pods/NAME/log: a websocket when the client asks
// for one (serveLogSocket), otherwise the node's answer as it streams.
func (a *API) servePodLog(c echo.Context, ri auth.RequestInfo, res *resource) error {
	if websocket.IsWebSocketUpgrade(c.Request()) {
		return a.serveLogSocket(c, ri, res)
	}
	return a.proxyToNode(c, ri, res)
}

// serveLogSocket streams a pod's log over a websocket, as kube-apiserver
// does for the OpenShift console. This comment is the contract a client
// follows.
//
// # The request
//
// GET /api/v1/namespaces/NS/pods/NAME/log with a websocket upgrade takes
// the query parameters of the plain HTTP form, with the same meaning:
// container, follow, previous, timestamps, sinceSeconds, sinceTime (RFC
// 3339, nanoseconds kept), tailLines, limitBytes. Who may read the log
// over HTTP may read it here (a viewer of the project too), with the same
// audit entries; a follow counts against the user's log streams (429 past
// the limit) and ends when its credential is revoked. A browser
// authenticates with its session cookie; an upgrade that carries one from
// a page of another origin is refused (403), as for every websocket of the
// API.
//
// The client offers subprotocols; the server takes the first it knows:
//
//	binary.k8s.io         binary messages of log bytes, exactly as written
//	base64.binary.k8s.io  text messages of log bytes, base64 (standard, padded)
//	(none offered)        as binary.k8s.io, with no subprotocol in the answer
//
// Before upgrading the server refuses only what concerns the request
// itself, as a plain HTTP answer with a Status body: 401 without valid
// credentials, 403 for a caller who may not read the pod's log or a
// cross-origin cookie, 400 when no offered subprotocol is known. Every
// other failure is told on the socket.
//
// # Messages
//
// The first message is empty: the stream is open. Each later data message
// holds the next piece of the log; pieces do not follow lines (a line may
// span messages, a message may hold many lines). Output that a container
// writes without a newline (a prompt, a "\r" progress bar) is sent as soon
// as it is written. The server ignores what the client sends but close
// frames and pings, which it answers; it pings every 30 s, and drops a
// client that sends nothing at all (not even a pong) for 60 s.
//
// # The end
//
// The server ends the socket with a close frame:
//
//	1000        the log ended: the container stopped, or all of a log read
//	            without follow was sent, or limitBytes was reached
//	1001        the server is shutting down: reconnect (see Resume)
//	4001        the credential was revoked (logout, password change, token
//	            or user deleted): do not reconnect; sign in again
//	4000+code   a failure with that HTTP code: 4400 a bad parameter, 4404
//	            no such pod or container, 4429 too many log streams (retry
//	            after details.retryAfterSeconds), 4503 the pod's node does not
//	            answer (retry with back-off), ...
//
// Before 4001 and every 4000+code close, the server sends the failure as
// a Kubernetes Status (JSON): with binary.k8s.io in a text message (log
// data is binary), with base64.binary.k8s.io in the text message that
// starts with "{" (base64 never does). Its message names pods and nodes,
// never internal addresses. A connection lost without a close frame
// (1006) is an outage: reconnect with back-off.
//
// # Resume
//
// A client that must not lose or repeat lines across reconnects follows
// with timestamps=true: every line then starts with the time it was
// logged (RFC 3339, nine fraction digits, UTC) and a space, and the client
// keeps each line with its time. To reconnect, after any end but 1000,
// 4001 and 4400-4499 (except 4429):
//
//  1. Drop your last line if it is unfinished (no "\n" yet): the new
//     stream sends it again, whole once it has ended or, while it is still
//     being written, from what is written after the reconnect (what was
//     written of it before is in neither Docker's log nor the live output
//     until it ends).
//  2. Let S be the time of your last line. Ask again with the same
//     parameters, but sinceTime=S and without tailLines or sinceSeconds.
//     The server sends every line stamped S or later, to the nanosecond.
//  3. The new stream therefore begins with lines you have: those you hold
//     stamped S or later (usually just the last one). Drop its first lines
//     for as long as each equals, in order, the text (after the time) of
//     your lines stamped S or later; stop at the first that differs.
//
// Lines are compared by text in step 3 because a line sent before it ended
// carries the time its first byte arrived, while Docker's log stamps it
// when it ends.
func (a *API) serveLogSocket(c echo.Context, ri auth.RequestInfo, res *resource) error {
	req := c.Request()
	protocol, ok := negotiateLogProtocol(websocket.Subprotocols(req))
	if !ok {
		return statusError(errdefs.BadRequest("the log websocket speaks %s or %s; the client offered %q",
			LogProtocolBinary, LogProtocolBase64, websocket.Subprotocols(req)), res.groupResource(), ri.Name)
	}
	upgrader := websocket.Upgrader{
		// authenticate has refused cookies from pages of other origins; a
		// bearer token is not something a page can make a browser send.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	if protocol != "" {
		upgrader.Subprotocols = []string{protocol}
	}
	conn, err := upgrader.Upgrade(c.Response(), req, nil)
	if err != nil {
		return nil // the upgrader has answered
	}
	ls := newLogSocket(req.Context(), conn, protocol == LogProtocolBase64, logSocketPing)
	defer ls.close()
	a.streamLogSocket(c, ri, res, ls)
	return nil
}

// negotiateLogProtocol picks the first offered subprotocol the server
// knows, or "" (binary) when none is offered.
func negotiateLogProtocol(offered []string) (string, bool) {
	if len(offered) == 0 {
		return "", true
	}
	for _, p := range offered {
		if p == LogProtocolBinary || p == LogProtocolBase64 {
			return p, true
		}
	}
	return "", false
}

// streamLogSocket copies the node's answer to the socket and ends it as
// the contract says.
func (a *API) streamLogSocket(c echo.Context, ri auth.RequestInfo, res *resource, ls *logSocket) {
	gr := res.groupResource()
	// After the upgrade the request lives as long as the socket.
	c.SetRequest(c.Request().WithContext(ls.ctx))
	if err := ls.send(nil); err != nil {
		return
	}
	target, err := a.podAgentTarget(c, ri, res)
	if err != nil {
		ls.fail(statusError(err, gr, ri.Name))
		return
	}
	ctx := ls.ctx
	if kind, ok := streamKind(ri.Subresource, target.query); ok {
		stream, err := a.openStream(c, kind)
		if err != nil {
			ls.fail(statusError(err, gr, ri.Name))
			return
		}
		defer stream.Close()
		ctx = stream.Context()
	}
	session := a.audit.startSession(c, ri, target.container, target.query)
	defer session.end(ctx)
	node := target.pod.Spec.NodeName
	out, err := http.NewRequestWithContext(ctx, http.MethodGet, target.url.String(), nil)
	if err != nil {
		ls.fail(statusError(err, gr, ri.Name))
		return
	}
	resp, err := target.transport.RoundTrip(out)
	if err != nil {
		var se *apierrors.StatusError
		if ctx.Err() != nil {
			se = a.logSocketEnded(ctx, ls, node, gr, ri.Name)
		} else {
			se = statusError(a.agentError(node, err), gr, ri.Name)
			ls.fail(se)
		}
		if se != nil {
			session.failed(int(se.ErrStatus.Code))
		}
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		session.started(resp.StatusCode)
		ls.fail(agentStatus(resp))
		return
	}
	session.started(http.StatusSwitchingProtocols)
	err, sendErr := coalesce(resp.Body, logSocketCoalesce, ls.send)
	switch {
	case sendErr != nil:
	case errors.Is(err, io.EOF):
		ls.end(websocket.CloseNormalClosure, "the log ended")
	default:
		if ctx.Err() == nil {
			a.logger.Warn("log stream from the node broke", "node", node, "error", err)
		}
		a.logSocketEnded(ctx, ls, node, gr, ri.Name)
	}
}

// logSocketEnded closes a socket whose stream ended before the log did,
// as the reason why asks, and returns the Status it sent, if any.
func (a *API) logSocketEnded(ctx context.Context, ls *logSocket, node string, gr schema.GroupResource, name string) *apierrors.StatusError {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, errLogClientGone):
		return nil
	case errors.Is(cause, streams.ErrRevoked):
		se := statusError(cause, gr, name)
		ls.failWith(se, CloseCredentialEnded)
		return se
	case errors.Is(cause, errdefs.ErrUnavailable):
		ls.end(websocket.CloseGoingAway, "the server is shutting down")
		return nil
	}
	se := statusError(fmt.Errorf("node %q stopped answering: %w", node, errNodeUnreachable), gr, name)
	ls.fail(se)
	return se
}

// agentStatus is the Status of a node's refusal: the one it sent, or one
// made of its code and text.
func agentStatus(resp *http.Response) *apierrors.StatusError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err != nil || st.Code == 0 {
		return apierrors.NewGenericServerResponse(resp.StatusCode, "get", schema.GroupResource{Resource: "pods"}, "", string(body), 0, false)
	}
	return &apierrors.StatusError{ErrStatus: st}
}

// logSocket is one upgraded log request.
type logSocket struct {
	conn   *websocket.Conn
	base64 bool
	// ctx ends when the client closes the socket or stops answering
	// (cause errLogClientGone), or when the request's context does.
	ctx    context.Context
	cancel context.CancelCauseFunc
	// readDone is closed when the read loop ends.
	readDone chan struct{}
	stopPing context.CancelFunc
}

// newLogSocket starts the socket's read loop (which answers pings and
// notices the client's close or silence) and pings every pingPeriod.
func newLogSocket(parent context.Context, conn *websocket.Conn, b64 bool, pingPeriod time.Duration) *logSocket {
	ctx, cancel := context.WithCancelCause(parent)
	ls := &logSocket{conn: conn, base64: b64, ctx: ctx, cancel: cancel, readDone: make(chan struct{})}
	conn.SetReadLimit(logSocketReadLimit)
	extend, ping := remotecommand.Keepalive(conn, pingPeriod, logSocketWrite)
	pingCtx, stopPing := context.WithCancel(ctx)
	ls.stopPing = stopPing
	go ping(pingCtx)
	go func() {
		defer close(ls.readDone)
		defer cancel(errLogClientGone)
		for {
			_, r, err := conn.NextReader()
			if err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				return
			}
			extend()
		}
	}()
	return ls
}

// send writes one data message: log bytes as the subprotocol carries
// them.
func (ls *logSocket) send(p []byte) error {
	if err := ls.conn.SetWriteDeadline(time.Now().Add(logSocketWrite)); err != nil {
		return err
	}
	if ls.base64 {
		return ls.conn.WriteMessage(websocket.TextMessage, []byte(base64.StdEncoding.EncodeToString(p)))
	}
	return ls.conn.WriteMessage(websocket.BinaryMessage, p)
}

// fail sends a Status and closes the socket with 4000 + its code.
func (ls *logSocket) fail(se *apierrors.StatusError) {
	ls.failWith(se, CloseStatusBase+int(se.ErrStatus.Code))
}

// failWith sends a Status and closes the socket with code.
func (ls *logSocket) failWith(se *apierrors.StatusError, code int) {
	st := se.Status()
	st.Kind, st.APIVersion = "Status", "v1"
	body, err := json.Marshal(&st)
	if err == nil && ls.conn.SetWriteDeadline(time.Now().Add(logSocketWrite)) == nil {
		// A text message in both subprotocols: with base64 it is the one
		// that starts with "{".
		_ = ls.conn.WriteMessage(websocket.TextMessage, body)
	}
	ls.end(code, st.Message)
}

// end sends a close frame with code and reason, and waits a moment for
// the client's answer.
func (ls *logSocket) end(code int, reason string) {
	msg := websocket.FormatCloseMessage(code, truncateUTF8(reason, maxCloseReason))
	if err := ls.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(logSocketWrite)); err != nil {
		return
	}
	select {
	case <-ls.readDone:
	case <-time.After(logSocketCloseWait):
	}
}

// close stops the pings and drops the connection.
func (ls *logSocket) close() {
	ls.stopPing()
	ls.conn.Close()
	<-ls.readDone
}

// truncateUTF8 cuts s to at most n bytes on a rune boundary.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
