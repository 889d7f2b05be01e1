package hostimage

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/node"
	"github.com/berthpaas/berth/hostimage/hostimagetest"
)

// TestAgentDeploysOnASysroot runs the agent's staging code
// (node.OSTreeUpgrader, the ostree path: pull from the master, admin
// deploy with the origin berth:REF) against a real OSTree sysroot made in
// a directory: ostree admin init-fs and os-init, the first build deployed
// as a host's installer would, then the second build staged by the agent.
// The new deployment must be the default for the next boot, with the
// previous one kept for rollback, its tree the new commit's and its
// origin following the ref. TestUpgradeReboots boots the host and
// reboots it into the new deployment.
func TestAgentDeploysOnASysroot(t *testing.T) {
	m := startMaster(t, hostimagetest.Busybox(), hostimagetest.Kernel())
	files := hostimagetest.Definition(m.sources, "berth-test-busybox", "berth-test-kernel")
	m.create("host", files)
	first := m.wait(m.build("host", false).Name, 2*time.Minute, berthv1.BuildSucceeded)
	const ref, osname = "berth/test/x86_64/host", "berth"

	sysroot := t.TempDir()
	ostree := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(t.Context(), "ostree", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ostree %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	hostimagetest.InstallHost(t, sysroot, osname, m.URL+"/ostree/repo", ref)
	deployments := func() []string {
		t.Helper()
		var out []string
		for _, l := range strings.Split(ostree("admin", "status", "--sysroot="+sysroot), "\n") {
			if m := regexp.MustCompile(`^\s*\*?\s*` + osname + ` ([0-9a-f]{64})\.\d+`).FindStringSubmatch(l); m != nil {
				out = append(out, m[1])
			}
		}
		return out
	}
	if got := deployments(); len(got) != 1 || got[0] != first.Status.Commit {
		t.Fatalf("deployments after the install: %v, want [%s]", got, first.Status.Commit)
	}

	m.update("host", withFile(files, "node.env", "BERTH_MASTER=https://elsewhere.invalid\n"))
	var second berthv1.HostImageBuild
	if !waitFor(time.Minute, func() bool { bs := m.builds("host"); second = bs[0]; return len(bs) == 2 }) {
		t.Fatal("the edit queued no build")
	}
	second = m.wait(second.Name, 2*time.Minute, berthv1.BuildSucceeded)

	up := node.OSTreeUpgrader{Sysroot: sysroot}
	if err := up.Stage(t.Context(), node.Upgrade{RepoURL: m.URL + "/ostree/repo", Ref: ref, Target: second.Status.Commit, OSName: osname}); err != nil {
		t.Fatalf("stage %s: %v", second.Status.Commit, err)
	}
	// ostree admin status lists the default (next boot) deployment first.
	if got := deployments(); len(got) != 2 || got[0] != second.Status.Commit || got[1] != first.Status.Commit {
		t.Fatalf("deployments after staging: %v, want [%s %s] (the new commit the default, the old one kept)\n%s",
			got, second.Status.Commit, first.Status.Commit, ostree("admin", "status", "--sysroot="+sysroot))
	}
	deploy := filepath.Join(sysroot, "ostree", "deploy", osname, "deploy", second.Status.Commit+".0")
	env, err := os.ReadFile(filepath.Join(deploy, "etc", "berth", "node.env"))
	if err != nil || !strings.Contains(string(env), "elsewhere") {
		t.Errorf("the new deployment's /etc/berth/node.env: %q (%v)", env, err)
	}
	origin, err := os.ReadFile(deploy + ".origin")
	if err != nil || !strings.Contains(string(origin), "refspec=berth:"+ref) {
		t.Errorf("the new deployment's origin: %q (%v), want it to follow berth:%s", origin, err, ref)
	}
	// The boot loader has an entry for each: the next boot's and the
	// rollback.
	entries, _ := filepath.Glob(filepath.Join(sysroot, "boot", "loader", "entries", "*.conf"))
	if len(entries) != 2 {
		t.Errorf("%d boot loader entries, want 2", len(entries))
	}
}
