package browser

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/chromedp/chromedp"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
)

// The Usage page charts what a running pod used, with the table behind
// the chart, and its CSV download holds the same totals.
func TestUsagePage(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test of a real berth up with Chromium and Docker; skipped in -short mode")
	}
	c := startCluster(t)
	for _, req := range []struct {
		path string
		body map[string]any
	}{
		{"/api/v1/namespaces", map[string]any{"metadata": map[string]string{"name": project}}},
		{"/api/v1/namespaces/" + project + "/pods", map[string]any{"metadata": map[string]string{"name": "metered"},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": helloImage, "imagePullPolicy": "IfNotPresent"}}}}},
	} {
		if resp := c.api.Do(t, http.MethodPost, req.path, c.api.AdminToken, req.body); resp.Code != http.StatusCreated {
			t.Fatalf("POST %s: HTTP %d %s", req.path, resp.Code, resp.Body)
		}
	}
	c.pod(t, project, "metered")
	today := time.Now().UTC().Format(time.DateOnly)
	report := func() berthv1.UsageReport {
		var r berthv1.UsageReport
		resp := c.api.Do(t, http.MethodGet, "/apis/berth.dev/v1/namespaces/"+project+"/usage?groupBy=day,pod&from="+today, c.api.AdminToken, nil)
		if resp.Code != http.StatusOK {
			t.Fatalf("usage: HTTP %d %s", resp.Code, resp.Body)
		}
		resp.JSON(t, &r)
		return r
	}
	deadline := time.Now().Add(2 * time.Minute)
	for report().Total.PodHours < 5.0/3600 {
		if time.Now().After(deadline) {
			t.Fatalf("no usage of the pod within 2m: %+v", report())
		}
		time.Sleep(200 * time.Millisecond)
	}
	b := startBrowser(t, c.url)
	b.do(t, "open the console", chromedp.Navigate(b.base+"/"))
	b.waitJS(t, "the sign-in form", `document.querySelector('#login-username')`)
	signIn(t, b, "admin", c.admin)
	podGraphsShowTheAPIFigures(t, c, b)
	nodeUseShowsTheAPIFigures(t, c, b, c.pod(t, project, "metered").Spec.NodeName)

	// The pod stops, so that the figures hold still while they are compared.
	if resp := c.api.Do(t, http.MethodDelete, "/api/v1/namespaces/"+project+"/pods/metered?gracePeriodSeconds=0", c.api.AdminToken, nil); resp.Code != http.StatusOK {
		t.Fatalf("delete pod: HTTP %d %s", resp.Code, resp.Body)
	}
	var final berthv1.UsageReport
	for stable := 0; stable < 3; time.Sleep(time.Second) {
		r := report()
		if r.Total == final.Total {
			stable++
		} else {
			final, stable = r, 0
		}
	}

	b.click(t, "[data-test=nav-usage]")
	b.waitJS(t, "the usage page", `location.hash.startsWith('#/usage') && document.querySelector('berth-usage-page [data-test=usage-total]')`)
	b.goTo(t, fmt.Sprintf("/usage?project=%s&by=pod&from=%s&to=%s", project, today, today))
	b.waitJS(t, "the chart of the project's pods", `document.querySelector('berth-usage-page [data-test=usage-chart] canvas') && document.querySelector('[data-test=usage-row]')?.textContent.includes('metered')`)
	b.settle(t)
	b.shot(t, "usage")

	shown := eval[string](t, b, `document.querySelector('[data-test=usage-total] [data-metric=cpuCoreHours]').textContent`)
	if want := strconv.FormatFloat(final.Total.CPUCoreHours, 'f', 3, 64); shown != want {
		t.Fatalf("the page shows %s CPU core-hours, the API %s", shown, want)
	}
	csv := eval[string](t, b, `fetch(document.querySelector('[data-test=usage-csv]').href).then((r) => r.text())`)
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	header := strings.Split(lines[0], ",")
	if len(lines) < 2 || header[0] != "day" || header[1] != "pod" || header[2] != "cpu_core_hours" || header[4] != "pod_hours" {
		t.Fatalf("CSV:\n%s", csv)
	}
	var cpu, podHours float64
	for _, line := range lines[1:] {
		cells := strings.Split(line, ",")
		v, _ := strconv.ParseFloat(cells[2], 64)
		p, _ := strconv.ParseFloat(cells[4], 64)
		cpu, podHours = cpu+v, podHours+p
	}
	if math.Abs(cpu-final.Total.CPUCoreHours) > 1e-9 || math.Abs(podHours-final.Total.PodHours) > 1e-9 {
		t.Fatalf("the CSV adds up to %v CPU core-hours and %v pod-hours; the report says %v and %v", cpu, podHours, final.Total.CPUCoreHours, final.Total.PodHours)
	}
	b.checkConsole(t)
}

// chartedPoints is what a pod page's graphs hold, read from their uPlot
// instances, and whether each point is drawn: the canvas has the
// series' colour within a few pixels of where the point belongs.
type chartedPoints struct {
	Xs, CPU, Memory       []float64
	CPUDrawn, MemoryDrawn []bool
	// Span is the time axes' ends, CPU then memory (Unix seconds).
	Span [4]float64
}

const readPodGraphs = `(async () => {
	const g = document.querySelector('berth-pod-graphs');
	await g.refresh();
	await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
	// drawn: whether the series' stroke colour is painted near each point.
	const drawn = (u) => {
		const cv = u.ctx.canvas, ctx = cv.getContext('2d');
		const [r, gr, bl] = u.series[1].stroke().match(/[0-9a-f]{2}/gi).map((x) => parseInt(x, 16));
		return u.data[0].map((x, i) => {
			const px = Math.round(u.valToPos(x, 'x', true)), py = Math.round(u.valToPos(u.data[1][i], 'y', true));
			const d = ctx.getImageData(Math.max(0, px - 4), Math.max(0, py - 4), 9, 9).data;
			for (let k = 0; k < d.length; k += 4) {
				if (Math.abs(d[k] - r) < 40 && Math.abs(d[k + 1] - gr) < 40 && Math.abs(d[k + 2] - bl) < 40 && d[k + 3] > 128) return true;
			}
			return false;
		});
	};
	return { Xs: g.cpuChart.data[0], CPU: g.cpuChart.data[1], Memory: g.memChart.data[1], CPUDrawn: drawn(g.cpuChart), MemoryDrawn: drawn(g.memChart),
		Span: [g.cpuChart.scales.x.min, g.cpuChart.scales.x.max, g.memChart.scales.x.min, g.memChart.scales.x.max] };
})()`

// podGraphsShowTheAPIFigures opens the pod's page: its CPU and memory
// graphs span the last hour and hold the API's per-minute figures of the
// pod (cores and bytes: a minute's core-hours and GiB-hours over the
// hours the pod ran in it), and draw each.
func podGraphsShowTheAPIFigures(t *testing.T, c *cluster, b *browser) {
	t.Helper()
	b.goTo(t, "/projects/"+project+"/pods/metered")
	b.waitJS(t, "the pod's graphs", `document.querySelector('berth-pod-graphs')?.cpuChart && document.querySelector('berth-pod-graphs')?.memChart`)
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1e-9, math.Abs(b)) }
	var mismatch string
	// A window stored between the page's read and the test's changes the
	// newest minute: then both read again.
	for range 5 {
		got := eval[chartedPoints](t, b, readPodGraphs)
		if len(got.Xs) == 0 {
			t.Fatal("the pod's graphs hold no point")
		}
		now := float64(time.Now().Unix())
		for _, end := range [][2]float64{{got.Span[0], got.Span[1]}, {got.Span[2], got.Span[3]}} {
			if math.Abs(end[1]-end[0]-3600) > 60 || math.Abs(end[1]-now) > 120 {
				t.Fatalf("a graph spans %v to %v, not the last hour (now %v)", end[0], end[1], now)
			}
		}
		var r berthv1.UsageReport
		from := time.Unix(int64(got.Xs[0]), 0).UTC().Format(time.RFC3339)
		resp := c.api.Do(t, http.MethodGet, "/apis/berth.dev/v1/namespaces/"+project+"/usage?groupBy=minute&pod=metered&from="+from, c.api.AdminToken, nil)
		if resp.Code != http.StatusOK {
			t.Fatalf("usage: HTTP %d %s", resp.Code, resp.Body)
		}
		resp.JSON(t, &r)
		mismatch = ""
		if len(r.Rows) != len(got.Xs) {
			mismatch = fmt.Sprintf("the graphs hold %d minutes, the API %d", len(got.Xs), len(r.Rows))
		}
		for i := 0; mismatch == "" && i < len(r.Rows); i++ {
			row := r.Rows[i]
			ran := row.PodHours // the hours the pod ran in the minute
			if ran == 0 {
				ran = 1.0 / 60
			}
			cores, bytes := row.CPUCoreHours/ran, row.MemoryGiBHours/ran*(1<<30)
			switch {
			case row.Minute == nil || float64(row.Minute.Unix()) != got.Xs[i]:
				mismatch = fmt.Sprintf("point %d is at %v, the API's minute %v", i, got.Xs[i], row.Minute)
			case !near(got.CPU[i], cores) || !near(got.Memory[i], bytes):
				mismatch = fmt.Sprintf("minute %v: the graphs show %v cores and %v bytes, the API %v and %v", row.Minute, got.CPU[i], got.Memory[i], cores, bytes)
			case !got.CPUDrawn[i] || !got.MemoryDrawn[i]:
				t.Fatalf("minute %v: the point is not drawn (CPU graph %v, memory graph %v)", row.Minute, got.CPUDrawn[i], got.MemoryDrawn[i])
			}
		}
		if mismatch == "" {
			t.Logf("pod graphs: %d minutes, as the API reports them", len(got.Xs))
			eval[bool](t, b, `(document.querySelector('berth-pod-graphs').scrollIntoView(), true)`)
			b.shot(t, "pod-graphs")
			return
		}
	}
	t.Fatal(mismatch)
}

