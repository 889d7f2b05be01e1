package console

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/server"
	"github.com/berthpaas/berth/backend/streams"
	"github.com/berthpaas/berth/backend/testenv"
	"github.com/gorilla/websocket"
)

// expectClosed reads until the socket closes and checks the close code.
func expectClosed(t *testing.T, conn *websocket.Conn, code int) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := conn.ReadMessage()
		if err == nil {
			continue // events still in flight
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code {
			t.Fatalf("the socket ended with %v, want close %d", err, code)
		}
		return
	}
}

// A socket lived on after its session was revoked. Now the session watch
// it holds ends with the session, and the socket closes (4001), its
// watches with it.
func TestSessionEndClosesTheSocket(t *testing.T) {
	api := newFakeAPI()
	c, srv := newTestConsole(t, Config{API: api})
	conn := dial(t, srv)
	sendJSON(t, conn, watchMsg("w1", "/api/v1/namespaces/demo/pods", "3", nil))
	waitFor(t, "the watch and the session watch", func() bool { return api.live.Load() == 1 && api.holds.Load() == 1 })
	api.endSession()
	expectClosed(t, conn, closeSessionEnded)
	waitFor(t, "everything the socket held to end", func() bool {
		return c.liveWatches.Load() == 0 && api.live.Load() == 0 && api.holds.Load() == 0 && c.sessionCount() == 0
	})
}

// A master stopping ends its streams, the session watch among them,
// before the console says goodbye: the socket closed 4001 then, and the
// page took the session for over and stopped reconnecting. Only a session
// the API refuses closes it 4001; otherwise it goes away (1001) and the
// browser reconnects.
func TestSessionWatchEndingWithTheServer(t *testing.T) {
	api := newFakeAPI()
	_, srv := newTestConsole(t, Config{API: api})
	conn := dial(t, srv)
	waitFor(t, "the session watch", func() bool { return api.holds.Load() == 1 })
	api.endHolds()
	expectClosed(t, conn, websocket.CloseGoingAway)
}

// dialRefused dials and expects the upgrade to be refused with code.
func dialRefused(t *testing.T, url string, header http.Header, code int) *http.Response {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(url, header)
	if err == nil {
		conn.Close()
		t.Fatalf("the upgrade succeeded, want %d", code)
	}
	if resp == nil || resp.StatusCode != code {
		t.Fatalf("upgrade: %v (%v), want %d", err, resp, code)
	}
	return resp
}

// Against a real master: sockets and their multiplexed watches count
// against the user's limits (429 with Retry-After past them, a slot freed
// when a socket closes), and logging out closes the sockets of the
// session at once.
func TestSocketsAgainstMasterLimits(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Configure: func(cfg *server.Config) {
		cfg.StreamLimits = streams.Limits{PerUser: map[streams.Kind]int{streams.Console: 1, streams.Watch: 2}}
	}})
	c, srv := consoleOf(t, env)
	alice := env.CreateUser(t, "alice", false)
	if resp := env.Do(t, http.MethodPost, "/api/v1/namespaces", alice, map[string]any{"metadata": map[string]string{"name": "alices"}}); resp.Code != http.StatusCreated {
		t.Fatalf("create namespace: %d %s", resp.Code, resp.Body)
	}
	pods := "/api/v1/namespaces/alices/pods"

	conn := dialAs(t, srv, alice)
	outer := t
	t.Run("a second socket is past the limit of one", func(t *testing.T) {
		resp := dialRefused(t, wsURL(srv), dialHeader(srv, alice), http.StatusTooManyRequests)
		if resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	})
	t.Run("the socket's watches count against the user's", func(t *testing.T) {
		// Each watch the API accepts starts with a bookmark.
		bookmarks := map[string]string{"allowWatchBookmarks": "true"}
		sendJSON(t, conn, watchMsg("w1", pods, "", bookmarks))
		sendJSON(t, conn, watchMsg("w2", pods, "", bookmarks))
		for range 2 {
			if m := next(t, conn); m.Type != "BOOKMARK" {
				t.Fatalf("got %s %s %s, want the bookmarks of w1 and w2", m.ID, m.Type, m.Object)
			}
		}
		sendJSON(t, conn, watchMsg("w3", pods, "", nil))
		st := expectError(t, conn, "w3", http.StatusTooManyRequests)
		if !strings.Contains(st.Message, "alice") {
			t.Errorf("the refusal does not say whose limit: %q", st.Message)
		}
		// Another user is not held back by alice's watches.
		other := dialAs(t, srv, env.AdminToken)
		sendJSON(t, other, watchMsg("a1", "/api/v1/namespaces/default/pods", "", bookmarks))
		sendJSON(t, other, watchMsg("a2", "/api/v1/namespaces/default/pods", "", bookmarks))
		for range 2 {
			if m := next(t, other); m.Type != "BOOKMARK" {
				t.Fatalf("got %s %s %s, want the bookmarks of a1 and a2", m.ID, m.Type, m.Object)
			}
		}
		other.Close()
	})
	t.Run("closing the socket frees its slot", func(t *testing.T) {
		conn.Close()
		var again *websocket.Conn
		waitFor(t, "a new socket to be accepted", func() bool {
			var err error
			again, _, err = websocket.DefaultDialer.Dial(wsURL(srv), dialHeader(srv, alice))
			return err == nil
		})
		conn = again
		outer.Cleanup(func() { again.Close() })
	})
	t.Run("logout closes the session's socket", func(t *testing.T) {
		sendJSON(t, conn, watchMsg("w1", pods, "", nil))
		waitFor(t, "the watch", func() bool { return c.liveWatches.Load() == 1 })
		if resp := env.Do(t, http.MethodPost, "/auth/logout", alice, nil); resp.Code != http.StatusNoContent {
			t.Fatalf("logout: %d %s", resp.Code, resp.Body)
		}
		expectClosed(t, conn, closeSessionEnded)
		waitFor(t, "the socket's watches to end", func() bool { return c.liveWatches.Load() == 0 && c.sessionCount() == 0 })
		dialRefused(t, wsURL(srv), dialHeader(srv, alice), http.StatusUnauthorized)
	})
}
