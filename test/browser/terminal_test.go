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
// ES module that defines <berth-terminal>) and offers runTerminal to the
// test: it makes a terminal of a given size, feeds it chunks of output,
// lets it render, and reads back what is on screen from the DOM.
const terminalPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>terminal.js</title><link rel="icon" href="data:,"></head>
<body>
<script type="module">
import '/js/pod/terminal.js';

const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

// rowText is what a row shows, with the cursor's column.
function rowText(row) {
  const cur = row.querySelector('.term-cursor');
  let cursor = -1;
  if (cur) {
    const r = document.createRange();
    r.setStart(row, 0);
    r.setEndBefore(cur);
    cursor = [...r.toString()].length;
  }
  return { text: row.textContent, cursor };
}

window.runTerminal = async ({ cols, rows, chunks, resize }) => {
  const term = document.createElement('berth-terminal');
  // The terminal fits its grid to its box when that changes; an inline
  // element has no width, so the sizes set here stay.
  term.style.display = 'inline';
  document.body.append(term);
  const sent = [];
  const resized = [];
  term.onData = (s) => sent.push(s);
  term.onResize = (c, r) => resized.push([c, r]);
  term.resize(cols, rows);
  for (const c of chunks) term.write(bytes(c));
  if (resize) term.resize(resize[0], resize[1]);
  await frame(); // it renders on the next animation frame
  const screen = [...term.querySelectorAll('.term-screen > .term-row')].map(rowText);
  const out = {
    rows: screen.map((r) => r.text),
    cursor: screen.flatMap((r, y) => (r.cursor >= 0 ? [[y, r.cursor]] : [])),
    scrollback: [...term.querySelectorAll('.term-back > .term-row')].map((r) => r.textContent),
    spans: [...term.querySelectorAll('.term-screen span:not(.term-cursor)')].map((s) => ({
      text: s.textContent, classes: [...s.classList].sort().join(' '), color: s.style.color, background: s.style.backgroundColor,
    })),
    sent: sent.join(''),
    resized,
  };
  term.remove();
  return out;
};
window.terminalReady = true;
</script>
</body></html>`

// termSpan is a styled run of text the terminal rendered.
type termSpan struct {
	Text       string `json:"text"`
	Classes    string `json:"classes"`
	Color      string `json:"color,omitempty"`
	Background string `json:"background,omitempty"`
}

// termScreen is what the terminal rendered: its rows (trailing blanks
// trimmed by the test), the cursor's [row, column], the rows scrolled off
// the top, its styled runs, what it answered the program (onData) and the
// sizes it reported (onResize).
type termScreen struct {
	Rows       []string   `json:"rows"`
	Cursor     [][2]int   `json:"cursor"`
	Scrollback []string   `json:"scrollback"`
	Spans      []termSpan `json:"spans"`
	Sent       string     `json:"sent"`
	Resized    [][2]int   `json:"resized"`
}

// TestTerminal checks what <berth-terminal> renders for what a program
// writes, in Chromium: text, CR/LF, backspace, tabs, wrapping, cursor
// movement, erasing, colours, scrolling, resizing, replies to the
// program, and UTF-8 split across chunks.
func TestTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: starts Chromium; skipped in -short mode")
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServerFS(frontend.FS))
	mux.HandleFunc("/terminal-test.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(terminalPage))
	})
	if _, err := fs.Stat(frontend.FS, "js/pod/terminal.js"); err != nil {
		t.Fatalf("terminal.js is not in the embedded frontend: %v", err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	b := startBrowser(t, srv.URL)
	b.do(t, "open the terminal test page", chromedp.Navigate(srv.URL+"/terminal-test.html"))
	b.waitJS(t, "terminal.js to load", "window.terminalReady")
	defer b.checkConsole(t)

	const (
		esc = "\x1b"
		csi = esc + "["
	)
	euro, smile := []byte("€"), []byte("😀")

	tests := []struct {
		name       string
		cols, rows int
		chunks     [][]byte
		resize     []int // cols, rows after the output
		want       []string
		wantCursor [2]int
		wantBack   []string
		wantSpans  []termSpan
		wantSent   string
	}{
		{name: "text", cols: 10, rows: 3, chunks: chunks("hello"),
			want: []string{"hello", "", ""}, wantCursor: [2]int{0, 5}},
		{name: "CR LF", cols: 10, rows: 3, chunks: chunks("one\r\ntwo"),
			want: []string{"one", "two", ""}, wantCursor: [2]int{1, 3}},
		{name: "CR overwrites from the start", cols: 10, rows: 2, chunks: chunks("50%\r100%"),
			want: []string{"100%", ""}, wantCursor: [2]int{0, 4}},
		{name: "LF alone keeps the column", cols: 10, rows: 3, chunks: chunks("ab\ncd"),
			want: []string{"ab", "  cd", ""}, wantCursor: [2]int{1, 4}},
		{name: "backspace", cols: 10, rows: 2, chunks: chunks("abc\b\bX"),
			want: []string{"aXc", ""}, wantCursor: [2]int{0, 2}},
		{name: "backspace stops at the left edge", cols: 10, rows: 2, chunks: chunks("\b\bok"),
			want: []string{"ok", ""}, wantCursor: [2]int{0, 2}},
		{name: "tab", cols: 20, rows: 2, chunks: chunks("a\tb"),
			want: []string{"a       b", ""}, wantCursor: [2]int{0, 9}},
		{name: "wrap at the last column", cols: 5, rows: 3, chunks: chunks("abcdefg"),
			want: []string{"abcde", "fg", ""}, wantCursor: [2]int{1, 2}},
		{name: "cursor position", cols: 10, rows: 4, chunks: chunks(csi + "3;4Hx" + csi + "H" + "y"),
			want: []string{"y", "", "   x", ""}, wantCursor: [2]int{0, 1}},
		{name: "cursor up down forward back", cols: 10, rows: 4,
			chunks: chunks("abcd" + csi + "2D" + "X" + csi + "2B" + csi + "3C" + "Y" + csi + "A" + "Z"),
			want:   []string{"abXd", "       Z", "      Y", ""}, wantCursor: [2]int{1, 8}},
		{name: "cursor moves stop at the edges", cols: 6, rows: 3, chunks: chunks(csi + "9A" + csi + "99C" + "r" + csi + "99B" + csi + "99D" + "l"),
			want: []string{"     r", "", "l"}, wantCursor: [2]int{2, 1}},
		{name: "column and line absolute", cols: 10, rows: 3, chunks: chunks("abcdef" + csi + "3G" + "X" + csi + "3d" + "Y"),
			want: []string{"abXdef", "", "   Y"}, wantCursor: [2]int{2, 4}},
		{name: "save and restore the cursor", cols: 10, rows: 3, chunks: chunks("ab" + esc + "7" + csi + "3;1Hzz" + esc + "8" + "C"),
			want: []string{"abC", "", "zz"}, wantCursor: [2]int{0, 3}},
		{name: "erase to the end of the line", cols: 10, rows: 2, chunks: chunks("abcdef" + csi + "3G" + csi + "K"),
			want: []string{"ab", ""}, wantCursor: [2]int{0, 2}},
		{name: "erase to the start of the line", cols: 10, rows: 2, chunks: chunks("abcdef" + csi + "3G" + csi + "1K"),
			want: []string{"   def", ""}, wantCursor: [2]int{0, 2}},
		{name: "erase the line", cols: 10, rows: 2, chunks: chunks("abcdef" + csi + "2K"),
			want: []string{"", ""}, wantCursor: [2]int{0, 6}},
		{name: "erase below", cols: 6, rows: 3, chunks: chunks("aaaaaa" + "bbbbbb" + "cccc" + csi + "2;3H" + csi + "J"),
			want: []string{"aaaaaa", "bb", ""}, wantCursor: [2]int{1, 2}},
		{name: "erase above", cols: 6, rows: 3, chunks: chunks("aaaaaa" + "bbbbbb" + "cccc" + csi + "2;3H" + csi + "1J"),
			want: []string{"", "   bbb", "cccc"}, wantCursor: [2]int{1, 2}},
		{name: "erase the screen", cols: 6, rows: 3, chunks: chunks("aaaaaa" + "bb" + csi + "2J"),
			want: []string{"", "", ""}, wantCursor: [2]int{1, 2}},
		{name: "erase and delete characters", cols: 10, rows: 2, chunks: chunks("abcdefgh" + csi + "2G" + csi + "2X" + csi + "5G" + csi + "2P"),
			want: []string{"a  dgh", ""}, wantCursor: [2]int{0, 4}},
		{name: "insert characters", cols: 8, rows: 2, chunks: chunks("abcdef" + csi + "3G" + csi + "2@" + "XY"),
			want: []string{"abXYcdef", ""}, wantCursor: [2]int{0, 4}},
		{name: "colours", cols: 20, rows: 2, chunks: chunks(csi + "31mred" + csi + "0m plain " + csi + "1;4;42mB" + csi + "0m"),
			want:       []string{"red plain B", ""},
			wantCursor: [2]int{0, 11},
			wantSpans:  []termSpan{{Text: "red", Classes: "ansi-fg1"}, {Text: "B", Classes: "ansi-bg2 ansi-bold ansi-ul"}}},
		{name: "bright, 256 and true colours", cols: 20, rows: 2, chunks: chunks(csi + "94mb" + csi + "38;5;196mr" + csi + "48;2;0;0;255mx" + csi + "m"),
			want:       []string{"brx", ""},
			wantCursor: [2]int{0, 3},
			wantSpans: []termSpan{{Text: "b", Classes: "ansi-fg12"}, {Text: "r", Color: "rgb(255, 0, 0)"},
				{Text: "x", Color: "rgb(255, 0, 0)", Background: "rgb(0, 0, 255)"}}},
		{name: "inverse", cols: 10, rows: 2, chunks: chunks(csi + "7mI" + csi + "27mn"),
			want: []string{"In", ""}, wantCursor: [2]int{0, 2},
			wantSpans: []termSpan{{Text: "I", Classes: "ansi-inv-bg ansi-inv-fg"}}},
		{name: "scroll into the scrollback", cols: 10, rows: 3, chunks: chunks("1\r\n2\r\n3\r\n4\r\n5"),
			want: []string{"3", "4", "5"}, wantCursor: [2]int{2, 1}, wantBack: []string{"1", "2"}},
		{name: "scroll up and down", cols: 10, rows: 3, chunks: chunks("a\r\nb\r\nc" + csi + "S" + csi + "2;1H" + csi + "T"),
			want: []string{"", "b", "c"}, wantCursor: [2]int{1, 0}, wantBack: []string{"a"}},
		{name: "scroll region", cols: 10, rows: 4, chunks: chunks("top" + csi + "2;3r" + csi + "2;1Hx\r\ny\r\nz" + csi + "4;1Hbottom"),
			want: []string{"top", "y", "z", "bottom"}, wantCursor: [2]int{3, 6}},
		{name: "alternate screen", cols: 10, rows: 2, chunks: chunks("main" + csi + "?1049h" + "alt" + csi + "?1049l"),
			want: []string{"main", ""}, wantCursor: [2]int{0, 4}},
		{name: "resize smaller keeps the cursor on screen", cols: 10, rows: 3, chunks: chunks("1\r\n2\r\nlonger row"),
			resize: []int{4, 2},
			want:   []string{"2", "long"}, wantCursor: [2]int{1, 3}, wantBack: []string{"1"}},
		{name: "resize larger", cols: 4, rows: 2, chunks: chunks("ab\r\ncd"),
			resize: []int{8, 3},
			want:   []string{"ab", "cd", ""}, wantCursor: [2]int{1, 2}},
		{name: "UTF-8 split across chunks", cols: 10, rows: 2,
			chunks: [][]byte{euro[:1], euro[1:2], append(euro[2:3:3], 0xc3), {0xa9}, smile[:3], smile[3:], []byte("!")},
			want:   []string{"€é😀!", ""}, wantCursor: [2]int{0, 4}},
		{name: "device status and cursor reports", cols: 10, rows: 3, chunks: chunks(csi + "5n" + csi + "2;3H" + csi + "6n"),
			want: []string{"", "", ""}, wantCursor: [2]int{1, 2}, wantSent: csi + "0n" + csi + "2;3R"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer b.checkConsole(t)
			input := map[string]any{"cols": tt.cols, "rows": tt.rows, "chunks": base64s(tt.chunks), "resize": tt.resize}
			arg, err := json.Marshal(input)
			if err != nil {
				t.Fatal(err)
			}
			got := eval[termScreen](t, b, "window.runTerminal("+string(arg)+")")
			rows := make([]string, len(got.Rows))
			for i, r := range got.Rows {
				rows[i] = strings.TrimRight(r, " ")
			}
			if !slices.Equal(rows, tt.want) {
				t.Errorf("screen:\n%s\nwant:\n%s", quoteRows(rows), quoteRows(tt.want))
			}
			if len(got.Cursor) != 1 || got.Cursor[0] != tt.wantCursor {
				t.Errorf("cursor at %v, want one at %v", got.Cursor, tt.wantCursor)
			}
			back := make([]string, len(got.Scrollback))
			for i, r := range got.Scrollback {
				back[i] = strings.TrimRight(r, " ")
			}
			if !slices.Equal(back, tt.wantBack) {
				t.Errorf("scrollback = %q, want %q", back, tt.wantBack)
			}
			if !slices.Equal(got.Spans, tt.wantSpans) {
				t.Errorf("styled runs = %+v, want %+v", got.Spans, tt.wantSpans)
			}
			if got.Sent != tt.wantSent {
				t.Errorf("answered the program %q, want %q", got.Sent, tt.wantSent)
			}
			wantResized := [][2]int{{tt.cols, tt.rows}}
			if tt.resize != nil {
				wantResized = append(wantResized, [2]int{tt.resize[0], tt.resize[1]})
			}
			if !slices.Equal(got.Resized[len(got.Resized)-min(len(got.Resized), len(wantResized)):], wantResized) {
				t.Errorf("reported sizes %v, want them to end with %v", got.Resized, wantResized)
			}
		})
	}
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
