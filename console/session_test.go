package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// received is a message of the watch socket as the browser reads it.
type received struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

func (m received) name() string {
	var obj metav1.PartialObjectMetadata
	json.Unmarshal(m.Object, &obj)
	return obj.Name
}

func (m received) status() metav1.Status {
	var st metav1.Status
	json.Unmarshal(m.Object, &st)
	return st
}

func wsURL(srv *httptest.Server) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/console/ws/watch"
}

// dialHeader is what a page of srv sends: its origin and the session.
func dialHeader(srv *httptest.Server, session string) http.Header {
	h := http.Header{}
	h.Set("Origin", srv.URL)
	if session != "" {
		h.Set("Cookie", sessionCookie+"="+session)
	}
	return h
}

func dial(t *testing.T, srv *httptest.Server) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(wsURL(srv), dialHeader(srv, goodSession))
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func sendJSON(t *testing.T, conn *websocket.Conn, v any) {
	t.Helper()
	if err := conn.WriteJSON(v); err != nil {
		t.Fatal(err)
	}
}

func watchMsg(id, path, rv string, query map[string]string) map[string]any {
	return map[string]any{"op": "watch", "id": id, "path": path, "resourceVersion": rv, "query": query}
}

func next(t *testing.T, conn *websocket.Conn) received {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m received
	if err := conn.ReadJSON(&m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

// expect reads messages and checks them as "id TYPE name" lines.
func expect(t *testing.T, conn *websocket.Conn, want ...string) {
	t.Helper()
	for _, w := range want {
		m := next(t, conn)
		got := strings.TrimSpace(fmt.Sprintf("%s %s %s", m.ID, m.Type, m.name()))
		if got != w {
			t.Fatalf("got %q (%s), want %q", got, m.Object, w)
		}
	}
}

func expectError(t *testing.T, conn *websocket.Conn, id string, code int32) metav1.Status {
	t.Helper()
	m := next(t, conn)
	if m.ID != id || m.Type != "ERROR" {
		t.Fatalf("got %s %s %s, want %s ERROR", m.ID, m.Type, m.Object, id)
	}
	st := m.status()
	if st.Kind != "Status" || st.Code != code {
		t.Fatalf("ERROR object %s, want a Status with code %d", m.Object, code)
	}
	return st
}

func TestWatchRefusesUpgrade(t *testing.T) {
	c, srv := newTestConsole(t, Config{AllowedOrigins: []string{"https://console.example.com"}})
	tests := []struct {
		name    string
		origin  string
		session string
		code    int
	}{
		{"no origin", "", goodSession, http.StatusForbidden},
		{"other site", "https://evil.example.com", goodSession, http.StatusForbidden},
		{"other port", "http://127.0.0.1:1", goodSession, http.StatusForbidden},
		{"other scheme", "https" + strings.TrimPrefix(srv.URL, "http"), goodSession, http.StatusForbidden},
		{"no session", srv.URL, "", http.StatusUnauthorized},
		{"dead session", srv.URL, "expired", http.StatusUnauthorized},
		{"allowed origin", "https://console.example.com", goodSession, http.StatusSwitchingProtocols},
		{"own origin", srv.URL, goodSession, http.StatusSwitchingProtocols},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := dialHeader(srv, tt.session)
			if tt.origin == "" {
				h.Del("Origin")
			} else {
				h.Set("Origin", tt.origin)
			}
			conn, resp, err := websocket.DefaultDialer.Dial(wsURL(srv), h)
			if conn != nil {
				conn.Close()
			}
			if resp == nil {
				t.Fatalf("no answer: %v", err)
			}
			if resp.StatusCode != tt.code {
				t.Fatalf("upgrade: %d, want %d", resp.StatusCode, tt.code)
			}
			if tt.code != http.StatusSwitchingProtocols {
				checkSecurityHeaders(t, resp.Header)
			}
		})
	}
	t.Run("after shutdown", func(t *testing.T) {
		c.Shutdown()
		_, resp, _ := websocket.DefaultDialer.Dial(wsURL(srv), dialHeader(srv, goodSession))
		if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("upgrade after Shutdown: %v, want 503", resp)
		}
	})
}

func TestWatchForwardsEventsInOrder(t *testing.T) {
	api := newFakeAPI()
	_, srv := newTestConsole(t, Config{API: api})
	conn := dial(t, srv)
	sendJSON(t, conn, watchMsg("w1", "/api/v1/namespaces/demo/pods", "", map[string]string{"labelSelector": "app=web", "watch": "0"}))
	expect(t, conn, "w1 ADDED web-1", "w1 ADDED web-2", "w1 ADDED web-3")
	api.append("MODIFIED", "web-2")
	api.append("DELETED", "web-1")
	expect(t, conn, "w1 MODIFIED web-2", "w1 DELETED web-1")

	reqs := api.watchRequests()
	if len(reqs) != 1 {
		t.Fatalf("%d watch requests, want 1", len(reqs))
	}
	q := reqs[0].URL.Query()
	if q.Get("labelSelector") != "app=web" || q.Get("watch") != "1" || q.Has("resourceVersion") {
		t.Errorf("API request query %q: want labelSelector=app=web, watch=1 and no resourceVersion", reqs[0].URL.RawQuery)
	}
	if reqs[0].Header.Get("Origin") != "" {
		t.Errorf("the API request carries the page's Origin %q", reqs[0].Header.Get("Origin"))
	}
}

