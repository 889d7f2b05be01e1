package browser

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

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

	b := startBrowser(t, c.url)
	b.do(t, "open the console", chromedp.Navigate(b.base+"/"))
	b.waitJS(t, "the sign-in form", `document.querySelector('#login-username')`)
	signIn(t, b, "admin", c.admin)
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
