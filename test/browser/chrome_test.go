package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Window sizes: the desktop every page is shot at, and a phone.
const (
	desktopW, desktopH = 1280, 800
	phoneW, phoneH     = 390, 844
)

// waitTimeout bounds each wait for the page; pods starting on Docker are
// the slowest thing the test waits for.
const waitTimeout = 60 * time.Second

// browser is one Chromium tab on the console, with what it printed.
type browser struct {
	ctx   context.Context
	base  string // the console's URL, no trailing slash
	shots string // the screenshot directory
	n     int    // screenshots taken

	metricsOn bool // Performance.enable was sent

	mu       sync.Mutex
	problems []string          // guarded by mu: exceptions and console errors not yet reported
	expected []expectedFailure // guarded by mu: failed requests the test provokes
	down     bool              // guarded by mu: the test has stopped the server; network errors are its doing
	lines    []string          // guarded by mu: everything the page printed, for failure reports
	changed  time.Time         // guarded by mu: when Chromium last dropped loads as the host's network changed
}

// expectedFailure is an HTTP error the test provokes: Chromium logs
// "Failed to load resource" for it, which is not a fault of the console.
type expectedFailure struct {
	status int
	path   string // the request's URL path
}

// startBrowser starts Chromium on a tab of its own and stops it when the
// test ends; extra options come after the defaults.
func startBrowser(t *testing.T, base string, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		path = "/usr/bin/chromium"
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("no Chromium: neither chromium on PATH nor %s (scripts/setup installs it; -short skips this test)", path)
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.WindowSize(desktopW, desktopH),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)

	b := &browser{ctx: ctx, base: strings.TrimSuffix(base, "/"), shots: screenshotDir(t)}
	// The first Run starts the browser: no timeout on it (see chromedp.Run).
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(desktopW, desktopH)); err != nil {
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	if err := chromedp.Listen(ctx, b.onEvent); err != nil {
		t.Fatal(err)
	}
	return b
}

// emptyShots empties the screenshot directory of an earlier run's files,
// once per test binary: every test of this run adds to it.
var emptyShots sync.Once

// screenshotDir is $BERTH_SCREENSHOTS or out/screenshots.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("BERTH_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(repoRoot(), "out", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot directory: %v", err)
	}
	emptyShots.Do(func() {
		old, _ := filepath.Glob(filepath.Join(dir, "[0-9][0-9]-*.png"))
		failed, _ := filepath.Glob(filepath.Join(dir, "FAILED-*.png"))
		for _, f := range append(old, failed...) {
			_ = os.Remove(f)
		}
	})
	abs, _ := filepath.Abs(dir)
	t.Logf("screenshots go to %s", abs)
	return abs
}

// onEvent runs on chromedp's reader goroutine: it only records.
func (b *browser) onEvent(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		b.record(true, "uncaught exception: "+exceptionText(ev.ExceptionDetails))
	case *runtime.EventConsoleAPICalled:
		text := fmt.Sprintf("console.%s: %s", ev.Type, argsText(ev.Args))
		bad := ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert
		b.record(bad, text)
	case *log.EventEntryAdded:
		e := ev.Entry
		text := fmt.Sprintf("log %s/%s: %s %s", e.Source, e.Level, e.Text, e.URL)
		if e.Level != log.EntryLevelError {
			b.record(false, text)
			return
		}
		if e.Source == log.EntrySourceNetwork && b.provoked(e) {
			b.record(false, text+" (provoked by the test)")
			return
		}
		if e.Source == log.EntrySourceNetwork && strings.Contains(e.Text, "net::ERR_NETWORK_CHANGED") {
			// Docker added an interface for a pod: Chromium drops what was
			// in flight then, and the page asks again.
			b.record(false, text+" (the host's network changed)")
			b.mu.Lock()
			b.changed = time.Now()
			b.mu.Unlock()
			return
		}
		if e.Source == log.EntrySourceNetwork && b.inOutage() {
			b.record(false, text+" (the test stopped the server)")
			return
		}
		b.record(true, text)
	}
}

func (b *browser) record(bad bool, text string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, text)
	if bad {
		b.problems = append(b.problems, text)
	}
}

var statusOf = regexp.MustCompile(`status of (\d+)`)

// provoked reports whether a failed load is one the test asked for.
func (b *browser) provoked(e *log.Entry) bool {
	m := statusOf.FindStringSubmatch(e.Text)
	u, err := url.Parse(e.URL)
	if m == nil || err != nil {
		return false
	}
	status, _ := strconv.Atoi(m[1])
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, x := range b.expected {
		if x.status == status && x.path == u.Path {
			return true
		}
	}
	return false
}

// outage declares that the test stops the server (true) until the page
// has recovered (false): failed requests meanwhile are its doing.
func (b *browser) outage(on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down = on
}

func (b *browser) inOutage() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.down
}

// metrics reads the tab's run-time metrics (Performance.getMetrics): the
// first call enables them, with durations in the main thread's own time
// (threadTicks), so that other processes on a busy machine do not count.
func (b *browser) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	b.do(t, "read the performance metrics", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if !b.metricsOn {
			if _, err := cdp.Call(ctx, tg, performance.Enable, performance.EnableParams{TimeDomain: performance.EnableTimeDomainThreadTicks}); err != nil {
				return err
			}
			b.metricsOn = true
		}
		res, err := cdp.Call(ctx, tg, performance.GetMetrics, cdp.Empty{})
		if err != nil {
			return err
		}
		for _, m := range res.Metrics {
			out[m.Name] = m.Value
		}
		return nil
	}))
	return out
}