func TestWatchResumesFromResourceVersion(t *testing.T) {
	api := newFakeAPI()
	_, srv := newTestConsole(t, Config{API: api})
	conn := dial(t, srv)
	sendJSON(t, conn, watchMsg("w1", "/api/v1/namespaces/demo/pods", "2", nil))
	expect(t, conn, "w1 ADDED web-3")
	api.append("MODIFIED", "web-3")
	expect(t, conn, "w1 MODIFIED web-3")
	if got := api.watchRequests()[0].URL.Query().Get("resourceVersion"); got != "2" {
		t.Errorf("resourceVersion sent to the API = %q, want 2", got)
	}
}

func TestWatchErrors(t *testing.T) {
	api := newFakeAPI()
	api.compactedBelow = 2
	_, srv := newTestConsole(t, Config{API: api})
	conn := dial(t, srv)

	t.Run("gone", func(t *testing.T) {
		sendJSON(t, conn, watchMsg("w1", "/api/v1/namespaces/demo/pods", "1", nil))
		if st := expectError(t, conn, "w1", http.StatusGone); st.Reason != metav1.StatusReasonExpired {
			t.Errorf("reason %q, want Expired", st.Reason)
		}
		// The browser starts over under the same id.
		sendJSON(t, conn, watchMsg("w1", "/api/v1/namespaces/demo/pods", "", nil))
		expect(t, conn, "w1 ADDED web-1", "w1 ADDED web-2", "w1 ADDED web-3")
		sendJSON(t, conn, map[string]string{"op": "unwatch", "id": "w1"})
	})
	t.Run("forbidden", func(t *testing.T) {
		sendJSON(t, conn, watchMsg("w2", "/api/v1/namespaces/other/pods", "", nil))
		expectError(t, conn, "w2", http.StatusForbidden)
	})
	t.Run("error event ends the stream without CLOSED", func(t *testing.T) {
		sendJSON(t, conn, watchMsg("w3", "/api/v1/namespaces/demo/events", "", nil))
		expect(t, conn, "w3 ADDED e")
		expectError(t, conn, "w3", http.StatusGone)
		// The next message is for another watch: no CLOSED came for w3.
		sendJSON(t, conn, watchMsg("w4", "/api/v1/namespaces/other/pods", "", nil))
		expectError(t, conn, "w4", http.StatusForbidden)
	})
	t.Run("refused messages", func(t *testing.T) {
		for _, tt := range []struct {
			msg  string
			id   string
			code int32
		}{
			{`{"op":"watch","id":"b1","path":"/healthz"}`, "b1", http.StatusBadRequest},
			{`{"op":"watch","id":"b2","path":"/api/v1/../../auth/logout"}`, "b2", http.StatusBadRequest},
			{`{"op":"watch","id":"b3","path":"/api/v1/pods?x=1"}`, "b3", http.StatusBadRequest},
			{`{"op":"list","id":"b4"}`, "b4", http.StatusBadRequest},
			{`{"op":"watch","path":"/api/v1/pods"}`, "", http.StatusBadRequest},
			{`{"op":"watch","id":"b6","query":{"x":1}}`, "b6", http.StatusBadRequest},
			{`not json`, "", http.StatusBadRequest},
		} {
			if err := conn.WriteMessage(websocket.TextMessage, []byte(tt.msg)); err != nil {
				t.Fatal(err)
			}
			expectError(t, conn, tt.id, tt.code)
		}
	})
}

func TestWatchClosedStreamAndRewatch(t *testing.T) {
	_, srv := newTestConsole(t, Config{})
	conn := dial(t, srv)
	sendJSON(t, conn, watchMsg("s", "/api/v1/namespaces/demo/services", "", nil))
	expect(t, conn, "s ADDED a", "s ADDED b", "s CLOSED")
	sendJSON(t, conn, watchMsg("s", "/api/v1/namespaces/demo/services", "", nil))
	expect(t, conn, "s ADDED a", "s ADDED b", "s CLOSED")
}

