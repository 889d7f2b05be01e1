package browser

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestQuotaBars: a project's overview shows its quota as bars of use
// against the limits, and follows them live as pods come and go.
func TestQuotaBars(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test of a real berth up with Chromium; skipped in -short mode")
	}
	c := startCluster(t)
	b := startBrowser(t, c.url)
	s := &story{t: t, b: b}
	do := func(t *testing.T, method, path string, body any, want int) {
		t.Helper()
		if resp := c.api.Do(t, method, path, c.api.AdminToken, body); resp.Code != want {
			t.Fatalf("%s %s: %d %s", method, path, resp.Code, resp.Body)
		}
	}
	do(t, http.MethodPost, "/api/v1/namespaces", map[string]any{"metadata": map[string]string{"name": "shop"}}, http.StatusCreated)
	do(t, http.MethodPost, "/api/v1/namespaces/shop/resourcequotas", map[string]any{
		"metadata": map[string]string{"name": "compute"},
		"spec":     map[string]any{"hard": map[string]string{"pods": "4", "requests.memory": "1Gi"}},
	}, http.StatusCreated)
	pod := func(name string) map[string]any {
		return map[string]any{"metadata": map[string]string{"name": name}, "spec": map[string]any{
			"nodeSelector": map[string]string{"berth.dev/none": "true"}, // stays Pending: no node needed
			"containers": []any{map[string]any{"name": "web", "image": "registry.example/web:1",
				"resources": map[string]any{"requests": map[string]string{"memory": "768Mi"}}}}}}
	}
	do(t, http.MethodPost, "/api/v1/namespaces/shop/pods", pod("web"), http.StatusCreated)
	bar := func(t *testing.T, resource, used string) {
		t.Helper()
		b.waitJS(t, resource+" at "+used, `document.querySelector('[data-test=quota][data-resource="`+resource+`"]')?.dataset.used === `+jsString(used))
	}

	s.step("01 the overview shows the quota", func(t *testing.T) {
		b.do(t, "open the console", chromedp.Navigate(b.base+"/"))
		b.waitJS(t, "the sign-in form", `document.querySelector('#login-username')`)
		signIn(t, b, "admin", c.admin)
		b.goTo(t, "/projects/shop")
		bar(t, "pods", "1")
		bar(t, "requests.memory", "805306368")
		if got := eval[string](t, b, `document.querySelector('[data-test=quota][data-resource="requests.memory"] .meter-fill').className`); got != "meter-fill high" {
			t.Errorf("768Mi of 1Gi: bar %q, want amber (high)", got)
		}
		if got := eval[string](t, b, `document.querySelector('[data-test=quota][data-resource=pods] .meter-top').textContent`); got != "pods1 of 4 used (25%)" {
			t.Errorf("pods bar reads %q", got)
		}
		b.shot(t, "quota-overview")
	})

	s.step("02 the bars follow pods live", func(t *testing.T) {
		do(t, http.MethodDelete, "/api/v1/namespaces/shop/pods/web", nil, http.StatusOK)
		bar(t, "pods", "0")
		bar(t, "requests.memory", "0")
	})
}
