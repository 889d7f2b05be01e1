package browser

import (
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/berthpaas/berth/frontend"
)

// terminalPage loads frontend/js/pod/terminal.js as the console does (an
// ES module that defines <berth-terminal>, which loads xterm.js from
// frontend/vendor) and offers two functions to the tests: runTerminal
// makes a terminal, feeds it output before or after xterm.js is ready,
// types into it, and reads back the screen through xterm.js's buffer API;
// hoverLink moves the mouse over a URL the terminal shows.
const terminalPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>terminal.js</title><link rel="icon" href="data:,"></head>
<body>
<script type="module">
import '/js/pod/terminal.js';

const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const until = async (what, cond) => {
  for (const end = Date.now() + 5000; !cond(); await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() > end) throw new Error('waited 5 s for ' + what);
  }
};
// flushed resolves once xterm.js has parsed everything written so far.
const flushed = (t) => new Promise((r) => t.write('', r));

window.runTerminal = async ({ chunks, early, convertEol, notice, typed }) => {
  const term = document.createElement('berth-terminal');
  term.style.cssText = 'display: block; width: 400px; height: 120px; font: 13px monospace';
  const sent = [];
  const resized = [];
  term.onData = (s) => sent.push(s);
  term.onResize = (c, r) => resized.push([c, r]);
  term.convertEol = convertEol;
  document.body.append(term);
  if (early) for (const c of chunks) term.write(bytes(c));
  await until('xterm.js to open and fit', () => term.xterm && resized.length);
  const t = term.xterm;
  if (!early) for (const c of chunks) term.write(bytes(c));
  if (notice) term.notice(notice);
  await flushed(t);
  await flushed(t); // notice writes once the earlier output is parsed
  if (typed) t.input(typed);
  const b = t.buffer.active;
  const rows = [];
  const widths = [];
  for (let y = 0; y < t.rows; y++) {
    const line = b.getLine(b.viewportY + y);
    rows.push(line.translateToString(true));
    let w = '';
    let end = 0;
    for (let x = 0; x < t.cols; x++) {
      const cell = line.getCell(x);
      w += cell.getWidth();
      if (cell.getChars() !== '' || cell.getWidth() === 0) end = x + 1;
    }
    widths.push(w.slice(0, end));
  }
  const out = {
    rows, widths, cursor: [b.cursorY, b.cursorX], cols: term.cols, rowCount: term.rows,
    sent: sent.join(''), resized,
  };
  term.remove();
  return out;
};
// hoverLink writes a line with a URL, moves the mouse over the URL and
// says whether the web-links add-on made it a link (a pointer cursor).
window.hoverLink = async () => {
  const term = document.createElement('berth-terminal');
  term.style.cssText = 'display: block; width: 400px; height: 120px; font: 13px monospace';
  document.body.append(term);
  await until('xterm.js to open', () => term.xterm);
  const t = term.xterm;
  term.write('see https://example.com/docs now');
  await flushed(t);
  const screen = t.element.querySelector('.xterm-screen');
  const r = screen.getBoundingClientRect();
  const at = (col) => ({ clientX: r.left + (col + 0.5) * r.width / t.cols, clientY: r.top + 0.5 * r.height / t.rows, bubbles: true });
  const pointer = () => !!(t.element.classList.contains('xterm-cursor-pointer') || t.element.querySelector('.xterm-cursor-pointer'));
  const seen = {};
  for (const [name, col] of [['word', 1], ['url', 10]]) {
    screen.dispatchEvent(new MouseEvent('mousemove', at(col)));
    const end = Date.now() + 1000;
    while (!pointer() && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
    seen[name] = pointer();
  }
  term.remove();
  return seen;
};
// pressKeys presses keys in the terminal's textarea and says what reached
// onData and what went to the clipboard.
window.pressKeys = async (keys) => {
  const term = document.createElement('berth-terminal');
  term.style.cssText = 'display: block; width: 400px; height: 120px; font: 13px monospace';
  document.body.append(term);
  await until('xterm.js to open', () => term.xterm);
  const t = term.xterm;
  const sent = [];
  term.onData = (s) => sent.push(s);
  let copied = null;
  Object.defineProperty(navigator, 'clipboard', { configurable: true, value: { writeText: async (s) => { copied = s; } } });
  term.write('copy me');
  await flushed(t);
  t.select(0, 0, 4);
  for (const k of keys) {
    const ev = { key: k.key, code: k.code, keyCode: k.keyCode, ctrlKey: !!k.ctrl, shiftKey: !!k.shift, bubbles: true, cancelable: true };
    t.textarea.dispatchEvent(new KeyboardEvent('keydown', ev));
    t.textarea.dispatchEvent(new KeyboardEvent('keyup', ev));
  }
  term.remove();
  return { sent: sent.join(''), copied };
};
window.terminalReady = true;
</script>
</body></html>`

// termScreen is what the terminal shows: its rows (trailing blanks
// trimmed), each row's cell widths as digits (2 for the first cell of a
// wide character, 0 for the cell it covers; trailing blank cells left
// off), the cursor's [row, column], its size, what reached onData and the
// sizes it reported to onResize.
type termScreen struct {
	Rows     []string `json:"rows"`
	Widths   []string `json:"widths"`
	Cursor   [2]int   `json:"cursor"`
	Cols     int      `json:"cols"`
	RowCount int      `json:"rowCount"`
	Sent     string   `json:"sent"`
	Resized  [][2]int `json:"resized"`
}

// TestTerminal checks <berth-terminal>, the console's wrapper of xterm.js,
// in Chromium: that it loads xterm.js and its CSS from frontend/vendor,
// fits its grid to its box and reports the size, keeps output written
// before xterm.js is ready, takes UTF-8 split across chunks, gives a wide
// character two cells, converts LF for sessions without a TTY, puts the
// session's end notice on a line of its own, and hands what is typed to
// onData. The escape sequences themselves are xterm.js's (its own tests);
// the console's story (TestConsole) types into a real pod's shell, vi and
// top.
func TestTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: starts Chromium; skipped in -short mode")
	}
	b := openTerminalPage(t)
	defer b.checkConsole(t)

	han := []byte("漢字")
	tests := []struct {
		name       string
		chunks     [][]byte
		early      bool // written before xterm.js is ready
		convertEol bool
		notice     string
		typed      string
		want       []string // the first rows
		wantWidths []string // the first rows' cell widths, when checked
		wantCursor [2]int
	}{
		{name: "text and CR LF", chunks: chunks("one\r\ntwo"),
			want: []string{"one", "two", ""}, wantCursor: [2]int{1, 3}},
		{name: "output before xterm.js is ready is kept", early: true, chunks: chunks("early\r\n", "bird"),
			want: []string{"early", "bird", ""}, wantCursor: [2]int{1, 4}},
		{name: "wide characters take two cells, UTF-8 split across chunks", early: true,
			chunks:     [][]byte{han[:1], han[1:4], han[4:], []byte("!")},
			want:       []string{"漢字!", ""},
			wantWidths: []string{"20201", ""}, wantCursor: [2]int{0, 5}},
		{name: "LF alone keeps the column with a TTY", chunks: chunks("ab\ncd"),
			want: []string{"ab", "  cd", ""}, wantCursor: [2]int{1, 4}},
		{name: "LF returns the carriage without a TTY", convertEol: true, chunks: chunks("ab\ncd"),
			want: []string{"ab", "cd", ""}, wantCursor: [2]int{1, 2}},
		{name: "the end notice starts a line of its own", chunks: chunks("/ # exit"), notice: "— session ended (exit code 0) —",
			want: []string{"/ # exit", "— session ended (exit code 0) —", ""}, wantCursor: [2]int{2, 0}},
		{name: "no blank line before the notice at a line's start", early: true, chunks: chunks("bye\r\n"), notice: "— disconnected —",
			want: []string{"bye", "— disconnected —", ""}, wantCursor: [2]int{2, 0}},
		{name: "what is typed goes to onData", typed: "ls -l\r",
			want: []string{"", ""}, wantCursor: [2]int{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer b.checkConsole(t)
			input := map[string]any{"chunks": base64s(tt.chunks), "early": tt.early, "convertEol": tt.convertEol,
				"notice": tt.notice, "typed": tt.typed}
			arg, err := json.Marshal(input)
			if err != nil {
				t.Fatal(err)
			}
			got := eval[termScreen](t, b, "window.runTerminal("+string(arg)+")")
			rows := got.Rows[:min(len(tt.want), len(got.Rows))]
			if !slices.Equal(rows, tt.want) {
				t.Errorf("screen:\n%s\nwant:\n%s", quoteRows(rows), quoteRows(tt.want))
			}
			if tt.wantWidths != nil {
				if w := got.Widths[:min(len(tt.wantWidths), len(got.Widths))]; !slices.Equal(w, tt.wantWidths) {
					t.Errorf("cell widths %q, want %q", w, tt.wantWidths)
				}
			}
			if got.Cursor != tt.wantCursor {
				t.Errorf("cursor at %v, want %v", got.Cursor, tt.wantCursor)
			}
			if got.Sent != tt.typed {
				t.Errorf("onData got %q, want %q", got.Sent, tt.typed)
			}
			// 400 px of 13 px monospace: about 50 columns, not xterm.js's
			// default 80; the last size reported is the one it has.
			if got.Cols < 20 || got.Cols >= 80 || got.RowCount < 3 {
				t.Errorf("a 400×120 px terminal has %d×%d cells", got.Cols, got.RowCount)
			}
			if n := len(got.Resized); n == 0 || got.Resized[n-1] != [2]int{got.Cols, got.RowCount} {
				t.Errorf("reported sizes %v, want them to end with %d×%d", got.Resized, got.Cols, got.RowCount)
			}
		})
	}
}

// TestTerminalLinks checks that the web-links add-on is loaded: a URL in
// the output is a link under the mouse, a plain word is not.
func TestTerminalLinks(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: starts Chromium; skipped in -short mode")
	}
	b := openTerminalPage(t)
	defer b.checkConsole(t)
	got := eval[map[string]bool](t, b, "window.hoverLink()")
	if !got["url"] || got["word"] {
		t.Errorf("under the mouse: a URL is a link %v (want true), a word %v (want false)", got["url"], got["word"])
	}
}

// TestTerminalKeys checks the keys the terminal leaves to the browser or
// keeps for itself: Tab goes to the program, Shift+Tab does not (it moves
// the focus out), Ctrl+Shift+C copies the selection instead of sending
// anything.
func TestTerminalKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: starts Chromium; skipped in -short mode")
	}
	b := openTerminalPage(t)
	defer b.checkConsole(t)
	type key struct {
		Key     string `json:"key"`
		Code    string `json:"code"`
		KeyCode int    `json:"keyCode"`
		Ctrl    bool   `json:"ctrl,omitempty"`
		Shift   bool   `json:"shift,omitempty"`
	}
	tab, shiftTab := key{Key: "Tab", Code: "Tab", KeyCode: 9}, key{Key: "Tab", Code: "Tab", KeyCode: 9, Shift: true}
	copyKey := key{Key: "C", Code: "KeyC", KeyCode: 67, Ctrl: true, Shift: true}
	tests := []struct {
		name       string
		keys       []key
		wantSent   string
		wantCopied any
	}{
		{name: "Tab goes to the program", keys: []key{tab}, wantSent: "\t"},
		{name: "Shift+Tab leaves the terminal", keys: []key{shiftTab}},
		{name: "Ctrl+Shift+C copies the selection", keys: []key{copyKey}, wantCopied: "copy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arg, err := json.Marshal(tt.keys)
			if err != nil {
				t.Fatal(err)
			}
			got := eval[struct {
				Sent   string `json:"sent"`
				Copied any    `json:"copied"`
			}](t, b, "window.pressKeys("+string(arg)+")")
			if got.Sent != tt.wantSent || got.Copied != tt.wantCopied {
				t.Errorf("sent %q and copied %v, want %q and %v", got.Sent, got.Copied, tt.wantSent, tt.wantCopied)
			}
		})
	}
}

// openTerminalPage serves the embedded frontend and terminalPage, and
// opens that page in Chromium.
func openTerminalPage(t *testing.T) *browser {
	t.Helper()
	for _, f := range []string{"js/pod/terminal.js", "vendor/xterm.mjs", "vendor/xterm.css", "vendor/xterm-addon-fit.mjs", "vendor/xterm-addon-web-links.mjs"} {
		if _, err := fs.Stat(frontend.FS, f); err != nil {
			t.Fatalf("%s is not in the embedded frontend: %v", f, err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServerFS(frontend.FS))
	mux.HandleFunc("/terminal-test.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(terminalPage))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b := startBrowser(t, srv.URL)
	b.do(t, "open the terminal test page", chromedp.Navigate(srv.URL+"/terminal-test.html"))
	b.waitJS(t, "terminal.js to load", "window.terminalReady")
	return b
}

// chunks is one chunk of output per string.
func chunks(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func base64s(chunks [][]byte) []string {
	out := make([]string, len(chunks))
	for i, c := range chunks {
		out[i] = base64.StdEncoding.EncodeToString(c)
	}
	return out
}

func quoteRows(rows []string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("  |" + r + "|\n")
	}
	return b.String()
}