func TestUnwatch(t *testing.T) {
	api := newFakeAPI()
	c, srv := newTestConsole(t, Config{API: api})
	conn := dial(t, srv)
	sendJSON(t, conn, watchMsg("w1", "/api/v1/namespaces/demo/pods", "3", nil))
	sendJSON(t, conn, watchMsg("w2", "/api/v1/namespaces/demo/pods", "3", nil))
	waitFor(t, "two API watches", func() bool { return api.live.Load() == 2 })
	sendJSON(t, conn, map[string]string{"op": "unwatch", "id": "w1"})
	waitFor(t, "the unwatched API request to end", func() bool { return api.live.Load() == 1 && c.liveWatches.Load() == 1 })
	api.append("ADDED", "web-4")
	expect(t, conn, "w2 ADDED web-4")
	sendJSON(t, conn, map[string]string{"op": "unwatch", "id": "w2"})
	sendJSON(t, conn, map[string]string{"op": "unwatch", "id": "never-watched"})
	waitFor(t, "no watch left", func() bool { return api.live.Load() == 0 && c.liveWatches.Load() == 0 })
}

func TestWatchLimit(t *testing.T) {
	api := newFakeAPI()
	_, srv := newTestConsole(t, Config{API: api})
	conn := dial(t, srv)
	for i := range maxWatches {
		sendJSON(t, conn, watchMsg(fmt.Sprintf("w%d", i), "/api/v1/namespaces/demo/pods", "3", nil))
	}
	// Replacing a watch under its own id is not a new one.
	sendJSON(t, conn, watchMsg("w0", "/api/v1/namespaces/demo/pods", "3", nil))
	sendJSON(t, conn, watchMsg("one-too-many", "/api/v1/namespaces/demo/pods", "3", nil))
	expectError(t, conn, "one-too-many", http.StatusTooManyRequests)
	waitFor(t, "the API watches", func() bool { return api.live.Load() == maxWatches })
}

func TestWatchMessageSizeLimit(t *testing.T) {
	c, srv := newTestConsole(t, Config{})
	conn := dial(t, srv)
	sendJSON(t, conn, watchMsg("w1", "/api/v1/namespaces/demo/pods", "3", nil))
	big := watchMsg("w2", "/api/v1/namespaces/demo/pods", "", map[string]string{"labelSelector": strings.Repeat("a", maxMessage)})
	sendJSON(t, conn, big)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("after an oversized message: %v, want close 1009", err)
	}
	waitFor(t, "the socket's watches to end", func() bool { return c.liveWatches.Load() == 0 })
}

// TestWatchSocketCloseLeavesNothing closes sockets with live watches, as a
// closed tab or a lost network does, and checks that every goroutine the
// socket started has ended.
func TestWatchSocketCloseLeavesNothing(t *testing.T) {
	tests := []struct {
		name  string
		close func(conn *websocket.Conn)
	}{
		{"close frame", func(conn *websocket.Conn) {
			conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "tab closed"))
			conn.Close()
		}},
		{"connection dropped", func(conn *websocket.Conn) { conn.Close() }},
		{"half closed", func(conn *websocket.Conn) { conn.NetConn().(*net.TCPConn).CloseWrite() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI()
			c, srv := newTestConsole(t, Config{API: api})
			get(t, srv.URL+"/") // the server's goroutines for plain requests exist before the baseline
			http.DefaultClient.CloseIdleConnections()
			baseline := runtime.NumGoroutine()

			conn := dial(t, srv)
			const watches = 8
			for i := range watches {
				sendJSON(t, conn, watchMsg(fmt.Sprintf("w%d", i), "/api/v1/namespaces/demo/pods", "2", nil))
			}
			sendJSON(t, conn, watchMsg("ended", "/api/v1/namespaces/demo/services", "", nil))
			for range watches + 3 {
				next(t, conn)
			}
			waitFor(t, "the API watches to start", func() bool { return api.live.Load() == watches })
			if n := runtime.NumGoroutine(); n < baseline+watches {
				t.Fatalf("%d goroutines with %d watches open, baseline %d: the test does not see the watches", n, watches, baseline)
			}
			tt.close(conn)
			waitFor(t, "every watch to end", func() bool {
				return c.liveWatches.Load() == 0 && api.live.Load() == 0 && api.holds.Load() == 0 && c.sessionCount() == 0
			})
			waitFor(t, fmt.Sprintf("goroutines back to the baseline of %d", baseline), func() bool {
				return runtime.NumGoroutine() <= baseline
			})
		})
	}
}

func TestShutdownEndsSockets(t *testing.T) {
	api := newFakeAPI()
	c, srv := newTestConsole(t, Config{API: api})
	conns := []*websocket.Conn{dial(t, srv), dial(t, srv)}
	for _, conn := range conns {
		sendJSON(t, conn, watchMsg("w1", "/api/v1/namespaces/demo/pods", "3", nil))
	}
	waitFor(t, "the API watches", func() bool { return api.live.Load() == 2 })
	c.Shutdown()
	if n := c.liveWatches.Load(); n != 0 {
		t.Errorf("%d watches left after Shutdown", n)
	}
	for _, conn := range conns {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := conn.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Errorf("after Shutdown the browser reads %v, want close 1001", err)
		}
	}
	waitFor(t, "the API watches to end", func() bool { return api.live.Load() == 0 })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			if strings.Contains(what, "goroutines") {
				buf := make([]byte, 1<<20)
				t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