// expect declares that the test is about to provoke an HTTP error.
func (b *browser) expect(status int, path string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expected = append(b.expected, expectedFailure{status, path})
}

// checkConsole fails t for every exception or console error since the last
// check.
func (b *browser) checkConsole(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	problems := b.problems
	b.problems = nil
	b.mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser console: %s", p)
	}
}

// consoleLog is everything the page printed so far.
func (b *browser) consoleLog() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "?"
	}
	s := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		s += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s (%s:%d:%d)", s, d.URL, d.LineNumber+1, d.ColumnNumber+1)
}

func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a.Description != "":
			parts = append(parts, a.Description)
		case len(a.Value) > 0:
			var s string
			if json.Unmarshal(a.Value, &s) == nil {
				parts = append(parts, s)
			} else {
				parts = append(parts, string(a.Value))
			}
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// do runs actions with a deadline, failing t with what on error.
func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.failShot(t)
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) into T.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS polls a JavaScript condition until it is true.
func (b *browser) waitJS(t *testing.T, what, cond string) {
	t.Helper()
	b.waitJSFor(t, waitTimeout, what, cond)
}

func (b *browser) waitJSFor(t *testing.T, timeout time.Duration, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.failShot(t)
			t.Fatalf("waited %v for %s (%s): last error %v\nbrowser console:\n%s", timeout, what, cond, err, b.consoleLog())
		}
		b.rebootIfDropped(t)
		time.Sleep(50 * time.Millisecond)
	}
}

// rebootIfDropped reloads a console, or a page of it, that never started
// because Chromium dropped its module loads when the host's network
// changed (other tests add interfaces, as Docker does for every pod
// network): a module that failed to load stays failed until the page
// loads again, and a user would press the page's "Try again", which
// reloads it.
func (b *browser) rebootIfDropped(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	changed := b.changed
	b.mu.Unlock()
	if changed.IsZero() || time.Since(changed) < 2*time.Second {
		return
	}
	// Either the shell's own modules failed (berth-app never defined), or
	// a page's did and the shell shows "This page failed to load".
	const dropped = `(!!document.querySelector('berth-app') && !customElements.get('berth-app')) || !!document.querySelector('[data-page-load-failed]')`
	if dead, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](dropped)); err != nil || !dead {
		return
	}
	b.mu.Lock()
	b.changed = time.Time{}
	b.mu.Unlock()
	t.Logf("the console did not start: its modules were dropped when the host's network changed; reloading")
	b.do(t, "reload the page", chromedp.Reload())
}

// click clicks the first element of a CSS selector, once it is visible.
func (b *browser) click(t *testing.T, sel string) {
	t.Helper()
	b.do(t, "click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// typeInto types text into the input of a CSS selector, after emptying it
// (chromedp.Clear only resets the value attribute, not what the page set).
func (b *browser) typeInto(t *testing.T, sel, text string) {
	t.Helper()
	b.do(t, "find "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	eval[bool](t, b, `((el) => { el.value = ''; el.dispatchEvent(new Event('input', { bubbles: true })); return true; })(document.querySelector(`+jsString(sel)+`))`)
	b.do(t, "type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
	if got := eval[string](t, b, `document.querySelector(`+jsString(sel)+`).value`); got != text {
		t.Fatalf("typed %q into %s, it holds %q", text, sel, got)
	}
}

// goTo navigates inside the console by its hash route, as a typed URL does.
func (b *browser) goTo(t *testing.T, route string) {
	t.Helper()
	eval[bool](t, b, "(location.hash = "+jsString("#"+route)+", true)")
}

// settle lets the page lay out and paint what it has: in the first frame
// the layout and the resize observers run (the terminal refits), in the
// second what they changed is rendered, and the third is painted.
func (b *browser) settle(t *testing.T) {
	t.Helper()
	eval[bool](t, b, `new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => requestAnimationFrame(() => r(true)))))`)
}

// shot saves a screenshot of the viewport as NN-name.png.
func (b *browser) shot(t *testing.T, name string) {
	t.Helper()
	b.settle(t)
	b.n++
	file := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name))
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// phoneShot saves a screenshot at a phone's size, then goes back to the
// desktop.
func (b *browser) phoneShot(t *testing.T, name string) {
	t.Helper()
	b.do(t, "phone viewport", chromedp.EmulateViewport(phoneW, phoneH, chromedp.EmulateMobile, chromedp.EmulateTouch))
	b.shot(t, name+"-phone") // shot settles: the resize observers refit first
	b.do(t, "desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
}

// failShot saves what the page showed when a step failed.
func (b *browser) failShot(t *testing.T) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return
	}
	name := "FAILED-" + regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-") + ".png"
	file := filepath.Join(b.shots, name)
	if os.WriteFile(file, png, 0o644) == nil {
		t.Logf("the page at the failure: %s", file)
	}
}

// onNewDocument runs script in every document the tab loads, before the
// page's own scripts.
func (b *browser) onNewDocument(t *testing.T, script string) {
	t.Helper()
	b.do(t, "add a script to new documents", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return err
	}))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	data, _ := json.Marshal(s)
	return string(data)
}
