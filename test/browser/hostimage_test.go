package browser

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/testenv"
	"github.com/berthpaas/berth/hostimage/hostimagetest"
)

// hostImageCluster is a berth up without a node agent that composes host
// images from a local apt repository of test packages (busybox-based
// roots, in seconds).
type hostImageCluster struct {
	url     string
	api     *testenv.Env
	admin   string
	sources string
}

func startHostImageCluster(t *testing.T) *hostImageCluster {
	t.Helper()
	sources := hostimagetest.AptRepo(t, t.TempDir(), hostimagetest.Busybox(),
		hostimagetest.Simple("berth-test-a", "1.0"), hostimagetest.Simple("berth-test-b", "2.0"))
	dataDir := filepath.Join(t.TempDir(), "data")
	up := startUp(t, dataDir, "127.0.0.1:0", "--no-node",
		"--hostimage-mmdebstrap-mode", "chrootless", "--hostimage-mmdebstrap-variant", "custom")
	t.Cleanup(func() { stopUp(t, up, dataDir) })
	c := &hostImageCluster{sources: sources, url: up.url}
	pw, err := os.ReadFile(filepath.Join(dataDir, "admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	c.admin = strings.TrimSpace(string(pw))
	c.api = &testenv.Env{URL: c.url}
	c.api.AdminToken = c.api.Login(t, "admin", c.admin)
	return c
}

func (c *hostImageCluster) build(t *testing.T, name string) berthv1.HostImageBuild {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp := c.api.Do(t, http.MethodGet, "/apis/berth.dev/v1/hostimagebuilds/"+name, c.api.AdminToken, nil)
		var b berthv1.HostImageBuild
		resp.JSON(t, &b)
		switch b.Status.Phase {
		case berthv1.BuildSucceeded:
			return b
		case berthv1.BuildFailed, berthv1.BuildCancelled:
			log := c.api.Do(t, http.MethodGet, "/apis/berth.dev/v1/hostimagebuilds/"+name+"/log", c.api.AdminToken, nil)
			t.Fatalf("build %s %s: %s\n%s", name, b.Status.Phase, b.Status.Message, log.Body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("build %s still %s after 2m", name, b.Status.Phase)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestHostImageConsole edits a definition in the console (an invalid key
// shown beside its file, then a package added), watches the build the
// edit triggered live (a "\r" progress line on one line), sees the package
// in the diff, rebuilds (no changes), and finds a node behind the newest
// build with an Upgrade button.
func TestHostImageConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test of a real berth up with Chromium; skipped in -short mode")
	}
	c := startHostImageCluster(t)
	files := hostimagetest.Definition(c.sources, "berth-test-busybox", "berth-test-a")
	// A postprocess that takes a few seconds and draws a progress line, so
	// that the log is watched while the build runs.
	files[0].Content += "postprocess:\n  - |\n    for i in 1 2 3 4 5 6 7 8 9 10; do printf 'progress %d%%\\r' $((i*10)); sleep 0.4; done; echo; echo done waiting\n"
	fs := make([]map[string]any, len(files))
	for i, f := range files {
		fs[i] = map[string]any{"path": f.Path, "content": f.Content}
	}
	resp := c.api.Do(t, http.MethodPost, "/apis/berth.dev/v1/hostimages", c.api.AdminToken, map[string]any{
		"metadata": map[string]any{"name": "edge"}, "spec": map[string]any{"treefile": "host.yaml", "files": fs}})
	if resp.Code != http.StatusCreated {
		t.Fatalf("create the definition: %d %s", resp.Code, resp.Body)
	}
	resp = c.api.Do(t, http.MethodPost, "/apis/berth.dev/v1/hostimagebuilds", c.api.AdminToken, map[string]any{"spec": map[string]any{"hostImage": "edge"}})
	var first berthv1.HostImageBuild
	resp.JSON(t, &first)
	c.build(t, first.Name)

	b := startBrowser(t, c.url)
	s := &story{t: t, b: b}
	s.step("01 host images", func(t *testing.T) {
		b.do(t, "open the console", chromedp.Navigate(b.base+"/"))
		b.waitJS(t, "the sign-in form", `document.querySelector('#login-username')`)
		signInAs(t, b, "admin", c.admin)
		b.click(t, "[data-test=nav-hostimages]")
		b.waitJS(t, "the definition's row", `document.querySelector('[data-test=hostimage-row][data-hostimage=edge] [data-test=hostimage-phase]')?.textContent === 'Succeeded'`)
		b.waitJS(t, "Berth's own hosts offered", `document.querySelector('[data-test=hostimage-row][data-hostimage=berth-host-debian]')`)
		b.shot(t, "hostimages")
	})
	s.step("02 the editor shows what is wrong, beside the file", func(t *testing.T) {
		b.click(t, "[data-test=hostimage-row][data-hostimage=edge] [data-test=hostimage-link]")
		b.waitJS(t, "the builds", `document.querySelector('[data-test=build-row][data-build=edge-1] [data-test=build-phase]')?.textContent === 'Succeeded'`)
		// The editor checks the files as they are typed: the server's 422
		// is how it learns what is wrong.
		b.expect(http.StatusUnprocessableEntity, "/apis/berth.dev/v1/hostimages/edge")
		b.click(t, "[data-test=tab-definition]")
		b.waitJS(t, "the editor", `document.querySelector('#definition-editor')?.value.includes('berth-test-a')`)
		eval[bool](t, b, `((ta) => { ta.focus(); ta.setSelectionRange(ta.value.length, ta.value.length); return true; })(document.querySelector('#definition-editor'))`)
		b.do(t, "type a key that does not exist", chromedp.SendKeys(chromedp.CSS("#definition-editor"), "packagez: [htop]\n"))
		b.waitJS(t, "the problem", `[...document.querySelectorAll('[data-test=problem]')].some((p) => p.textContent.includes('host.yaml: packagez: unknown key (did you mean "packages"?)'))`)
		b.waitJS(t, "the file marked", `!document.querySelector('[data-test=file][data-file="host.yaml"] [data-test=file-problems]').hidden`)
		if v := eval[string](t, b, `document.querySelector('[data-test=validity]').textContent`); v != "1 problem" {
			t.Errorf("validity says %q", v)
		}
		b.shot(t, "hostimage-editor-problem")
	})
	s.step("03 add a package and save: a revision, and a build", func(t *testing.T) {
		eval[bool](t, b, `((ta) => { ta.value = ta.value.replace('packagez: [htop]\n', '').replace('berth-test-a]', 'berth-test-a, berth-test-b]'); ta.dispatchEvent(new Event('input')); return true; })(document.querySelector('#definition-editor'))`)
		b.waitJS(t, "valid again", `document.querySelector('[data-test=validity]').textContent === 'Valid'`)
		b.click(t, "[data-test=save-definition]")
		b.waitJS(t, "saved", `document.querySelector('[data-test=saved]').textContent === 'Saved as revision 2.'`)
		b.click(t, "[data-test=tab-builds]")
		b.waitJS(t, "the edit's build", `document.querySelector('[data-test=build-row][data-build=edge-2]')`)
	})
	s.step("04 watch the build's log live", func(t *testing.T) {
		b.click(t, "[data-test=build-row][data-build=edge-2] [data-test=build-link]")
		b.waitJS(t, "the log follows while the build runs",
			`document.querySelector('[data-test=build-log] [data-test=log-view]')?.textContent.includes('progress') && document.querySelector('[data-test=build-phase]').textContent === 'Running'`)
		// A "\r" progress line is one line, rewritten in place.
		lines := eval[int](t, b, `[...document.querySelectorAll('[data-test=build-log] .log-line')].filter((l) => l.textContent.includes('progress')).length`)
		if lines != 1 {
			t.Errorf("the progress line shows as %d lines", lines)
		}
		b.shot(t, "hostimage-build-live")
		b.waitJS(t, "the build ends", `document.querySelector('[data-test=build-phase]').textContent === 'Succeeded'`)
		b.waitJS(t, "the log ended with it", `document.querySelector('[data-test=build-log] [data-test=log-status]').dataset.conn === 'ended' && document.querySelector('[data-test=build-log]').text.includes('==> Succeeded')`)
		got := eval[string](t, b, `document.querySelector('[data-test=build-log]').text`)
		want := string(c.api.Do(t, http.MethodGet, "/apis/berth.dev/v1/hostimagebuilds/edge-2/log", c.api.AdminToken, nil).Body)
		if !strings.Contains(got, "done waiting") || strings.Count(got, "\n") != strings.Count(want, "\n") {
			t.Errorf("the page shows %d lines, the log has %d", strings.Count(got, "\n"), strings.Count(want, "\n"))
		}
	})
	s.step("05 the package is in the diff", func(t *testing.T) {
		b.click(t, "[data-test=diff-parent]")
		b.waitJS(t, "the diff", `document.querySelector('[data-test=package-added][data-package="berth-test-b"]')`)
		if txt := eval[string](t, b, `document.querySelector('[data-test=package-added][data-package="berth-test-b"]').textContent`); !strings.Contains(txt, "2.0") {
			t.Errorf("the added package's row: %q", txt)
		}
		b.waitJS(t, "its files", `[...document.querySelectorAll('[data-test=file-added]')].some((r) => r.textContent.includes('/usr/share/berth-test-b/version'))`)
		b.shot(t, "hostimage-diff")
	})
	s.step("06 rebuild with unchanged inputs", func(t *testing.T) {
		b.goTo(t, "/hostimages/edge")
		b.click(t, "[data-test=rebuild]")
		b.waitJS(t, "the build's page", `location.hash.startsWith('#/hostimages/edge/builds/edge-3')`)
		b.waitJS(t, "no changes", `document.querySelector('[data-test=build-message]')?.textContent === 'no changes since build edge-2'`)
	})
	s.step("07 a node behind the newest build has an Upgrade button", func(t *testing.T) {
		// A node as an OSTree host that booted the first build reports
		// itself; the master says it is behind.
		node := map[string]any{"metadata": map[string]any{"name": "rack1", "annotations": map[string]string{
			berthv1.AnnotationBootedDeployment: "berth " + first.Status.Commit + ".0"}}}
		if first.Status.Commit == "" {
			first = c.build(t, first.Name)
			node["metadata"].(map[string]any)["annotations"].(map[string]string)[berthv1.AnnotationBootedDeployment] = "berth " + first.Status.Commit + ".0"
		}
		if resp := c.api.Do(t, http.MethodPost, "/api/v1/nodes", c.api.AdminToken, node); resp.Code != http.StatusCreated {
			t.Fatalf("create node rack1: %d %s", resp.Code, resp.Body)
		}
		b.goTo(t, "/nodes")
		b.waitJS(t, "rack1 is behind", `document.querySelector('[data-test=node][data-node=rack1] [data-test=node-behind]')?.textContent.includes('edge-2')`)
		if got := eval[string](t, b, `document.querySelector('[data-test=node][data-node=rack1] [data-test=node-hostimage]').textContent`); !strings.Contains(got, "edge-1") {
			t.Errorf("rack1 booted %q, want edge-1", got)
		}
		b.waitJS(t, "the Upgrade button", `document.querySelector('[data-test=node][data-node=rack1] [data-test=node-upgrade]')`)
		b.shot(t, "nodes-behind")
		b.click(t, "[data-test=node][data-node=rack1] [data-test=node-upgrade]")
		b.click(t, "[data-test=confirm-ok]")
		b.waitJS(t, "the upgrade begins", `document.querySelector('[data-test=node][data-node=rack1] [data-test=node-upgrade-state]')`)
		var n struct {
			Metadata struct{ Annotations map[string]string }
			Spec     struct{ Unschedulable bool }
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			c.api.Do(t, http.MethodGet, "/api/v1/nodes/rack1", c.api.AdminToken, nil).JSON(t, &n)
			var st berthv1.NodeUpgradeState
			_ = json.Unmarshal([]byte(n.Metadata.Annotations[berthv1.AnnotationUpgrade]), &st)
			if st.Phase == berthv1.UpgradeStaging && n.Spec.Unschedulable && st.Build == "edge-2" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rack1 after 30s: upgrade %+v, unschedulable %v", st, n.Spec.Unschedulable)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	b.checkConsole(t)
}
