package browser

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleConfig: on a project's Config page an editor creates a config
// map and a secret, reveals the secret's value and edits the config map;
// a viewer sees the secret's name only.
func TestConsoleConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test of a real berth up with Chromium; skipped in -short mode")
	}
	c := startCluster(t)
	b := startBrowser(t, c.url)
	const ns = "cfg"
	if resp := c.api.Do(t, http.MethodPost, "/api/v1/namespaces", c.api.AdminToken, map[string]any{"metadata": map[string]string{"name": ns}}); resp.Code != http.StatusCreated {
		t.Fatalf("create project: HTTP %d %s", resp.Code, resp.Body)
	}
	b.do(t, "open the console", chromedp.Navigate(b.base+"/"))
	b.waitJS(t, "the sign-in form", `document.querySelector('#login-username')`)
	signIn(t, b, "admin", c.admin)
	b.goTo(t, "/projects/"+ns+"/config")
	b.waitJS(t, "the config page", `document.querySelector('berth-config-page #config-name') && document.querySelector('[data-test=nav-config][aria-current=page]')`)

	b.typeInto(t, "#config-name", "settings")
	b.typeInto(t, "[data-test=config-key]", "mode")
	b.typeInto(t, "[data-test=config-value]", "blue")
	b.click(t, "[data-test=save-config]")
	b.waitJS(t, "the config map's row", `document.querySelector('[data-test=config-row][data-kind=ConfigMap][data-name=settings] [data-test=config-keys]')?.textContent === 'mode'`)

	eval[bool](t, b, `(() => { const s = document.querySelector('#config-kind'); s.value = 'Secret'; s.dispatchEvent(new Event('change')); return true; })()`)
	b.typeInto(t, "#config-name", "db")
	b.typeInto(t, "[data-test=config-key]", "password")
	b.typeInto(t, "[data-test=config-value]", "s3cr3t")
	if typ := eval[string](t, b, `document.querySelector('[data-test=config-value]').type`); typ != "password" {
		t.Errorf("a secret's value is typed into an input of type %q, want password (hidden)", typ)
	}
	b.click(t, "[data-test=save-config]")
	row := `[data-test=config-row][data-kind=Secret][data-name=db]`
	b.waitJS(t, "the secret's row", `document.querySelector('`+row+`')`)
	if got := eval[string](t, b, `document.querySelector('`+row+`').textContent`); strings.Contains(got, "s3cr3t") {
		t.Errorf("the secret's value shows before it is revealed: %q", got)
	}
	b.click(t, row+` [data-test=reveal-config]`)
	b.waitJS(t, "the revealed value", `document.querySelector('`+row+` [data-test=secret-value][data-key=password]')?.textContent === 'password=s3cr3t'`)
	b.shot(t, "config")
	if got := eval[string](t, b, `document.querySelector('[data-test=config-row][data-kind=ConfigMap] .col-actions').textContent`); strings.Contains(got, "null") {
		t.Errorf("the config map's actions read %q", got)
	}

	b.click(t, `[data-test=config-row][data-kind=ConfigMap][data-name=settings] [data-test=edit-config]`)
	b.waitJS(t, "the edit form", `document.querySelector('#config-name')?.readOnly && document.querySelector('[data-test=config-value]')?.value === 'blue'`)
	b.typeInto(t, "[data-test=config-value]", "green")
	b.click(t, "[data-test=save-config]")
	b.waitJS(t, "the create form again", `document.querySelector('#config-name') && !document.querySelector('#config-name').readOnly`)
	resp := c.api.Do(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/configmaps/settings", c.api.AdminToken, nil)
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(resp.Body, &cm); err != nil || cm.Data["mode"] != "green" {
		t.Errorf("the edited config map: %s (%v)", resp.Body, err)
	}

	// The deploy form takes env from them (no replica: only the spec is
	// checked here).
	b.goTo(t, "/projects/"+ns+"/deploy")
	b.waitJS(t, "the deploy form's env sources", `document.querySelectorAll('[data-test=env-from-source]').length === 2`)
	b.typeInto(t, "#deploy-name", "app")
	b.typeInto(t, "#deploy-image", helloImage)
	b.typeInto(t, "#deploy-replicas", "0")
	b.click(t, "[data-test=env-from-source][data-kind=ConfigMap][data-name=settings]")
	b.click(t, "[data-test=env-from-source][data-kind=Secret][data-name=db]")
	b.click(t, "[data-test=deploy-submit]")
	b.waitJS(t, "the overview after deploying", `location.hash === '#/projects/`+ns+`'`)
	resp = c.api.Do(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/replicationcontrollers/app", c.api.AdminToken, nil)
	var rc struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						EnvFrom []map[string]map[string]string `json:"envFrom"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(resp.Body, &rc); err != nil || len(rc.Spec.Template.Spec.Containers) != 1 ||
		len(rc.Spec.Template.Spec.Containers[0].EnvFrom) != 2 ||
		rc.Spec.Template.Spec.Containers[0].EnvFrom[0]["configMapRef"]["name"] != "settings" ||
		rc.Spec.Template.Spec.Containers[0].EnvFrom[1]["secretRef"]["name"] != "db" {
		t.Errorf("the deployed controller: %s (%v)", resp.Body, err)
	}

	c.api.CreateUser(t, "viewer", false)
	if resp := c.api.Do(t, http.MethodPost, "/apis/berth.dev/v1/namespaces/"+ns+"/members", c.api.AdminToken, map[string]any{
		"metadata": map[string]string{"name": "viewer"}, "spec": map[string]string{"role": "view"},
	}); resp.Code != http.StatusCreated {
		t.Fatalf("add viewer: HTTP %d %s", resp.Code, resp.Body)
	}
	signOut(t, b)
	signIn(t, b, "viewer", viewerPassword)
	b.goTo(t, "/projects/"+ns+"/config")
	b.waitJS(t, "the viewer's secret row", `document.querySelector('`+row+` [data-test=config-keys]')?.textContent === 'hidden'`)
	if n := eval[int](t, b, `document.querySelectorAll('#config-name, [data-test=reveal-config], [data-test=edit-config]').length`); n != 0 {
		t.Errorf("a viewer is offered %d controls to create, reveal or edit", n)
	}
	b.shot(t, "config-viewer")
}
