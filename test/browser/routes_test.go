package browser

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestRoutesPage drives routes on a project's Services page against berth
// up: an editor creates a route to a service of the hello pods, its URL
// shows on the service's row as a link, and following the link (its
// default host is a *.localhost name, which Chromium resolves to loopback
// with no DNS set-up) reaches a pod through the router; a host another
// route holds is refused beside the Host field; the route is deleted from
// the page.
func TestRoutesPage(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test of a real berth up with Chromium; skipped in -short mode")
	}
	c := startCluster(t)
	const project = "demo"
	create := func(path string, body map[string]any) {
		t.Helper()
		if resp := c.api.Do(t, http.MethodPost, path, c.api.AdminToken, body); resp.Code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", path, resp.Code, resp.Body)
		}
	}
	create("/api/v1/namespaces", map[string]any{"metadata": map[string]string{"name": project}})
	labels := map[string]string{"app": "hello"}
	create("/api/v1/namespaces/"+project+"/replicationcontrollers", map[string]any{
		"metadata": map[string]any{"name": "hello"},
		"spec": map[string]any{"replicas": 1, "selector": labels, "template": map[string]any{
			"metadata": map[string]any{"labels": labels},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "hello", "image": helloImage, "imagePullPolicy": "IfNotPresent",
				"ports": []any{map[string]any{"containerPort": 8080}}}}},
		}},
	})
	create("/api/v1/namespaces/"+project+"/services", map[string]any{
		"metadata": map[string]any{"name": "hello"},
		"spec":     map[string]any{"selector": labels, "ports": []any{map[string]any{"port": 80, "targetPort": 8080}}},
	})
	create("/apis/berth.dev/v1/namespaces/"+project+"/routes", map[string]any{
		"metadata": map[string]any{"name": "taken"},
		"spec":     map[string]any{"host": "taken.example.com", "to": map[string]any{"name": "hello"}},
	})
	b := startBrowser(t, c.url)
	s := &story{t: t, b: b}
	row := `document.querySelector('[data-test=service-row][data-service=hello]')`
	var url string

	s.step("01 create a route", func(t *testing.T) {
		b.do(t, "open the console", chromedp.Navigate(b.base+"/"))
		b.waitJS(t, "the sign-in form", `document.querySelector('#login-username')`)
		signIn(t, b, "admin", c.admin)
		b.goTo(t, "/projects/"+project+"/services")
		b.waitJSFor(t, 2*time.Minute, "hello's endpoint ready", `(() => { const r = `+row+`; return r && r.querySelector('[data-test=endpoints-ready]').textContent === '1 ready'; })()`)
		b.waitJS(t, "the route form", `document.querySelector('#route-service')?.value === 'hello'`)
		b.typeInto(t, "#route-name", "web")
		b.click(t, "[data-test=create-route]")
		b.waitJS(t, "the route's URL on hello's row", row+`.querySelector('[data-test=route][data-route=web] [data-test=route-url]')`)
		url = eval[string](t, b, row+`.querySelector('[data-test=route][data-route=web] [data-test=route-url]').href`)
		var r struct {
			Status struct{ URL string } `json:"status"`
		}
		resp := c.api.Do(t, http.MethodGet, "/apis/berth.dev/v1/namespaces/"+project+"/routes/web", c.api.AdminToken, nil)
		resp.JSON(t, &r)
		if r.Status.URL != url || !strings.HasPrefix(url, "http://hello-"+project+".apps.localhost:") {
			t.Fatalf("the page links %q, the API says %q", url, r.Status.URL)
		}
		b.shot(t, "routes")
	})

	s.step("02 a taken host", func(t *testing.T) {
		b.expect(http.StatusUnprocessableEntity, "/apis/berth.dev/v1/namespaces/"+project+"/routes")
		b.typeInto(t, "#route-name", "again")
		b.typeInto(t, "#route-host", "taken.example.com")
		b.click(t, "[data-test=create-route]")
		b.waitJS(t, "the error beside Host", `/already taken/.test(document.querySelector('[data-error-for="spec.host"]').textContent)`)
		b.shot(t, "route-taken")
	})

	s.step("03 follow the URL", func(t *testing.T) {
		// The link opens a new tab; here it is followed in this one.
		eval[bool](t, b, `(document.querySelector('[data-test=route][data-route=web] [data-test=route-url]').target = '_self', true)`)
		b.click(t, "[data-test=route][data-route=web] [data-test=route-url]")
		b.waitJSFor(t, 30*time.Second, "the hello pod's answer through the router", `location.href === `+jsString(url)+` && document.body.textContent.includes('Hello from Berth!')`)
		b.shot(t, "route-answer")
		b.do(t, "back to the console", chromedp.Navigate(b.base+"/#/projects/"+project+"/services"))
	})

	s.step("04 delete the route", func(t *testing.T) {
		b.waitJS(t, "the delete button", `document.querySelector('[data-test=delete-route][data-route=web]')`)
		b.click(t, "[data-test=delete-route][data-route=web]")
		b.waitJS(t, "the confirmation", `document.querySelector('[data-test=confirm]')?.open`)
		b.click(t, "[data-test=confirm-ok]")
		b.waitJS(t, "the route gone from the page", `!document.querySelector('[data-test=route][data-route=web]')`)
		if resp := c.api.Do(t, http.MethodGet, "/apis/berth.dev/v1/namespaces/"+project+"/routes/web", c.api.AdminToken, nil); resp.Code != http.StatusNotFound {
			t.Fatalf("the route after its deletion: %d", resp.Code)
		}
	})
}

// routeAnswer GETs a route's URL through the router on loopback, with the
// route's host as Host (Go does not resolve *.localhost names itself).
func routeAnswer(t *testing.T, routeURL string) string {
	t.Helper()
	u, err := url.Parse(routeURL)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://127.0.0.1:"+u.Port()+u.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = u.Host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", routeURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, body)
}
