package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/api"
	"github.com/berthpaas/berth/backend/server"
	"github.com/berthpaas/berth/backend/streams"
	"github.com/berthpaas/berth/backend/testenv"
)

// logSocket is a client of a pod's log over a websocket.
type logSocket struct {
	conn     *websocket.Conn
	protocol string
}

// dialLog opens the log websocket of path (under /api/v1/namespaces/...)
// with header (credentials, Origin) and the offered subprotocols. On a
// refused upgrade it returns nil and the answer.
func dialLog(t *testing.T, env *testenv.Env, path string, header http.Header, protocols ...string) (*logSocket, testenv.Response) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: protocols, HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.DialContext(t.Context(), "ws"+strings.TrimPrefix(env.URL, "http")+path, header)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial %s: %v", path, err)
		}
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		return nil, testenv.Response{Code: resp.StatusCode, Body: body.Bytes(), Header: resp.Header}
	}
	t.Cleanup(func() { conn.Close() })
	return &logSocket{conn: conn, protocol: resp.Header.Get("Sec-WebSocket-Protocol")}, testenv.Response{Code: resp.StatusCode, Header: resp.Header}
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// logRead is what a client read from a log socket.
type logRead struct {
	firstEmpty bool
	data       []byte
	status     *metav1.Status
	code       int // close code; 0 if the read stopped first
	reason     string
}

// read reads until the server closes the socket, until stop holds for the
// data so far, or until within passes (which fails t).
func (s *logSocket) read(t *testing.T, within time.Duration, stop func([]byte) bool) logRead {
	t.Helper()
	var out logRead
	s.conn.SetReadDeadline(time.Now().Add(within))
	for i := 0; ; i++ {
		kind, msg, err := s.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				out.code, out.reason = ce.Code, ce.Text
				return out
			}
			t.Fatalf("read after %q: %v", out.data, err)
		}
		if kind == websocket.TextMessage && bytes.HasPrefix(msg, []byte("{")) {
			out.status = new(metav1.Status)
			if err := json.Unmarshal(msg, out.status); err != nil {
				t.Fatalf("status message %q: %v", msg, err)
			}
			continue
		}
		switch {
		case s.protocol == api.LogProtocolBase64 && kind != websocket.TextMessage,
			s.protocol != api.LogProtocolBase64 && kind != websocket.BinaryMessage:
			t.Fatalf("message of type %d under subprotocol %q", kind, s.protocol)
		case s.protocol == api.LogProtocolBase64:
			if msg, err = base64.StdEncoding.DecodeString(string(msg)); err != nil {
				t.Fatalf("not base64: %v", err)
			}
		}
		if i == 0 {
			out.firstEmpty = len(msg) == 0
		}
		out.data = append(out.data, msg...)
		if stop != nil && stop(out.data) {
			return out
		}
	}
}

