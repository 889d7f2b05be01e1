package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// session is one watch websocket and what it started.
type session struct {
	console *Console
	req     *http.Request // the upgrade request: its credentials go on every watch
	logger  *slog.Logger
	ctx     context.Context // ends with the socket
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the socket's goroutines: watches and pinger

	writeMu sync.Mutex // serializes data frames on conn

	mu sync.Mutex // guards conn and watches
	// conn is set by run before the first message is read, hence before
	// any send; goAway, which may come earlier, reads it under mu.
	conn    *websocket.Conn
	watches map[string]*watch // by the client's id
}

// watch is one API watch of a session.
type watch struct {
	id     string
	ctx    context.Context // ends on unwatch, on a new watch with the same id, or with the socket
	cancel context.CancelFunc
}

// clientMessage is what the browser sends.
type clientMessage struct {
	Op              string            `json:"op"` // "watch" or "unwatch"
	ID              string            `json:"id"`
	Path            string            `json:"path"`
	Query           map[string]string `json:"query"`
	ResourceVersion string            `json:"resourceVersion"`
}

// serverMessage is what the browser receives: a watch event of the API
// (ADDED, MODIFIED, DELETED, ERROR with a Status), or CLOSED.
type serverMessage struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Object any    `json:"object,omitempty"`
}

const (
	typeError  = "ERROR"
	typeClosed = "CLOSED"
)

// run serves the socket until it closes, or until held ends (the session
// was revoked), then ends every watch and waits for the goroutines of the
// socket.
func (s *session) run(conn *websocket.Conn, held *sessionHold) {
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	defer conn.Close()
	defer s.wg.Wait()
	defer s.cancel()
	// Whatever ends the socket's context (Shutdown, a failed write) also
	// ends the read below.
	stop := context.AfterFunc(s.ctx, func() { conn.Close() })
	defer stop()

	conn.SetReadLimit(maxMessage)
	conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })
	s.wg.Add(2)
	go s.ping(conn)
	go s.watchSession(conn, held)
	s.logger.Debug("watch socket open")
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			s.logger.Debug("watch socket closed", "error", err)
			return
		}
		conn.SetReadDeadline(time.Now().Add(pongWait))
		s.handle(data)
	}
}

// closeSessionEnded is the close code of a socket whose session ended
// (logout, password change, token revoked, user deleted): the browser
// asks whoami, gets 401 and shows the sign-in page.
const closeSessionEnded = 4001

// watchSession reads the session watch until it ends. If the socket is
// still open then, the session is over (the socket closes 4001) when the
// API says so; otherwise the watch ended with the server (a master
// stopping ends its streams before the console says goodbye), and the
// socket closes as going away, for the browser to reconnect.
func (s *session) watchSession(conn *websocket.Conn, held *sessionHold) {
	defer s.wg.Done()
	io.Copy(io.Discard, held.resp.body)
	if s.ctx.Err() != nil {
		return
	}
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "the session watch ended: reconnect")
	if s.sessionEnded() {
		s.logger.Info("session ended: closing its socket")
		msg = websocket.FormatCloseMessage(closeSessionEnded, "session ended")
	}
	conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeTimeout))
	s.cancel()
}

// sessionEnded asks the API whether the socket's credentials still hold:
// only a 401 says they do not.
func (s *session) sessionEnded() bool {
	ctx, cancel := context.WithTimeout(s.ctx, authTimeout)
	defer cancel()
	req, err := apiRequest(ctx, s.req, "/apis/berth.dev/v1/whoami")
	if err != nil {
		return false
	}
	resp, err := s.console.serveAPI(ctx, req)
	if err != nil {
		return false
	}
	defer resp.Close()
	return resp.code == http.StatusUnauthorized
}

// goAway tells the browser the server is going away and ends the socket.
func (s *session) goAway() {
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn != nil {
		msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down")
		conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeTimeout))
	}
	s.cancel()
}

func (s *session) ping(conn *websocket.Conn) {
	defer s.wg.Done()
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				s.cancel()
				return
			}
		}
	}
}

// handle acts on one message of the browser.
func (s *session) handle(data []byte) {
	var m clientMessage
	if err := json.Unmarshal(data, &m); err != nil {
		s.send(s.ctx, serverMessage{ID: m.ID, Type: typeError,
			Object: newStatus(http.StatusBadRequest, metav1.StatusReasonBadRequest, "malformed message: "+err.Error())})
		return
	}
	if m.ID == "" || len(m.ID) > maxWatchID {
		s.send(s.ctx, serverMessage{ID: m.ID, Type: typeError,
			Object: newStatus(http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("a message needs an id of 1 to %d characters", maxWatchID))})
		return
	}
	switch m.Op {
	case "watch":
		s.startWatch(m)
	case "unwatch":
		s.stopWatch(m.ID)
	default:
		s.send(s.ctx, serverMessage{ID: m.ID, Type: typeError,
			Object: newStatus(http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("unknown op %q: want watch or unwatch", m.Op))})
	}
}

