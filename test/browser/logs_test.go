package browser

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	noderuntime "github.com/berthpaas/berth/backend/node/runtime"
)

// logwriterImage is the image of testdata/logwriter, built by the test.
const logwriterImage = "berth-test-logwriter:v1"

// The bars for a followed log.
const (
	floodRate      = 2000             // lines a second
	floodFor       = 60 * time.Second // measured, as the issue asks
	followLag      = time.Second      // newest line on screen after it was written
	busyBudget     = 0.25             // share of the tab's main thread
	heapBudget     = 64 << 20         // JS heap of the tab while following
	progressRedraw = 10               // redraws a second of a \r progress bar, at least
	restarts       = 5
)

// viewJS reads the log view: the newest line on screen (its text and the
// time the logwriter wrote it), whether it follows, its status.
const viewJS = `(() => {
  const v = document.querySelector('[data-test=log-view]');
  const st = document.querySelector('[data-test=log-status]');
  const r = v.getBoundingClientRect();
  const lines = v.querySelectorAll('.log-line');
  let el = lines[lines.length - 1];
  for (let i = lines.length - 1; i >= 0; i--) {
    const lr = lines[i].getBoundingClientRect();
    if (!lr.height) continue; // the unfinished line's slot, empty
    if (lr.top < r.bottom && lr.bottom > r.top) { el = lines[i]; break; }
    if (lr.bottom <= r.top) { el = null; break; }
  }
  const m = el && / t=(\d+) /.exec(el.textContent);
  return { newest: el ? el.textContent.slice(0, 60) : '', written: m ? Number(m[1]) : 0, now: Date.now(),
    lines: lines.length, follow: st.dataset.follow, conn: st.dataset.conn, transport: st.dataset.transport || '',
    status: st.textContent, scrollTop: v.scrollTop };
})()`

// viewState is what viewJS returns.
type viewState struct {
	Newest    string  `json:"newest"`
	Written   float64 `json:"written"`
	Now       float64 `json:"now"`
	Lines     int     `json:"lines"`
	Follow    string  `json:"follow"`
	Conn      string  `json:"conn"`
	Transport string  `json:"transport"`
	Status    string  `json:"status"`
	ScrollTop float64 `json:"scrollTop"`
}

func (v viewState) lag() time.Duration {
	return time.Duration(v.Now-v.Written) * time.Millisecond
}