// A pod's log reads the same over a websocket, under both subprotocols,
// as over HTTP, whatever the query asks; failures come as a Status and a
// close code of 4000 + the HTTP code.
func TestLogSocket(t *testing.T) {
	t.Parallel()
	env, node := startWithNode(t, nil)
	createNamespace(t, env, env.AdminToken, "wslogs")
	runningPod(t, env, env.AdminToken, "wslogs", "web", node)
	base := "/api/v1/namespaces/wslogs/pods/web/log"

	t.Run("the same as over HTTP", func(t *testing.T) {
		queries := []string{
			"", "?tailLines=1", "?tailLines=0", "?timestamps=true", "?sinceSeconds=3600", "?limitBytes=7",
			"?container=web", "?sinceTime=2000-01-01T00:00:00.5Z", "?timestamps=true&tailLines=2&limitBytes=40",
			"?container=nope", "?previous=true", "?tailLines=-1", "?sinceTime=yesterday",
		}
		for _, q := range queries {
			for _, protocol := range []string{api.LogProtocolBinary, api.LogProtocolBase64} {
				t.Run(protocol+q, func(t *testing.T) {
					// The fake container logs a line a second: what the
					// socket read must be what HTTP read just before or
					// just after.
					before := env.Do(t, http.MethodGet, base+q, env.AdminToken, nil)
					s, resp := dialLog(t, env, base+q, bearer(env.AdminToken), protocol)
					if s == nil {
						t.Fatalf("upgrade refused: %d %s", resp.Code, resp.Body)
					}
					if s.protocol != protocol {
						t.Errorf("subprotocol %q, want %q", s.protocol, protocol)
					}
					got := s.read(t, 10*time.Second, nil)
					after := env.Do(t, http.MethodGet, base+q, env.AdminToken, nil)
					if !got.firstEmpty {
						t.Errorf("the first message is not empty")
					}
					if before.Code != http.StatusOK {
						var want metav1.Status
						before.JSON(t, &want)
						if got.code != api.CloseStatusBase+before.Code || got.status == nil || got.status.Message != want.Message || got.status.Code != want.Code {
							t.Errorf("socket ended %d %q with %+v; HTTP answered %d %s", got.code, got.reason, got.status, before.Code, before.Body)
						}
						return
					}
					if got.code != websocket.CloseNormalClosure || got.status != nil {
						t.Errorf("socket ended %d %q (status %+v), want 1000", got.code, got.reason, got.status)
					}
					if !bytes.Equal(got.data, before.Body) && !bytes.Equal(got.data, after.Body) {
						t.Errorf("socket read %q; HTTP read %q, then %q", got.data, before.Body, after.Body)
					}
				})
			}
		}
	})

	t.Run("follow", func(t *testing.T) {
		s, resp := dialLog(t, env, base+"?follow=true&tailLines=1", bearer(env.AdminToken), api.LogProtocolBinary)
		if s == nil {
			t.Fatalf("upgrade refused: %d %s", resp.Code, resp.Body)
		}
		// The fake container logs a line a second: a second line is one
		// the follow waited for.
		got := s.read(t, 10*time.Second, func(data []byte) bool { return bytes.Count(data, []byte("\n")) >= 2 })
		if !got.firstEmpty || got.code != 0 {
			t.Fatalf("first empty %t, closed %d %q after %q", got.firstEmpty, got.code, got.reason, got.data)
		}
		if n := openStreams(t, env, "log"); n != 1 {
			t.Errorf("%d log streams open, want the socket's", n)
		}
		s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		waitUntil(t, 10*time.Second, "the closed socket's stream to end", func() bool { return openStreams(t, env, "log") == 0 })
	})

	t.Run("subprotocols", func(t *testing.T) {
		s, resp := dialLog(t, env, base, bearer(env.AdminToken))
		if s == nil || s.protocol != "" || resp.Header.Get("Sec-WebSocket-Protocol") != "" {
			t.Fatalf("no subprotocol offered: %d %q", resp.Code, resp.Header.Get("Sec-WebSocket-Protocol"))
		}
		if got := s.read(t, 10*time.Second, nil); got.code != websocket.CloseNormalClosure || !bytes.Contains(got.data, []byte("fake container")) {
			t.Errorf("binary by default: %d %q", got.code, got.data)
		}
		s, _ = dialLog(t, env, base, bearer(env.AdminToken), "v4.channel.k8s.io", api.LogProtocolBase64, api.LogProtocolBinary)
		if s == nil || s.protocol != api.LogProtocolBase64 {
			t.Errorf("the first offered that the server knows: got %+v", s)
		}
		_, resp = dialLog(t, env, base, bearer(env.AdminToken), "v4.channel.k8s.io")
		status := authnStatus(t, resp, http.StatusBadRequest, metav1.StatusReasonBadRequest)
		if !strings.Contains(status.Message, api.LogProtocolBinary) {
			t.Errorf("the refusal does not say what the server speaks: %q", status.Message)
		}
	})
}

// Who may read a pod's log over HTTP may read it over a websocket, and no
// one else: a viewer of another project is refused, and so is a page of
// another origin that makes the browser send a user's session cookie.
func TestLogSocketAccess(t *testing.T) {
	t.Parallel()
	env, node := startWithNode(t, nil)
	alice := env.CreateUser(t, "alice", false)
	env.CreateUser(t, "vera", false)
	env.CreateUser(t, "otto", false)
	createNamespace(t, env, alice, "mine")
	runningPod(t, env, alice, "mine", "web", node)
	authzAddMember(t, env, alice, "mine", "vera", "view")
	createNamespace(t, env, env.AdminToken, "theirs")
	authzAddMember(t, env, env.AdminToken, "theirs", "otto", "view")
	vera := env.Login(t, "vera", authnPassword)
	otto := env.Login(t, "otto", authnPassword)
	follow := "/api/v1/namespaces/mine/pods/web/log?follow=true"
	cookie := func(session, origin string) http.Header {
		h := http.Header{"Cookie": {api.SessionCookie + "=" + session}}
		if origin != "" {
			h.Set("Origin", origin)
		}
		return h
	}
	same := env.URL

	tests := []struct {
		name   string
		header http.Header
		code   int
	}{
		{"a viewer of the project, by token", bearer(vera), http.StatusSwitchingProtocols},
		{"a viewer of the project, from the console", cookie(vera, same), http.StatusSwitchingProtocols},
		{"a viewer of another project", bearer(otto), http.StatusForbidden},
		{"a viewer of another project, from the console", cookie(otto, same), http.StatusForbidden},
		{"another site's page with the viewer's cookie", cookie(vera, "http://evil.example"), http.StatusForbidden},
		{"another port's page with the owner's cookie", cookie(env.Login(t, "alice", authnPassword), "http://127.0.0.1:1"), http.StatusForbidden},
		{"no credentials", http.Header{}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, resp := dialLog(t, env, follow, tt.header, api.LogProtocolBinary)
			if resp.Code != tt.code {
				t.Fatalf("upgrade answered %d %s, want %d", resp.Code, resp.Body, tt.code)
			}
			if s == nil {
				return
			}
			got := s.read(t, 10*time.Second, func(data []byte) bool { return bytes.Contains(data, []byte("fake container")) })
			if got.code != 0 {
				t.Errorf("the log did not come: closed %d %q, status %+v", got.code, got.reason, got.status)
			}
		})
	}
}

