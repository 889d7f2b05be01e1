package browser

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/berthpaas/berth/frontend"
)

// logViewPage follows the fake log at /api/v1/namespaces/t/pods/p/log
// with the console's LogStream into a <berth-log-view>, as the Logs tab
// does, and offers the test what the view shows.
const logViewPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>log view</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/css/app.css"></head>
<body>
<script type="module">
import { LogStream } from '/static/js/logstream.js';
import '/static/js/ui/logview.js';

window.openLog = () => {
  const view = document.createElement('berth-log-view');
  document.body.append(view);
  const states = [];
  const stream = new LogStream('/api/v1/namespaces/t/pods/p/log', {
    query: { container: 'c' }, tailLines: 1000,
    onData: (lines, partial) => view.write(lines, partial),
    onState: (st) => { view.connection = st; states.push(st.state + (st.message ? ': ' + st.message : '')); },
    check: async () => 'retry',
  });
  stream.start();
  window.log = { view, stream, states };
};
const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
window.shown = async () => {
  await frame();
  const st = document.querySelector('[data-test=log-status]');
  return { lines: [...document.querySelectorAll('[data-test=log-view] .log-line:not([hidden])')].map((l) => l.textContent),
    status: st.textContent, conn: st.dataset.conn, transport: st.dataset.transport, states: window.log.states };
};
window.logReady = true;
</script>
</body></html>`

// fakeLog is a container's log as the API serves it over a websocket
// (binary.k8s.io or base64.binary.k8s.io) with timestamps: its bytes, and
// where each line starts, so that sinceTime and tailLines pick the start.
type fakeLog struct {
	mu      sync.Mutex
	data    []byte            // guarded by mu: "TS text\n" lines, the last maybe unfinished
	starts  []lineStart       // guarded by mu
	open    bool              // guarded by mu: the last line has no newline yet
	conns   []*websocket.Conn // guarded by mu: the connections serving
	queries []string          // guarded by mu: the query of each request
	refuse  int               // guarded by mu: answer upgrades with this status
	message string            // guarded by mu: and this message
	seconds bool              // guarded by mu: truncate sinceTime to the second, as kubelet does
	base64  bool              // guarded by mu: speak base64.binary.k8s.io
	changed *sync.Cond
}

type lineStart struct {
	ts  time.Time
	off int
}

func newFakeLog() *fakeLog {
	f := &fakeLog{}
	f.changed = sync.NewCond(&f.mu)
	return f
}

// write appends text at ts: a new line starts unless the last is open.
func (f *fakeLog) write(ts time.Time, text string, end bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		f.starts = append(f.starts, lineStart{ts, len(f.data)})
		f.data = append(f.data, ts.UTC().Format(time.RFC3339Nano)+" "...)
	}
	f.data = append(f.data, text...)
	f.open = !end
	if end {
		f.data = append(f.data, '\n')
	}
	f.changed.Broadcast()
}

// restartLine replaces the last line, unfinished, with text at ts: the
// line as a follow that began after it did sends it ahead (its time is
// when that follow first saw it, its start maybe missing).
func (f *fakeLog) restartLine(ts time.Time, text string) {
	f.mu.Lock()
	last := f.starts[len(f.starts)-1]
	f.starts = f.starts[:len(f.starts)-1]
	f.data = f.data[:last.off]
	f.open = false
	f.mu.Unlock()
	f.write(ts, text, false)
}

// goAway closes every connection as a server shutting down does (1001).
func (f *fakeLog) goAway() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting down"), time.Now().Add(time.Second))
		c.NetConn().Close()
	}
	f.conns = nil
	f.changed.Broadcast()
}

// drop cuts every connection without a close frame, as a dying server does.
func (f *fakeLog) drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.NetConn().Close()
	}
	f.conns = nil
	f.changed.Broadcast()
}

func (f *fakeLog) set(fn func(f *fakeLog)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.queries = append(f.queries, r.URL.RawQuery)
	refuse, message := f.refuse, f.message
	proto := "binary.k8s.io"
	if f.base64 {
		proto = "base64.binary.k8s.io"
	}
	f.mu.Unlock()
	status, _ := json.Marshal(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": refuse})
	// The API refuses before the upgrade what concerns the request itself
	// (400, 401, 403), and answers a plain request with its Status.
	if refuse != 0 && (refuse == http.StatusBadRequest || refuse == http.StatusUnauthorized || refuse == http.StatusForbidden || !websocket.IsWebSocketUpgrade(r)) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(refuse)
		w.Write(status)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		w.Header().Set("Content-Type", "text/plain")
		return // a plain request for none of the log: it is there
	}
	up := websocket.Upgrader{Subprotocols: []string{proto}}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	// The empty first message: the request is taken.
	first := websocket.BinaryMessage
	if proto == "base64.binary.k8s.io" {
		first = websocket.TextMessage
	}
	if err := conn.WriteMessage(first, nil); err != nil {
		return
	}
	if refuse != 0 {
		// Every other failure is told on the socket: a Status, then 4000+code.
		conn.WriteMessage(websocket.TextMessage, status)
		conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4000+refuse, ""))
		return
	}
	go func() { // reads until the client or drop closes the connection
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				f.mu.Lock()
				f.changed.Broadcast()
				f.mu.Unlock()
				return
			}
		}
	}()
	q := r.URL.Query()
	f.mu.Lock()
	f.conns = append(f.conns, conn)
	pos := len(f.data)
	if s := q.Get("sinceTime"); s != "" {
		since, _ := time.Parse(time.RFC3339Nano, s)
		if f.seconds {
			since = since.Truncate(time.Second)
		}
		for _, l := range f.starts {
			if !l.ts.Before(since) {
				pos = l.off
				break
			}
		}
	} else if n, err := strconv.Atoi(q.Get("tailLines")); err == nil && len(f.starts) > 0 {
		pos = f.starts[max(len(f.starts)-n, 0)].off
	}
	for {
		for pos == len(f.data) && slices.Contains(f.conns, conn) {
			f.changed.Wait()
		}
		if !slices.Contains(f.conns, conn) {
			f.mu.Unlock()
			return
		}
		chunk := append([]byte(nil), f.data[pos:]...)
		pos = len(f.data)
		b64 := f.base64
		f.mu.Unlock()
		var err error
		if b64 {
			err = conn.WriteMessage(websocket.TextMessage, []byte(base64.StdEncoding.EncodeToString(chunk)))
		} else {
			err = conn.WriteMessage(websocket.BinaryMessage, chunk)
		}
		f.mu.Lock()
		if err != nil {
			f.conns = slices.DeleteFunc(f.conns, func(c *websocket.Conn) bool { return c == conn })
		}
	}
}

// shownLog is what window.shown returns.
type shownLog struct {
	Lines     []string `json:"lines"`
	Status    string   `json:"status"`
	Conn      string   `json:"conn"`
	Transport string   `json:"transport"`
	States    []string `json:"states"`
}

// TestLogView follows a scripted log with the console's LogStream and
// <berth-log-view> in Chromium: after every kind of disconnect the view
// holds each line once, an unfinished line continues as one line, and a
// refused log says why without naming an address.
func TestLogView(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: starts Chromium; skipped in -short mode")
	}
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	var b *browser // started below, after the cases
	tests := []struct {
		name      string
		setup     func(f *fakeLog)
		script    func(t *testing.T, f *fakeLog, sync func() shownLog)
		want      []string
		wantState string // the last state, and the status's words
	}{{
		name: "resumed after a drop, lines sharing the boundary's timestamp",
		script: func(t *testing.T, f *fakeLog, sync func() shownLog) {
			f.write(at(0), "zero", true)
			f.write(at(1), "one", true)
			f.write(at(2), "same a", true)
			f.write(at(2), "dup", true)
			sync()
			f.drop()
			f.write(at(2), "dup", true)
			f.write(at(2), "same b", true)
			f.write(at(3), "three", true)
		},
		want: []string{"zero", "one", "same a", "dup", "dup", "same b", "three"},
	}, {
		name:  "resumed from a server that reads sinceTime to the second",
		setup: func(f *fakeLog) { f.seconds = true },
		script: func(t *testing.T, f *fakeLog, sync func() shownLog) {
			for i := range 5 {
				f.write(at(100+i), fmt.Sprint("line ", i), true)
			}
			sync()
			f.drop()
			f.write(at(900), "line 5", true)
			sync()
			f.drop()
			f.write(at(1100), "line 6", true)
		},
		want: []string{"line 0", "line 1", "line 2", "line 3", "line 4", "line 5", "line 6"},
	}, {
		name: "an unfinished line continues across a drop as one line",
		script: func(t *testing.T, f *fakeLog, sync func() shownLog) {
			f.write(at(0), "before", true)
			f.write(at(10), "\rprogress 1%", false)
			if got := sync().Lines; !slices.Equal(got, []string{"before", "progress 1%"}) {
				t.Errorf("before the drop the view shows %q", got)
			}
			f.write(at(11), "\rprogress 2%", false)
			sync()
			f.drop()
			f.write(at(12), "\rprogress 3%", false)
			sync()
			f.write(at(13), "\rprogress 100%", true)
			f.write(at(14), "after", true)
		},
		want: []string{"before", "progress 100%", "after"},
	}, {
		name: "an unfinished line resumed as a new follow sends it ahead",
		script: func(t *testing.T, f *fakeLog, sync func() shownLog) {
			f.write(at(0), "before", true)
			f.write(at(10), "\rprogress 1%", false)
			sync()
			f.drop()
			f.restartLine(at(12), "\rprogress 2%")
			// sync counts whole lines: the resumed follow can be open
			// before the unfinished line's new tail arrives.
			want := []string{"before", "progress 2%"}
			deadline := time.Now().Add(10 * time.Second)
			for got := sync().Lines; !slices.Equal(got, want); got = sync().Lines {
				if time.Now().After(deadline) {
					t.Fatalf("after the drop the view shows %q, want %q", got, want)
				}
				time.Sleep(20 * time.Millisecond)
			}
			f.write(at(13), "\rprogress 100%", true)
			f.write(at(14), "after", true)
		},
		want: []string{"before", "progress 100%", "after"},
	}, {
		name:  "base64.binary.k8s.io",
		setup: func(f *fakeLog) { f.base64 = true },
		script: func(t *testing.T, f *fakeLog, sync func() shownLog) {
			f.write(at(0), "ünïcödé ✓", true)
			sync()
			f.drop()
			f.write(at(1), "again", true)
		},
		want: []string{"ünïcödé ✓", "again"},
	}, {
		name: "a refused log says why",
		setup: func(f *fakeLog) {
			f.refuse, f.message = http.StatusForbidden, `user "bob" cannot get pods/log in project "t"`
		},
		script:    func(t *testing.T, f *fakeLog, sync func() shownLog) {},
		wantState: `failed: user "bob" cannot get pods/log in project "t"`,
	}, {
		name: "an unreachable node is retried, its address never shown",
		setup: func(f *fakeLog) {
			f.refuse, f.message = http.StatusServiceUnavailable, `node "n1" does not answer: dial tcp 10.1.2.3:10250: connect: connection refused`
		},
		script: func(t *testing.T, f *fakeLog, sync func() shownLog) {
			got := sync()
			if internalAddress.MatchString(got.Status) || !strings.Contains(got.Status, "Reconnecting") {
				t.Errorf("while the node does not answer the status says %q", got.Status)
			}
			f.set(func(f *fakeLog) { f.refuse = 0 })
			f.write(at(0), "hello", true)
		},
		want: []string{"hello"},
	}, {
		name:      "no such container: the API's words, no retry",
		setup:     func(f *fakeLog) { f.refuse, f.message = http.StatusNotFound, `container "c" of pod "p" not found` },
		script:    func(t *testing.T, f *fakeLog, sync func() shownLog) {},
		wantState: `failed: container "c" of pod "p" not found`,
	}, {
		name: "the server going away (1001) is followed again",
		script: func(t *testing.T, f *fakeLog, sync func() shownLog) {
			f.write(at(0), "one", true)
			sync()
			f.goAway()
			f.write(at(1), "two", true)
		},
		want: []string{"one", "two"},
	}, {
		name: "an unfinished line that never ends keeps its tail",
		script: func(t *testing.T, f *fakeLog, sync func() shownLog) {
			f.write(at(0), "x", false)
			for i := range 3000 {
				f.write(at(i+1), fmt.Sprintf("\rstep %04d of a long progress", i), false)
			}
		},
		want: []string{"step 2999 of a long progress"},
	}, {
		name: "a press on the scrollbar that the browser cancels lets go of the view",
		script: func(t *testing.T, f *fakeLog, sync func() shownLog) {
			for i := range 200 {
				f.write(at(i), fmt.Sprintf("line %d", i), true)
			}
			// The view draws what fits: its newest lines.
			b.waitJSFor(t, 10*time.Second, "the newest line drawn", `[...document.querySelectorAll('[data-test=log-view] .log-line:not([hidden])')].at(-1)?.textContent === 'line 199'`)
			sb := eval[[]float64](t, b, `(() => { const v = document.querySelector('[data-test=log-view]'); const r = v.getBoundingClientRect(); return [r.left + v.clientLeft + v.clientWidth + (r.width - v.clientWidth - v.clientLeft) / 2, r.bottom - 40]; })()`)
			b.do(t, "press the scrollbar", chromedp.MouseEvent(chromedp.MousePressed, sb[0], sb[1], chromedp.ButtonLeft, chromedp.ClickCount(1)))
			if !eval[bool](t, b, "window.log.view.holding") {
				t.Fatal("a press on the scrollbar does not hold the view")
			}
			// A touch turned into a pan, a window switch: the browser
			// takes the pointer over, and no pointerup comes.
			held := eval[bool](t, b, "window.dispatchEvent(new PointerEvent('pointercancel')), window.log.view.holding")
			b.do(t, "release the mouse", chromedp.MouseEvent(chromedp.MouseReleased, sb[0], sb[1], chromedp.ButtonLeft, chromedp.ClickCount(1)))
			if held {
				t.Error("after a pointercancel the view is still held: older lines would never be drawn")
			}
		},
		wantState: "open",
	}}

	mux := http.NewServeMux()
	mux.Handle("/static/", http.StripPrefix("/static/", http.FileServerFS(frontend.FS)))
	mux.HandleFunc("/logview-test.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(logViewPage))
	})
	var current *fakeLog
	var mu sync.Mutex
	mux.HandleFunc("/api/v1/namespaces/t/pods/p/log", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		f := current
		mu.Unlock()
		f.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	// Scrollbars as a person has them (chromedp hides them), to press one.
	b = startBrowser(t, srv.URL, chromedp.Flag("hide-scrollbars", false))

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The page of the case before goes first, with its stream.
			b.do(t, "leave the page", chromedp.Navigate("about:blank"))
			f := newFakeLog()
			if tt.setup != nil {
				tt.setup(f)
			}
			mu.Lock()
			current = f
			mu.Unlock()
			t.Cleanup(f.drop)
			// Refused upgrades and dropped sockets are what the test does.
			b.outage(true)
			b.do(t, "open the test page", chromedp.Navigate(srv.URL+"/logview-test.html"))
			b.waitJS(t, "the modules", "window.logReady")
			eval[bool](t, b, "(openLog(), true)")
			// sync waits until the view shows all the log holds that is new.
			sync := func() shownLog {
				t.Helper()
				f.mu.Lock()
				want := strings.Count(string(f.data), "\n")
				refused := f.refuse != 0
				f.mu.Unlock()
				var got shownLog
				deadline := time.Now().Add(10 * time.Second)
				for {
					got = eval[shownLog](t, b, "shown()")
					if refused && len(got.States) > 2 || !refused && got.Conn == "open" && len(got.Lines) >= want {
						return got
					}
					if time.Now().After(deadline) {
						t.Fatalf("the view shows %q (%s), want %d lines", got.Lines, got.Status, want)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			tt.script(t, f, sync)
			var got shownLog
			deadline := time.Now().Add(10 * time.Second)
			for {
				got = eval[shownLog](t, b, "shown()")
				last := got.States[len(got.States)-1]
				if tt.wantState != "" && last == tt.wantState || tt.wantState == "" && slices.Equal(got.Lines, tt.want) && got.Conn == "open" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the view shows %q, status %q (states %q); want %q %s", got.Lines, got.Status, got.States, tt.want, tt.wantState)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if internalAddress.MatchString(got.Status) {
				t.Errorf("the status names an address: %q", got.Status)
			}
			if tt.wantState == "" && got.Transport != "websocket" {
				t.Errorf("the log came over %q, want a websocket", got.Transport)
			}
			f.mu.Lock()
			t.Logf("requests: %q; states %q; status %q", f.queries, got.States, got.Status)
			f.mu.Unlock()
			b.outage(false)
			b.checkConsole(t)
		})
	}
}
