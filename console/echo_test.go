package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestConsoleOnTheAPIsOwnEcho wires the console as the master does: one
// echo serves both, and the console's API is that echo. The watch handler
// streams as the API's does, through echo's Response.Flush.
func TestConsoleOnTheAPIsOwnEcho(t *testing.T) {
	e := echo.New()
	c := New(Config{API: e, Files: testFiles})
	c.Register(e)
	e.GET("/apis/berth.dev/v1/whoami", func(ec echo.Context) error {
		// The session watch: the caller, then open for the socket's life.
		resp := ec.Response()
		resp.WriteHeader(http.StatusOK)
		json.NewEncoder(resp).Encode(map[string]any{"type": "ADDED", "object": map[string]string{"kind": "WhoAmI", "username": "alice"}})
		resp.Flush()
		<-ec.Request().Context().Done()
		return nil
	})
	e.GET("/api/v1/namespaces/demo/pods", func(ec echo.Context) error {
		resp := ec.Response()
		resp.Header().Set("Content-Type", "application/json")
		resp.WriteHeader(http.StatusOK)
		resp.Flush()
		enc := json.NewEncoder(resp)
		for i := 1; i <= 2; i++ {
			enc.Encode(map[string]any{"type": "ADDED", "object": pod(fmt.Sprintf("web-%d", i), fmt.Sprint(i))})
			resp.Flush()
		}
		<-ec.Request().Context().Done()
		return nil
	})
	e.GET("/api/v1/namespaces/demo/services", func(echo.Context) error {
		panic("handler bug")
	})
	srv := httptest.NewServer(e)
	t.Cleanup(func() {
		c.Shutdown()
		srv.Close()
	})

	conn := dial(t, srv)
	sendJSON(t, conn, watchMsg("w1", "/api/v1/namespaces/demo/pods", "", nil))
	expect(t, conn, "w1 ADDED web-1", "w1 ADDED web-2")
	sendJSON(t, conn, watchMsg("w2", "/api/v1/namespaces/demo/services", "", nil))
	expectError(t, conn, "w2", http.StatusInternalServerError)
	conn.Close()
	waitFor(t, "the watches to end", func() bool { return c.liveWatches.Load() == 0 && c.sessionCount() == 0 })
}