// internalAddress is an IP address with a port, as no message to a user may show.
var internalAddress = regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}:\d+|\[[0-9a-f:]+\]:\d+`)

// TestLogs follows logs in the console as a demanding user would, against
// a real berth up and Docker: 2,000 lines a second for a minute, a scroll
// up during the flood, a progress bar redrawn 50 times a second, and the
// master restarted five times under the open tab.
func TestLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test of a real berth up with Chromium and Docker; skipped in -short mode")
	}
	start := time.Now()
	buildLogwriter(t)
	// Logs rotated every 1 MiB (about 7,400 flood lines): the flood's last
	// 10,000 lines, which the view keeps and step 01 checks, span a
	// rotation.
	c := startClusterAt(t, freeAddr(t), "--container-log-max-size", "1Mi")
	// Scrollbars as a person has them (chromedp hides them), to drag one.
	b := startBrowser(t, c.url, chromedp.Flag("hide-scrollbars", false))
	t.Logf("berth up and Chromium ready in %v", time.Since(start).Round(time.Millisecond))
	s := &story{t: t, b: b}
	b.do(t, "open the console", chromedp.Navigate(b.base+"/"))
	createProject(t, c, project)
	signIn(t, b, "admin", c.admin)

	s.step("01 flood: the view follows 2,000 lines/s", func(t *testing.T) { flood(t, c, b) })
	s.step("02 scroll up during the flood", func(t *testing.T) { scrollDuringFlood(t, b) })
	s.step("03 the overview tells the truth", func(t *testing.T) { overviewTruth(t, c, b) })
	s.step("04 master restarts", func(t *testing.T) { masterRestarts(t, c, b) })
	s.step("05 progress bar", func(t *testing.T) { progressBar(t, c, b) })
}

func flood(t *testing.T, c *cluster, b *browser) {
	ip := runLogwriter(t, c, "flood")
	b.goTo(t, "/projects/demo/pods/flood?tab=logs")
	b.waitJS(t, "the logwriter's first line", `[...document.querySelectorAll('[data-test=log-view] .log-line')].some((l) => l.textContent === 'logwriter listening') && document.querySelector('[data-test=log-status]').dataset.conn === 'open'`)
	b.settle(t)
	before := b.metrics(t)
	began := time.Now()
	// A little longer than measured: step 02 scrolls during the rest.
	askLogwriter(t, ip, fmt.Sprintf("/flood?tag=flood&rate=%d&seconds=%d", floodRate, int((floodFor+20*time.Second)/time.Second)))
	b.waitJSFor(t, 10*time.Second, "the first flood line", `/flood n=/.test(document.querySelector('[data-test=log-view]').textContent)`)
	var lags []time.Duration
	var worst viewState
	var heap []float64
	shot := false
	for time.Since(began) < floodFor {
		time.Sleep(500 * time.Millisecond)
		v := eval[viewState](t, b, viewJS)
		if v.Follow != "following" || v.Conn != "open" || v.Written == 0 {
			b.failShot(t)
			t.Fatalf("%v into the flood the view does not follow: %+v", time.Since(began).Round(time.Millisecond), v)
		}
		lags = append(lags, v.lag())
		if v.lag() > worst.lag() {
			worst = v
		}
		heap = append(heap, b.metrics(t)["JSHeapUsedSize"])
		if !shot && time.Since(began) > floodFor/2 {
			b.shot(t, "logs-flood")
			shot = true
		}
	}
	after := b.metrics(t)
	wall := time.Since(began)
	v := eval[viewState](t, b, viewJS)
	busy := (after["TaskDuration"] - before["TaskDuration"]) / wall.Seconds()
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	t.Logf("flood of %d lines/s for %v: newest line on screen after p50 %v, max %v (%q); %d lines in the page; transport %s",
		floodRate, floodFor, lags[len(lags)/2], lags[len(lags)-1], worst.Newest, v.Lines, v.Transport)
	t.Logf("main thread busy %.1f%% (Performance.getMetrics TaskDuration, thread time, over %v); JS heap %s",
		busy*100, wall.Round(time.Millisecond), heapCurve(heap))
	if lags[len(lags)-1] > followLag {
		t.Errorf("the newest line on screen was up to %v old, over %v", lags[len(lags)-1], followLag)
	}
	if busy > busyBudget {
		t.Errorf("the tab's main thread was busy %.1f%% of the time, over %.0f%%", busy*100, busyBudget*100)
	}
	if peak := maxOf(heap...); peak > heapBudget {
		t.Errorf("the JS heap reached %.1f MB, over %d MB", peak/(1<<20), heapBudget>>20)
	}
	if v.Lines > 10250 {
		t.Errorf("the page holds %d lines, over its bound", v.Lines)
	}
	checkSequence(t, b, "flood", false)
}

func scrollDuringFlood(t *testing.T, b *browser) {
	box := eval[[]float64](t, b, `(() => { const r = document.querySelector('[data-test=log-view]').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
	x, y := box[0]+box[2]/2, box[1]+box[3]/2
	paused := `document.querySelector('[data-test=log-status]').dataset.follow === 'paused'`
	following := `document.querySelector('[data-test=log-status]').dataset.follow === 'following'`

	b.do(t, "wheel up over the log", wheel(x, y, -600))
	b.waitJSFor(t, 5*time.Second, "following to stop", paused)
	// The wheel pauses at once; its scroll reaches the page after.
	viewAtRest(t, b, "the view at rest where the wheel took it", paused+` && document.querySelector('[data-test=log-view]').scrollTop < 0`)
	first := eval[viewState](t, b, viewJS)
	b.waitJSFor(t, 5*time.Second, "new lines counted while paused", `/^Paused — [\d,]+ new lines/.test(document.querySelector('[data-test=log-status]').textContent) && !document.querySelector('[data-test=log-jump]').hidden`)
	b.waitJSFor(t, 5*time.Second, "a thousand new lines", `Number((/Paused — ([\d,]+)/.exec(document.querySelector('[data-test=log-status]').textContent) || [0, '0'])[1].replace(/,/g, '')) > 1000`)
	later := eval[viewState](t, b, viewJS)
	t.Logf("paused by the wheel: %q", later.Status)
	if later.ScrollTop != first.ScrollTop || later.Newest != first.Newest {
		t.Errorf("the paused view moved under the reader: %+v then %+v", first, later)
	}
	b.shot(t, "logs-paused")
	b.click(t, "[data-test=log-jump]")
	b.waitJSFor(t, 5*time.Second, "following again after Jump to latest", following)
	b.waitJSFor(t, 5*time.Second, "the newest line on screen again", fmt.Sprintf(`(() => { const v = %s; return v.written && v.now - v.written < %d; })()`, viewJS, followLag.Milliseconds()))

	// The keyboard: PageUp stops following, End resumes it.
	b.do(t, "focus the log", chromedp.Focus(chromedp.CSS("[data-test=log-view]")))
	b.do(t, "press PageUp", chromedp.KeyEvent(kb.PageUp))
	b.waitJSFor(t, 5*time.Second, "following to stop by PageUp", paused)
	b.do(t, "press End", chromedp.KeyEvent(kb.End))
	b.waitJSFor(t, 5*time.Second, "following again after End", following)

	// The scrollbar: dragging its thumb up, as a hand does (pressed, moved
	// a frame at a time, released), stops following. A hand takes the thumb
	// where it sees it: once the view rests at its newest line (PageUp's
	// smooth scroll can run on after End for a few frames), the thumb is at
	// the bottom of the track, above the arrow.
	b.waitJSFor(t, 5*time.Second, "the view at its newest line", following+` && document.querySelector('[data-test=log-view]').scrollTop === 0`)
	viewAtRest(t, b, "the view at rest at its newest line", following+` && document.querySelector('[data-test=log-view]').scrollTop === 0`)
	sb := eval[[]float64](t, b, `(() => { const v = document.querySelector('[data-test=log-view]'); const r = v.getBoundingClientRect(); return [r.left + v.clientLeft + v.clientWidth + (r.width - v.clientWidth - v.clientLeft) / 2, r.bottom - 40, r.top + 40]; })()`)
	bar, from, to := sb[0], sb[1], sb[2]
	b.do(t, "press the scrollbar's thumb", chromedp.MouseEvent(chromedp.MousePressed, bar, from, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	const steps = 8
	for i := 1; i <= steps; i++ {
		b.do(t, "drag the scrollbar up", chromedp.MouseEvent(chromedp.MouseMoved, bar, from+(to-from)*float64(i)/steps, chromedp.ButtonLeft))
		eval[bool](t, b, `new Promise((r) => requestAnimationFrame(() => r(true)))`)
	}
	b.do(t, "release the scrollbar", chromedp.MouseEvent(chromedp.MouseReleased, bar, to, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	b.waitJSFor(t, 5*time.Second, "following to stop by the scrollbar, the view moved up", paused+` && document.querySelector('[data-test=log-view]').scrollTop < -100`)
	b.settle(t)
	dragged := eval[viewState](t, b, viewJS)
	t.Logf("paused by the scrollbar: %q, %.0f px above the newest line", dragged.Status, -dragged.ScrollTop)
	if dragged.Follow != "paused" {
		t.Errorf("the view follows again after the drag was released: %+v", dragged)
	}
	b.click(t, "[data-test=log-jump]")
	b.waitJSFor(t, 5*time.Second, "following again", following)
}

// viewAtRest waits until cond has held, with no scroll of the log view,
// for 10 frames in a row: a smooth scroll the last input started is over.
func viewAtRest(t *testing.T, b *browser, what, cond string) {
	t.Helper()
	ok := eval[bool](t, b, `new Promise((resolve) => {
  const v = document.querySelector('[data-test=log-view]');
  let quiet = 0, frames = 0;
  const moved = () => { quiet = 0; };
  v.addEventListener('scroll', moved);
  const frame = () => {
    quiet = (`+cond+`) ? quiet + 1 : 0;
    if (quiet >= 10 || ++frames > 300) { v.removeEventListener('scroll', moved); resolve(quiet >= 10); return; }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
})`)
	if !ok {
		b.failShot(t)
		t.Fatalf("waited 300 frames for %s (%s) to hold for 10: %+v", what, cond, eval[viewState](t, b, viewJS))
	}
}

func progressBar(t *testing.T, c *cluster, b *browser) {
	ip := runLogwriter(t, c, "progress")
	b.goTo(t, "/projects/demo/pods/progress?tab=logs")
	b.waitJS(t, "the logwriter's first line", `[...document.querySelectorAll('[data-test=log-view] .log-line')].some((l) => l.textContent === 'logwriter listening') && document.querySelector('[data-test=log-status]').dataset.conn === 'open'`)
	askLogwriter(t, ip, "/progress?hz=50&seconds=30")
	b.waitJSFor(t, 5*time.Second, "the progress bar on screen", `/progress \d+% step \d+/.test(document.querySelector('[data-test=log-view]').textContent)`)
	// What the screen shows, frame by frame, for three seconds.
	type sample struct {
		Frames   int      `json:"frames"`
		Distinct int      `json:"distinct"`
		MaxLines int      `json:"maxLines"`
		Texts    []string `json:"texts"`
	}
	got := eval[sample](t, b, `new Promise((resolve) => {
  const v = document.querySelector('[data-test=log-view]');
  const seen = new Set();
  let frames = 0, maxLines = 0;
  const texts = [];
  const t0 = performance.now();
  const frame = () => {
    const ls = [...v.querySelectorAll('.log-line')].filter((l) => l.textContent.includes('progress'));
    maxLines = Math.max(maxLines, ls.length);
    for (const l of ls) { if (!seen.has(l.textContent)) { seen.add(l.textContent); texts.push(l.textContent); } }
    frames++;
    if (performance.now() - t0 < 3000) requestAnimationFrame(frame);
    else resolve({ frames, distinct: seen.size, maxLines, texts: texts.slice(-5) });
  };
  requestAnimationFrame(frame);
})`)
	t.Logf("progress bar at 50 Hz: %d distinct texts in 3 s over %d frames, %d line(s); last: %q", got.Distinct, got.Frames, got.MaxLines, got.Texts)
	if got.MaxLines != 1 {
		t.Errorf("the progress bar took %d lines, want one", got.MaxLines)
	}
	if got.Distinct < 3*progressRedraw {
		t.Errorf("the progress bar was redrawn %d times in 3 s, want at least %d a second", got.Distinct, progressRedraw)
	}
	for _, text := range got.Texts {
		if regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d`).MatchString(text) || !regexp.MustCompile(`^progress \d+% step \d+$`).MatchString(text) {
			t.Errorf("the progress line shows %q, not one progress state", text)
		}
	}
	b.shot(t, "logs-progress")
}

// overviewTruth deploys a controller whose pods no node can take: the
// overview counts them ready / desired ("0 / 2", never "2 / 2"), sums
// them up by state and says why each waits, as the pod page does.
func overviewTruth(t *testing.T, c *cluster, b *browser) {
	replicas := int32(2)
	rc := v1.ReplicationController{
		TypeMeta:   metav1.TypeMeta{Kind: "ReplicationController", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "big"},
		Spec: v1.ReplicationControllerSpec{
			Replicas: &replicas,
			Selector: map[string]string{"app": "big"},
			Template: &v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "big"}},
				Spec: v1.PodSpec{Containers: []v1.Container{{Name: "main", Image: logwriterImage,
					Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceMemory: resource.MustParse("1Ti")}}}}},
			},
		},
	}
	resp := c.api.Do(t, http.MethodPost, "/api/v1/namespaces/"+project+"/replicationcontrollers", c.api.AdminToken, rc)
	if resp.Code != http.StatusCreated {
		t.Fatalf("create the controller: HTTP %d %s", resp.Code, resp.Body)
	}
	t.Cleanup(func() {
		c.trackPods(t, project)
		c.api.Do(t, http.MethodDelete, "/api/v1/namespaces/"+project+"/replicationcontrollers/big", c.api.AdminToken, nil)
	})
	const why = "Unschedulable: 0/1 nodes are available: 1 insufficient memory."
	b.goTo(t, "/projects/demo")
	card := `document.querySelector('[data-test=rc][data-rc=big]')`
	b.waitJS(t, "big's pods waiting, and why", card+` && `+card+`.querySelectorAll('[data-test=pod-row]').length === 2 &&
  [...`+card+`.querySelectorAll('[data-test=pod-reason]')].every((r) => !r.hidden && r.textContent === `+jsString(why)+`)`)
	got := eval[[]string](t, b, `[`+card+`.querySelector('[data-test=rc-replicas]').textContent, `+card+`.querySelector('[data-test=rc-summary]').textContent]`)
	t.Logf("the overview says %q", got)
	if got[0] != "0 / 2" || got[1] != "2 Pending" {
		t.Errorf("big's card says %q, want [\"0 / 2\" \"2 Pending\"]", got)
	}
	b.shot(t, "overview-pending-why")
	b.click(t, `[data-test=rc][data-rc=big] [data-test=pod-link]`)
	b.waitJS(t, "the pod page saying why", `document.querySelector('berth-pod-page [data-test=pod-reason]')?.textContent === `+jsString(why))
	b.shot(t, "pod-pending-why")
}

func masterRestarts(t *testing.T, c *cluster, b *browser) {
	ip := runLogwriter(t, c, "seq")
	b.goTo(t, "/projects/demo/pods/seq?tab=logs")
	b.waitJS(t, "the logwriter's first line", `[...document.querySelectorAll('[data-test=log-view] .log-line')].some((l) => l.textContent === 'logwriter listening') && document.querySelector('[data-test=log-status]').dataset.conn === 'open'`)
	askLogwriter(t, ip, "/flood?tag=seq&rate=20&seconds=0")
	b.waitJSFor(t, 10*time.Second, "seq lines", `/seq n=000010/.test(document.querySelector('[data-test=log-view]').textContent)`)
	ctr := containerOf(t, c, "seq")
	down := `document.querySelector('[data-test=log-status]').dataset.conn !== 'open' &&
  !document.querySelector('[data-test=state-unknown]').hidden &&
  document.querySelector('[data-test=live-state]').dataset.state !== 'open' &&
  ['pod-stop', 'pod-start', 'pod-restart', 'pod-delete'].every((a) => document.querySelector('[data-test=' + a + ']').disabled)`
	up := `document.querySelector('[data-test=log-status]').dataset.conn === 'open' &&
  document.querySelector('[data-test=state-unknown]').hidden &&
  document.querySelector('[data-test=live-state]').dataset.state === 'open' &&
  !document.querySelector('[data-test=pod-delete]').disabled`
	for i := 1; i <= restarts; i++ {
		b.outage(true)
		shown := newestSeq(t, b)
		stopped := time.Now()
		c.stop(t)
		b.waitJSFor(t, 10*time.Second, "the page to say its state is unknown", down)
		texts := eval[[]string](t, b, `[document.querySelector('[data-test=state-unknown]').textContent, document.querySelector('[data-test=log-status]').textContent, document.querySelector('[data-test=live-state]').textContent]`)
		for _, s := range texts {
			if internalAddress.MatchString(s) {
				t.Errorf("during the outage the page shows an internal address: %q", s)
			}
		}
		if i == 1 {
			t.Logf("during the outage: %q", texts)
			b.shot(t, "logs-outage")
		}
		// Lines written while the master is away: the container's own log shows them.
		written := waitContainerSeq(t, c, ctr, shown+20)
		c.launch(t)
		b.waitJSFor(t, 30*time.Second, "the log to resume", up+fmt.Sprintf(` && (%s) >= %d`, newestSeqJS, written+5))
		b.outage(false)
		t.Logf("restart %d: down %v, %d lines written meanwhile, resumed; status %q", i, time.Since(stopped).Round(time.Millisecond), written-shown, eval[viewState](t, b, viewJS).Status)
	}
	b.shot(t, "logs-after-restarts")
	checkSequence(t, b, "seq", true)
}

// wheelParams are Input.dispatchMouseEvent's for a wheel: cdproto leaves
// out a zero deltaX, which Chromium requires.
type wheelParams struct {
	Type   string  `json:"type"`
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	DeltaX float64 `json:"deltaX"`
	DeltaY float64 `json:"deltaY"`
}

var dispatchWheel = cdp.Command[wheelParams, cdp.Empty]{Method: input.CommandDispatchMouseEvent}

// wheel turns the mouse wheel at x, y by dy pixels (negative: up), as a person does.
func wheel(x, y, dy float64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, dispatchWheel, wheelParams{Type: "mouseWheel", X: x, Y: y, DeltaY: dy})
		return err
	})
}

// checkSequence reads the numbered lines of tag the view keeps: each follows
// the one before, none lost or repeated (from 0 when fromZero).
func checkSequence(t *testing.T, b *browser, tag string, fromZero bool) {
	t.Helper()
	seqs := eval[[]int](t, b, `document.querySelector('berth-log-view').text().map((l) => /^`+tag+` n=(\d+) /.exec(l)).filter(Boolean).map((m) => Number(m[1]))`)
	if len(seqs) == 0 {
		t.Fatalf("no %s lines in the view", tag)
	}
	if fromZero && seqs[0] != 0 {
		t.Errorf("the first %s line is n=%d, want n=0", tag, seqs[0])
	}
	breaks := 0
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Errorf("%s n=%d follows n=%d: lines lost or repeated", tag, seqs[i], seqs[i-1])
			breaks++
		}
	}
	if breaks == 0 {
		t.Logf("%d %s lines in the view, n=%d…%d, in order, none lost or repeated", len(seqs), tag, seqs[0], seqs[len(seqs)-1])
	}
}

// newestSeqJS is the number of the newest seq line the view has.
const newestSeqJS = `(() => { const ls = document.querySelector('berth-log-view').text(); for (let i = ls.length - 1; i >= 0; i--) { const m = /^seq n=(\d+)/.exec(ls[i]); if (m) return Number(m[1]); } return -1; })()`

func newestSeq(t *testing.T, b *browser) int {
	t.Helper()
	return eval[int](t, b, newestSeqJS)
}

// waitContainerSeq waits until the container's own log has a seq line
// numbered at least n, and returns the newest number.
func waitContainerSeq(t *testing.T, c *cluster, id string, n int) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	re := regexp.MustCompile(`seq n=(\d+) `)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rc, err := c.docker.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, Tail: "1"})
		var last int
		if err == nil {
			data, _ := io.ReadAll(rc)
			rc.Close()
			if m := re.FindAllSubmatch(data, -1); len(m) > 0 {
				last, _ = strconv.Atoi(string(m[len(m)-1][1]))
			}
		}
		cancel()
		if last >= n {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container wrote up to seq n=%d, waited for n=%d (%v)", last, n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// containerOf is the Docker container of the pod's first container.
func containerOf(t *testing.T, c *cluster, pod string) string {
	t.Helper()
	p := c.pod(t, project, pod)
	list, err := c.docker.ContainerList(t.Context(), container.ListOptions{
		Filters: filters.NewArgs(filters.Arg("label", noderuntime.LabelPodUID+"="+string(p.UID))),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, ctr := range list {
		if strings.HasPrefix(p.Status.ContainerStatuses[0].ContainerID, "docker://"+ctr.ID) {
			return ctr.ID
		}
	}
	t.Fatalf("no Docker container of pod %s (%s)", pod, p.Status.ContainerStatuses[0].ContainerID)
	return ""
}

// runLogwriter creates a pod of the logwriter image and returns its IP
// once it runs.
func runLogwriter(t *testing.T, c *cluster, name string) string {
	t.Helper()
	pod := v1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "main", Image: logwriterImage}}},
	}
	resp := c.api.Do(t, http.MethodPost, "/api/v1/namespaces/"+project+"/pods", c.api.AdminToken, pod)
	if resp.Code != http.StatusCreated {
		t.Fatalf("create pod %s: HTTP %d %s", name, resp.Code, resp.Body)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		p := c.pod(t, project, name)
		if p.Status.Phase == v1.PodRunning && p.Status.PodIP != "" {
			return p.Status.PodIP
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s did not run within %v: %+v", name, waitTimeout, p.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// get asks the logwriter at ip for path.
func askLogwriter(t *testing.T, ip, path string) {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get("http://" + net.JoinHostPort(ip, "8080") + path)
	if err != nil {
		t.Fatalf("ask the logwriter for %s: %v", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ask the logwriter for %s: %s", path, resp.Status)
	}
}

// createProject creates a project through the API.
func createProject(t *testing.T, c *cluster, name string) {
	t.Helper()
	body := map[string]any{"apiVersion": "berth.dev/v1", "kind": "Project", "metadata": map[string]string{"name": name}}
	resp := c.api.Do(t, http.MethodPost, "/apis/berth.dev/v1/projects", c.api.AdminToken, body)
	if resp.Code != http.StatusCreated {
		t.Fatalf("create project %s: HTTP %d %s", name, resp.Code, resp.Body)
	}
}

// freeAddr is a loopback address with a port free now, for a server the
// test restarts on the same address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// buildLogwriter builds the image of testdata/logwriter: FROM scratch
// plus the static program.
func buildLogwriter(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, "logwriter"), "./testdata/logwriter")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	mustRun(t, build)
	df := "FROM scratch\nCOPY logwriter /logwriter\nEXPOSE 8080\nENTRYPOINT [\"/logwriter\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, exec.Command("docker", "build", "-q", "-t", logwriterImage, dir))
}

func heapCurve(samples []float64) string {
	if len(samples) == 0 {
		return "not sampled"
	}
	var parts []string
	for i := 0; i < len(samples); i += max(len(samples)/8, 1) {
		parts = append(parts, fmt.Sprintf("%.1f", samples[i]/(1<<20)))
	}
	return fmt.Sprintf("%s MB over the run (peak %.1f MB)", strings.Join(parts, " → "), maxOf(samples...)/(1<<20))
}

func maxOf(xs ...float64) float64 {
	m := 0.0
	for _, x := range xs {
		if x > m {
			m = x
		}
	}
	return m
}
