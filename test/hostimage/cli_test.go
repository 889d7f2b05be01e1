package hostimage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/cli"
	"github.com/berthpaas/berth/hostimage"
	"github.com/berthpaas/berth/hostimage/hostimagetest"
)

// berth runs the CLI in-process as the admin of m.
func (m *master) berth(args ...string) (stdout, stderr string, err error) {
	m.t.Helper()
	return runBerth(m.t.Context(), args...)
}

// runBerth runs the CLI in-process until ctx ends.
func runBerth(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	root := cli.NewRootCommand()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(""))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func (m *master) mustBerth(args ...string) (stdout, stderr string) {
	m.t.Helper()
	out, errOut, err := m.berth(args...)
	if err != nil {
		m.t.Fatalf("berth %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out, errOut
}

// writeDefinition writes files into a new directory; it returns the main
// treefile's path.
func writeDefinition(t *testing.T, files hostimage.Files) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Path), []byte(f.Content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "host.yaml")
}

// TestHostImageCommands drives a definition's life through the berth
// hostimage commands against a real master: apply, list, show, render and
// validate (by name), build with its progress and with --follow, builds,
// log, diff, cancel.
func TestHostImageCommands(t *testing.T) {
	m := startMaster(t)
	cfg := &cli.Config{Server: m.URL, Token: m.AdminToken, Username: "admin"}
	config := filepath.Join(t.TempDir(), "config.json")
	if err := cfg.Save(config); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BERTH_CONFIG", config)
	files := hostimagetest.Definition(m.sources, "berth-test-busybox")
	path := writeDefinition(t, files)

	if out, _ := m.mustBerth("hostimage", "apply", "host", path); out != "hostimage/host created (revision 1)\n" {
		t.Errorf("apply: %q", out)
	}
	if out, _ := m.mustBerth("hostimage", "apply", "host", path); out != "hostimage/host unchanged (revision 1)\n" {
		t.Errorf("apply unchanged: %q", out)
	}
	out, _ := m.mustBerth("hostimage", "list")
	if !regexp.MustCompile(`(?m)^host\s+1\s+ostree\s+berth/test/x86_64/host\s`).MatchString(out) {
		t.Errorf("list:\n%s", out)
	}
	if out, _ := m.mustBerth("hostimage", "render", "host"); !strings.Contains(out, `"ref": "berth/test/x86_64/host"`) || !strings.Contains(out, `"berth-test-busybox"`) {
		t.Errorf("render host:\n%s", out)
	}
	if out, _ := m.mustBerth("hostimage", "validate", "host"); !strings.HasPrefix(out, "host is valid: ref berth/test/x86_64/host, 1 packages") {
		t.Errorf("validate host: %q", out)
	}

	// build: a progress line per phase, then the result, on stderr.
	_, stderr := m.mustBerth("hostimage", "build", "host")
	first := regexp.MustCompile(`hostimagebuild/(\S+) queued \(revision 1\)`).FindStringSubmatch(stderr)
	if first == nil || !regexp.MustCompile(`(?m)^\S+ Succeeded: berth/test/x86_64/host version \S+ is [0-9a-f]{64}$`).MatchString(stderr) ||
		!strings.Contains(stderr, " Running") {
		t.Fatalf("build: stderr\n%s", stderr)
	}
	// build --follow: the log on stdout; unchanged inputs compose nothing.
	out, stderr = m.mustBerth("hostimage", "build", "host", "--follow")
	if !strings.Contains(out, "==> inputs of host.yaml") || !strings.Contains(stderr, "no changes since build") {
		t.Errorf("build --follow: stdout\n%s\nstderr\n%s", out, stderr)
	}

	// An edit (a package added) is a new revision, which the trigger
	// builds; log -f follows that build to its end.
	edited := hostimagetest.Definition(m.sources, "berth-test-busybox", "berth-test-a")
	if out, _ := m.mustBerth("hostimage", "apply", "host", writeDefinition(t, edited)); out != "hostimage/host updated (revision 2)\n" {
		t.Errorf("apply the edit: %q", out)
	}
	var second berthv1.HostImageBuild
	if !waitFor(time.Minute, func() bool { bs := m.builds("host"); second = bs[0]; return second.Spec.Revision == 2 }) {
		t.Fatal("the edit queued no build")
	}
	if out, _ := m.mustBerth("hostimage", "log", second.Name, "-f"); !strings.Contains(out, "berth/test/x86_64/host =>") {
		t.Errorf("log -f %s ended before the build did:\n%s", second.Name, out)
	}
	second = m.wait(second.Name, time.Minute, berthv1.BuildSucceeded)

	out, _ = m.mustBerth("hostimage", "builds", "host")
	if rows := strings.Split(strings.TrimSpace(out), "\n"); len(rows) != 4 || !strings.HasPrefix(rows[0], "BUILD") || !strings.HasPrefix(rows[1], second.Name+" ") {
		t.Errorf("builds host (the header, then three builds, newest first):\n%s", out)
	}
	out, _ = m.mustBerth("hostimage", "show", "host")
	for _, want := range []string{"Name:       host\n", "Revision:   2\n", "Commit:     " + second.Status.Commit, "  host.yaml\t", "Revisions:\n  2\t", "Recent builds:\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("show host lacks %q:\n%s", want, out)
		}
	}
	if out, _ := m.mustBerth("hostimage", "show", "host", "--revision", "1", "--file", "host.yaml"); strings.Contains(out, "berth-test-a") || !strings.Contains(out, "berth-test-busybox") {
		t.Errorf("show --revision 1 --file host.yaml:\n%s", out)
	}
	out, _ = m.mustBerth("hostimage", "diff", first[1], second.Name)
	if !strings.Contains(out, "Packages: 1 added, 0 removed, 0 changed (1 → 2)\n  + berth-test-a 1.0 amd64\n") || !strings.Contains(out, "  A /usr/share/berth-test-a/version\n") {
		t.Errorf("diff %s %s:\n%s", first[1], second.Name, out)
	}

	// cancel: a forced build, cancelled; the ref stays.
	out, _ = m.mustBerth("hostimage", "build", "host", "--force", "--detach")
	third := strings.TrimSpace(out)
	if out, _ := m.mustBerth("hostimage", "cancel", third); out != "hostimagebuild/"+third+" cancelled\n" && out != "hostimagebuild/"+third+" is being cancelled\n" {
		t.Errorf("cancel: %q", out)
	}
	m.wait(third, time.Minute, berthv1.BuildCancelled)
	if _, _, err := m.berth("hostimage", "build", "host", "--revision", "7"); err == nil {
		t.Error("a build of a revision that does not exist was queued")
	}
	if _, _, err := m.berth("hostimage", "log", "no-such-build"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("log of no build: %v", err)
	}
}
