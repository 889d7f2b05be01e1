package browser

import (
	"net/http"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
)

// projectNetwork reads a project's network through the API.
func (c *cluster) projectNetwork(t *testing.T, project string) (netID string, joined []string) {
	t.Helper()
	resp := c.api.Do(t, http.MethodGet, "/apis/berth.dev/v1/projects/"+project+"/network", c.api.AdminToken, nil)
	if resp.Code != http.StatusOK {
		t.Fatalf("network of %s: %d %s", project, resp.Code, resp.Body)
	}
	var pn struct {
		NetID  string   `json:"netID"`
		Joined []string `json:"joined"`
	}
	resp.JSON(t, &pn)
	return pn.NetID, pn.Joined
}

// TestNetworkPage drives a project's Network page against berth up: a
// cluster admin joins one project to another's network, makes a project
// global and isolates one again, each change stored as the page says; a
// project member sees the page without the actions.
func TestNetworkPage(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test of a real berth up with Chromium; skipped in -short mode")
	}
	c := startCluster(t)
	b := startBrowser(t, c.url)
	s := &story{t: t, b: b}
	for _, p := range []string{"shop", "bank", "ops"} {
		if resp := c.api.Do(t, http.MethodPost, "/api/v1/namespaces", c.api.AdminToken, map[string]any{"metadata": map[string]string{"name": p}}); resp.Code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", p, resp.Code, resp.Body)
		}
	}
	shopNetID, _ := c.projectNetwork(t, "shop")
	state := func(t *testing.T, kind string) {
		t.Helper()
		b.waitJS(t, "the network state "+kind, `document.querySelector('[data-test=network-state]')?.dataset.kind === `+jsString(kind))
	}
	confirm := func(t *testing.T) {
		t.Helper()
		b.waitJS(t, "the confirmation", `document.querySelector('[data-test=confirm]')?.open`)
		b.click(t, "[data-test=confirm-ok]")
	}

	s.step("01 a project's own network", func(t *testing.T) {
		b.do(t, "open the console", chromedp.Navigate(b.base+"/"))
		b.waitJS(t, "the sign-in form", `document.querySelector('#login-username')`)
		signIn(t, b, "admin", c.admin)
		b.goTo(t, "/projects/bank")
		b.click(t, "[data-test=nav-network]")
		b.waitJS(t, "the network page", `location.hash === '#/projects/bank/network' && document.querySelector('[data-test=network-join]')`)
		state(t, "own network")
		b.shot(t, "network-own")
	})

	s.step("02 join bank to shop's network", func(t *testing.T) {
		eval[bool](t, b, `(() => { const s = document.querySelector('#network-join-project'); s.value = 'shop'; s.dispatchEvent(new Event('change')); return true; })()`)
		b.click(t, "[data-test=network-join]")
		state(t, "joined")
		b.waitJS(t, "shop named as joined", `document.querySelector('[data-test=network-joined][data-project=shop]')`)
		if got := eval[string](t, b, `document.querySelector('[data-test=network-netid]').textContent`); got != shopNetID {
			t.Errorf("the page shows netID %q, want shop's %q", got, shopNetID)
		}
		if id, _ := c.projectNetwork(t, "bank"); id != shopNetID {
			t.Errorf("bank's stored netID %q, want shop's %q", id, shopNetID)
		}
		b.shot(t, "network-joined")
		b.click(t, "[data-test=network-joined][data-project=shop]")
		b.waitJS(t, "shop's page names bank", `location.hash === '#/projects/shop/network' && document.querySelector('[data-test=network-joined][data-project=bank]')`)
	})

	s.step("03 make ops global", func(t *testing.T) {
		b.goTo(t, "/projects/ops/network")
		b.waitJS(t, "ops's network page", `location.hash === '#/projects/ops/network' && document.querySelector('[data-test=network-make-global]')`)
		state(t, "own network")
		b.click(t, "[data-test=network-make-global]")
		confirm(t)
		state(t, "global")
		if id, _ := c.projectNetwork(t, "ops"); id != "global" {
			t.Errorf("ops's stored netID %q, want global", id)
		}
		b.shot(t, "network-global")
	})

	s.step("04 isolate bank again", func(t *testing.T) {
		b.goTo(t, "/projects/bank/network")
		b.waitJS(t, "bank's network page", `location.hash === '#/projects/bank/network' && document.querySelector('[data-test=network-isolate]')`)
		state(t, "joined")
		b.click(t, "[data-test=network-isolate]")
		confirm(t)
		state(t, "own network")
		if id, _ := c.projectNetwork(t, "bank"); id == shopNetID || id == "global" {
			t.Errorf("bank's stored netID after isolate: %q", id)
		}
		if _, joined := c.projectNetwork(t, "shop"); slices.Contains(joined, "bank") {
			t.Errorf("shop still joined with bank: %v", joined)
		}
	})

	s.step("05 a project admin sees the network, not the actions", func(t *testing.T) {
		for _, req := range []struct {
			path string
			body any
		}{
			{"/apis/berth.dev/v1/users", map[string]any{"metadata": map[string]string{"name": "alice"}, "spec": map[string]string{"password": "alice-password-1"}}},
			{"/apis/berth.dev/v1/namespaces/shop/members", map[string]any{"metadata": map[string]string{"name": "alice"}, "spec": map[string]string{"role": "admin"}}},
		} {
			if resp := c.api.Do(t, http.MethodPost, req.path, c.api.AdminToken, req.body); resp.Code != http.StatusCreated {
				t.Fatalf("POST %s: %d %s", req.path, resp.Code, resp.Body)
			}
		}
		signOut(t, b)
		signIn(t, b, "alice", "alice-password-1")
		b.goTo(t, "/projects/shop/network")
		state(t, "own network")
		b.settle(t)
		if eval[bool](t, b, `!!document.querySelector('[data-test=network-join], [data-test=network-make-global], [data-test=network-isolate]')`) {
			t.Error("a project admin is offered the cluster admins' network actions")
		}
		b.shot(t, "network-member")
	})
}