// A log follow over a websocket is a log stream like one over HTTP: it
// counts against the user's limit (a refusal is told on the socket, with
// when to retry), it is audited, and it ends when its credential is
// revoked, with a close that says not to reconnect.
func TestLogSocketStreams(t *testing.T) {
	t.Parallel()
	env, node := startWithNode(t, func(cfg *server.Config) {
		cfg.StreamLimits = streams.Limits{PerUser: map[streams.Kind]int{streams.Log: 1}}
	})
	alice := env.CreateUser(t, "alice", false)
	createNamespace(t, env, alice, "limited")
	runningPod(t, env, alice, "limited", "web", node)
	follow := "/api/v1/namespaces/limited/pods/web/log?follow=true"
	resp := env.Do(t, http.MethodPost, "/apis/berth.dev/v1/tokens", alice,
		map[string]any{"metadata": map[string]string{"name": "laptop"}, "spec": map[string]string{"ttl": "1h"}})
	mustCode(t, resp, http.StatusCreated)
	var tok authnToken
	resp.JSON(t, &tok)
	laptop := tok.Status.Secret

	first, resp := dialLog(t, env, follow, bearer(laptop), api.LogProtocolBase64)
	if first == nil {
		t.Fatalf("upgrade refused: %d %s", resp.Code, resp.Body)
	}
	first.read(t, 10*time.Second, func(data []byte) bool { return len(data) > 0 })

	t.Run("past the limit", func(t *testing.T) {
		second, _ := dialLog(t, env, follow, bearer(alice), api.LogProtocolBase64)
		got := second.read(t, 10*time.Second, nil)
		if got.code != api.CloseStatusBase+http.StatusTooManyRequests || got.status == nil ||
			got.status.Details == nil || got.status.Details.RetryAfterSeconds < 1 || !strings.Contains(got.status.Message, "log") {
			t.Errorf("second follow ended %d %q with %+v, want 4429 and a Status with retryAfterSeconds", got.code, got.reason, got.status)
		}
		if http := streamGet(t, env, follow, alice); http.code != 429 {
			t.Errorf("an HTTP follow beside the socket: %d, want 429", http.code)
		}
	})

	t.Run("revoked", func(t *testing.T) {
		mustCode(t, env.Do(t, http.MethodDelete, "/apis/berth.dev/v1/tokens/laptop", alice, nil), http.StatusOK)
		got := first.read(t, 10*time.Second, nil)
		if got.code != api.CloseCredentialEnded || got.status == nil || got.status.Code != http.StatusUnauthorized {
			t.Errorf("the revoked token's socket ended %d %q with %+v, want 4001 after a 401 Status", got.code, got.reason, got.status)
		}
	})

	t.Run("audited", func(t *testing.T) {
		var rows []auditRow
		waitUntil(t, 10*time.Second, "the audit entries", func() bool {
			rows = streamAudit(t, env, "alice")
			return len(rows) >= 2
		})
		var started, ended bool
		for _, r := range rows {
			switch {
			case r.Resource == "pods/log" && r.Stage == "ResponseStarted" && r.Code == http.StatusSwitchingProtocols:
				started = true
			case r.Resource == "pods/log" && r.Stage == "ResponseComplete" && strings.Contains(r.Details, "credential revoked"):
				ended = true
			}
		}
		if !started || !ended {
			t.Errorf("audit entries %+v, want the socket's start (101) and its end by revocation", rows)
		}
	})
}