// watchTarget is the API request of a watch message, or an error saying
// why the message is refused.
func watchTarget(m clientMessage) (string, error) {
	p := m.Path
	if !strings.HasPrefix(p, "/api/") && !strings.HasPrefix(p, "/apis/") {
		return "", fmt.Errorf("path %q refused: only /api/ and /apis/ paths can be watched", p)
	}
	if len(p) > 1024 || path.Clean(p) != p || strings.ContainsAny(p, "?#%") {
		return "", fmt.Errorf("path %q refused: not a clean API path", p)
	}
	q := url.Values{}
	for k, v := range m.Query {
		q.Set(k, v)
	}
	q.Set("watch", "1")
	q.Del("resourceVersion")
	if m.ResourceVersion != "" {
		q.Set("resourceVersion", m.ResourceVersion)
	}
	return p + "?" + q.Encode(), nil
}

// startWatch starts the watch of m, replacing one with the same id (the
// browser re-watches under the same id after CLOSED or a 410).
func (s *session) startWatch(m clientMessage) {
	target, err := watchTarget(m)
	if err != nil {
		s.send(s.ctx, serverMessage{ID: m.ID, Type: typeError,
			Object: newStatus(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())})
		return
	}
	s.mu.Lock()
	if old, ok := s.watches[m.ID]; ok {
		old.cancel()
		delete(s.watches, m.ID)
	}
	if len(s.watches) >= maxWatches {
		s.mu.Unlock()
		s.send(s.ctx, serverMessage{ID: m.ID, Type: typeError,
			Object: newStatus(http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests, fmt.Sprintf("at most %d watches per socket", maxWatches))})
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	w := &watch{id: m.ID, ctx: ctx, cancel: cancel}
	s.watches[m.ID] = w
	s.mu.Unlock()

	// The read loop, the only caller, adds before run waits.
	s.wg.Add(1)
	s.console.liveWatches.Add(1)
	go s.runWatch(w, target)
}

func (s *session) stopWatch(id string) {
	s.mu.Lock()
	if w, ok := s.watches[id]; ok {
		w.cancel()
		delete(s.watches, id)
	}
	s.mu.Unlock()
}

// release forgets w unless a newer watch has taken its id.
func (s *session) release(w *watch) {
	w.cancel()
	s.mu.Lock()
	if s.watches[w.id] == w {
		delete(s.watches, w.id)
	}
	s.mu.Unlock()
}

// runWatch makes the API request of w and forwards its events until the
// stream ends or w is cancelled.
func (s *session) runWatch(w *watch, target string) {
	defer s.wg.Done()
	defer s.console.liveWatches.Add(-1)
	defer s.release(w)
	logger := s.logger.With("watch_id", w.id, "target", target)
	req, err := apiRequest(w.ctx, s.req, target)
	if err != nil {
		s.send(w.ctx, serverMessage{ID: w.id, Type: typeError,
			Object: newStatus(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())})
		return
	}
	resp, err := s.console.serveAPI(w.ctx, req)
	if err != nil {
		return // cancelled before the API answered
	}
	defer resp.Close()
	if resp.code != http.StatusOK {
		s.send(w.ctx, serverMessage{ID: w.id, Type: typeError, Object: readStatus(resp)})
		return
	}
	dec := json.NewDecoder(resp.body)
	for {
		var ev struct {
			Type   string          `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			switch {
			case w.ctx.Err() != nil:
			case errors.Is(err, io.EOF):
				s.send(w.ctx, serverMessage{ID: w.id, Type: typeClosed})
			default:
				logger.Warn("watch stream broke", "error", err)
				s.send(w.ctx, serverMessage{ID: w.id, Type: typeError,
					Object: newStatus(http.StatusInternalServerError, metav1.StatusReasonInternalError, "the watch stream broke: "+err.Error())})
			}
			return
		}
		if !s.send(w.ctx, serverMessage{ID: w.id, Type: ev.Type, Object: ev.Object}) {
			return
		}
		if ev.Type == typeError {
			return // the API ends a watch after an error; the browser decides what next
		}
	}
}

// send writes msg unless ctx has ended (the watch was stopped or replaced:
// the browser no longer wants its events). A failed write ends the socket.
func (s *session) send(ctx context.Context, msg serverMessage) bool {
	data, err := json.Marshal(msg)
	if err != nil {
		s.logger.Error("encode watch message", "error", err)
		return false
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if ctx.Err() != nil {
		return false
	}
	s.conn.SetWriteDeadline(time.Now().Add(writeWait))
	if err := s.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		s.cancel()
		return false
	}
	return true
}
