package console

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/labstack/echo/v4"
)

// TestBrowserAppliesPolicy loads a page in Chromium to check what only a
// browser can: the Content-Security-Policy lets the page's module open the
// watch socket ('self' in connect-src covers ws: to the same host) and
// refuses inline script. The page posts what it saw to /report.
func TestBrowserAppliesPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: starts Chromium; skipped in -short mode")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("browser test: no chromium on PATH (scripts/setup installs it)")
	}
	files := fstest.MapFS{
		"index.html": {Data: []byte(`<!doctype html><html><head><script type="module" src="/static/js/app.js"></script></head>` +
			`<body></body></html>`)},
		"js/app.js": {Data: []byte(`
const seen = ['loaded'];
const report = () => fetch('/report', { method: 'POST', body: seen.join(' ') });
window.inlineRan = false;
const s = document.createElement('script');
s.textContent = 'window.inlineRan = true';
document.body.appendChild(s);
if (window.inlineRan) seen.push('inline-ran');
document.cookie = 'berth_session=` + goodSession + `; path=/';
const ws = new WebSocket('ws://' + location.host + '/console/ws/watch');
ws.onopen = () => {
  seen.push('open');
  ws.send(JSON.stringify({ op: 'watch', id: 'w1', path: '/api/v1/namespaces/demo/pods', query: {}, resourceVersion: '2' }));
};
ws.onmessage = (ev) => { seen.push(JSON.parse(ev.data).type); report(); };
ws.onerror = () => { seen.push('socket-error'); report(); };
`)},
	}
	c := New(Config{API: newFakeAPI(), Files: files})
	e := echo.New()
	c.Register(e)
	reports := make(chan string, 1)
	e.POST("/report", func(ec echo.Context) error {
		body, _ := io.ReadAll(ec.Request().Body)
		select {
		case reports <- string(body):
		default:
		}
		return ec.NoContent(http.StatusNoContent)
	})
	srv := httptest.NewServer(e)
	t.Cleanup(func() {
		c.Shutdown()
		srv.Close()
	})

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--no-first-run", "--user-data-dir="+t.TempDir(), srv.URL+"/")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	defer func() {
		cancel()
		cmd.Wait()
	}()
	select {
	case got := <-reports:
		if strings.Contains(got, "inline-ran") {
			t.Errorf("an inline script ran despite the policy: %q", got)
		}
		if got != "loaded open ADDED" {
			t.Errorf("the page saw %q, want %q (the watch event over the socket)", got, "loaded open ADDED")
		}
	case <-ctx.Done():
		t.Fatalf("the page did not report within a minute; chromium said:\n%s", out.String())
	}
}
