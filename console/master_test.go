package console

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"testing"

	"github.com/berthpaas/berth/backend/testenv"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
	v1 "k8s.io/api/core/v1"
)

// consoleOf serves a console whose API is a real master, reached through a
// reverse proxy: the same requests the console makes in process when it
// is registered on the master's own echo.
func consoleOf(t *testing.T, env *testenv.Env) (*Console, *httptest.Server) {
	t.Helper()
	target, err := url.Parse(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if r.Context().Err() == nil {
			t.Errorf("proxy to the master: %v", err)
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	c := New(Config{API: proxy, Files: testFiles})
	e := echo.New()
	c.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(func() {
		c.Shutdown()
		srv.Close()
	})
	return c, srv
}

func dialAs(t *testing.T, srv *httptest.Server, session string) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(wsURL(srv), dialHeader(srv, session))
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func testPod(name, app string) map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "labels": map[string]string{"app": app}},
		"spec": map[string]any{"containers": []any{map[string]any{
			"name": "web", "image": "registry.example/web:1",
		}}},
	}
}

func createPod(t *testing.T, env *testenv.Env, name, app string) v1.Pod {
	t.Helper()
	resp := env.Do(t, http.MethodPost, "/api/v1/namespaces/demo/pods", env.AdminToken, testPod(name, app))
	if resp.Code != http.StatusCreated {
		t.Fatalf("create pod %q: %d %s", name, resp.Code, resp.Body)
	}
	var p v1.Pod
	resp.JSON(t, &p)
	return p
}

func TestWatchAgainstMaster(t *testing.T) {
	env := testenv.Start(t)
	if resp := env.Do(t, http.MethodPost, "/api/v1/namespaces", env.AdminToken,
		map[string]any{"metadata": map[string]string{"name": "demo"}}); resp.Code != http.StatusCreated {
		t.Fatalf("create namespace: %d %s", resp.Code, resp.Body)
	}
	c, srv := consoleOf(t, env)
	first := createPod(t, env, "before", "web")
	createPod(t, env, "db", "db")

	conn := dialAs(t, srv, env.AdminToken)
	pods := "/api/v1/namespaces/demo/pods"
	web := map[string]string{"labelSelector": "app=web"}

	t.Run("current objects, then changes in order", func(t *testing.T) {
		sendJSON(t, conn, watchMsg("w1", pods, "", web))
		expect(t, conn, "w1 ADDED before")
		createPod(t, env, "p1", "web")
		createPod(t, env, "p2", "db")
		createPod(t, env, "p3", "web")
		expect(t, conn, "w1 ADDED p1", "w1 ADDED p3")
		sendJSON(t, conn, map[string]string{"op": "unwatch", "id": "w1"})
	})
	t.Run("resume from a resourceVersion", func(t *testing.T) {
		p4 := createPod(t, env, "p4", "web")
		createPod(t, env, "p5", "web")
		sendJSON(t, conn, watchMsg("w2", pods, p4.ResourceVersion, web))
		expect(t, conn, "w2 ADDED p5")
		if resp := env.Do(t, http.MethodDelete, pods+"/p4", env.AdminToken, nil); resp.Code != http.StatusOK {
			t.Fatalf("delete: %d %s", resp.Code, resp.Body)
		}
		expect(t, conn, "w2 DELETED p4")
		sendJSON(t, conn, map[string]string{"op": "unwatch", "id": "w2"})
	})
	t.Run("compacted version", func(t *testing.T) {
		last := createPod(t, env, "p6", "web")
		rev, _ := strconv.ParseInt(last.ResourceVersion, 10, 64)
		if _, err := env.Etcd.Compact(t.Context(), rev); err != nil {
			t.Fatal(err)
		}
		sendJSON(t, conn, watchMsg("w3", pods, first.ResourceVersion, nil))
		expectError(t, conn, "w3", http.StatusGone)
	})
	t.Run("another user's project", func(t *testing.T) {
		viewer := dialAs(t, srv, env.CreateUser(t, "outsider", false))
		sendJSON(t, viewer, watchMsg("w1", pods, "", nil))
		expectError(t, viewer, "w1", http.StatusForbidden)
	})
	t.Run("revoked session", func(t *testing.T) {
		_, resp, _ := websocket.DefaultDialer.Dial(wsURL(srv), dialHeader(srv, "not-a-session"))
		if resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("upgrade with an unknown session: %v, want 401", resp)
		}
	})
	t.Run("closing the socket ends its watches", func(t *testing.T) {
		for _, id := range []string{"a", "b", "c"} {
			sendJSON(t, conn, watchMsg(id, pods, "", web))
		}
		for range 3 * 5 { // before, p1, p3, p5 and p6 for each, in some order
			next(t, conn)
		}
		conn.Close()
		waitFor(t, "the watches to end", func() bool { return c.liveWatches.Load() == 0 && c.sessionCount() == 0 })
	})
}