// nodeUseShowsTheAPIFigures opens the nodes page: the node's CPU and
// memory in use are metrics.k8s.io's figures for it, against its
// capacity, and the bars are as long as their share.
func nodeUseShowsTheAPIFigures(t *testing.T, c *cluster, b *browser, node string) {
	t.Helper()
	b.goTo(t, "/nodes")
	sel := fmt.Sprintf(`[data-test=node][data-node=%s]`, jsString(node))
	b.waitJS(t, "the node's use", `document.querySelector('`+sel+` [data-test=node-memory-use]')?.dataset.used > 0`)
	type shown struct {
		CPU, CPUCap, Memory, MemoryCap float64
		CPUWidth, MemoryWidth          float64 // the bars' width, in %
	}
	var mismatch string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		got := eval[shown](t, b, `(() => {
			const cpu = document.querySelector('`+sel+` [data-test=node-cpu-use]'), mem = document.querySelector('`+sel+` [data-test=node-memory-use]');
			return { CPU: +cpu.dataset.used, CPUCap: +cpu.dataset.total, Memory: +mem.dataset.used, MemoryCap: +mem.dataset.total,
				CPUWidth: parseFloat(cpu.querySelector('.meter-fill').style.width), MemoryWidth: parseFloat(mem.querySelector('.meter-fill').style.width) };
		})()`)
		var m metricsv1beta1.NodeMetrics
		resp := c.api.Do(t, http.MethodGet, "/apis/metrics.k8s.io/v1beta1/nodes/"+node, c.api.AdminToken, nil)
		if resp.Code != http.StatusOK {
			t.Fatalf("node metrics: HTTP %d %s", resp.Code, resp.Body)
		}
		resp.JSON(t, &m)
		var n v1.Node
		resp = c.api.Do(t, http.MethodGet, "/api/v1/nodes/"+node, c.api.AdminToken, nil)
		if resp.Code != http.StatusOK {
			t.Fatalf("node: HTTP %d %s", resp.Code, resp.Body)
		}
		resp.JSON(t, &n)
		cpu, mem := m.Usage.Cpu().AsApproximateFloat64(), m.Usage.Memory().AsApproximateFloat64()
		cpuCap, memCap := n.Status.Capacity.Cpu().AsApproximateFloat64(), n.Status.Capacity.Memory().AsApproximateFloat64()
		// The bars are as wide as the share, to a tenth of a percent.
		width := func(used, total float64) float64 { return math.Min(100, used/total*100) }
		near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Abs(b) }
		if near(got.CPU, cpu) && near(got.Memory, mem) && got.CPUCap == cpuCap && got.MemoryCap == memCap &&
			math.Abs(got.CPUWidth-width(cpu, cpuCap)) < 0.06 && math.Abs(got.MemoryWidth-width(mem, memCap)) < 0.06 {
			t.Logf("node %s: %v cores of %v, %v bytes of %v in use, as metrics.k8s.io says", node, cpu, cpuCap, mem, memCap)
			b.shot(t, "node-use")
			return
		}
		// The page reads the figures every 15 s: a newer window shows at
		// its next read.
		mismatch = fmt.Sprintf("the page shows %+v; the API %v of %v cores, %v of %v bytes", got, cpu, cpuCap, mem, memCap)
	}
	t.Fatal(mismatch)
}
