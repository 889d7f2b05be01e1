package hostimage

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/cli"
	"github.com/berthpaas/berth/hostimage"
	"github.com/berthpaas/berth/hostimage/hostimagetest"
	"github.com/berthpaas/berth/internal/testbin"
	ostreecompose "github.com/berthpaas/berth/ostree-compose"
)

// TestUpgradeReboots upgrades a host end to end, reboot included. The
// master builds a host with systemd, ostree and berth node (the berth/node
// layer); the host is installed from the master's repository on a sysroot
// and booted (hostimagetest.Machine: a container as the machine, its
// entrypoint the boot loader, systemd PID 1); its berth-node.service, the
// unit Berth ships, joins the master. An edit makes a second build, and
// berth node upgrade --wait takes the node through cordon, drain, staging
// by its own agent (ostree pull from the master, ostree admin deploy in
// the booted host), systemctl reboot, the boot loader choosing the new
// deployment, and the uncordon once the node reports the new commit.
func TestUpgradeReboots(t *testing.T) {
	m := newMaster(t, testbin.Berth(t), hostimagetest.Busybox(), hostimagetest.Kernel(), hostimagetest.Systemd(t))
	files := upgradableHost(t, m.sources, "1")
	m.create("host", files)
	first := m.wait(m.build("host", false).Name, 3*time.Minute, berthv1.BuildSucceeded)
	const ref, osname = "berth/test/x86_64/host", "berth"

	sysroot := t.TempDir()
	hostimagetest.InstallHost(t, sysroot, osname, m.URL+"/ostree/repo", ref)
	// Provisioning, as an operator does it: the master and a bootstrap
	// token in the deployment's /etc.
	name := "upgraded-host"
	deployment := filepath.Join(sysroot, "ostree", "deploy", osname, "deploy", first.Status.Commit+".0")
	hostimagetest.ProvisionNode(t, filepath.Join(deployment, "etc"), m.URL, name, m.BootstrapToken(t, name))

	machine := hostimagetest.Boot(t, sysroot)
	node := waitBooted(t, m, machine, name, osname+" "+first.Status.Commit+".0")
	if node.Spec.Unschedulable {
		t.Fatalf("node %s is cordoned before its upgrade", name)
	}

	// The second build: one added file changed.
	m.update("host", upgradableHost(t, m.sources, "2"))
	var second berthv1.HostImageBuild
	if !waitFor(time.Minute, func() bool { bs := m.builds("host"); second = bs[0]; return len(bs) == 2 }) {
		t.Fatal("the edit queued no build")
	}
	second = m.wait(second.Name, 3*time.Minute, berthv1.BuildSucceeded)

	// berth node upgrade --wait, as an operator runs it.
	cfg := &cli.Config{Server: m.URL, Token: m.AdminToken, Username: "admin"}
	config := filepath.Join(t.TempDir(), "config.json")
	if err := cfg.Save(config); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BERTH_CONFIG", config)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	out, errOut, err := runBerth(ctx, "node", "upgrade", name, "--wait")
	t.Logf("berth node upgrade %s --wait, %v:\n%s%s", name, time.Since(start).Round(time.Second), out, errOut)
	if err != nil || !strings.Contains(out, "node/"+name+" runs "+second.Name) {
		t.Fatalf("the upgrade did not succeed (%v)\n%s", err, machine.Journal())
	}

	// The node booted the new commit, once more, and is schedulable again.
	node = waitBooted(t, m, machine, name, osname+" "+second.Status.Commit+".0")
	if node.Spec.Unschedulable {
		t.Errorf("node %s is still cordoned after its upgrade", name)
	}
	var st berthv1.NodeUpgradeState
	if err := json.Unmarshal([]byte(node.Annotations[berthv1.AnnotationUpgrade]), &st); err != nil || st.Phase != berthv1.UpgradeSucceeded || st.Target != second.Status.Commit {
		t.Errorf("the node's upgrade: %+v (%v), want Succeeded to %s", st, err, second.Status.Commit)
	}
	if boots := machine.Boots(); boots != 2 {
		t.Errorf("the machine booted %d times, want 2 (the first boot and the upgrade's reboot)", boots)
	}
	for _, l := range strings.Split(machine.Console(), "\n") {
		if strings.HasPrefix(l, "boot loader: ") {
			t.Log(l)
		}
	}
	// In the host: the new deployment booted, the old one kept for
	// rollback, the new tree's file, and the agent running again.
	status, err := machine.Exec("ostree", "admin", "status")
	if err != nil || !strings.Contains(status, "* "+osname+" "+second.Status.Commit+".0") || !strings.Contains(status, osname+" "+first.Status.Commit+".0 (rollback)") {
		t.Errorf("ostree admin status in the host (%v):\n%s", err, status)
	}
	if got, err := machine.Exec("cat", "/usr/share/berth-test/release"); got != "2" {
		t.Errorf("/usr/share/berth-test/release in the host: %q (%v), want the second build's", got, err)
	}
	if active, err := machine.Exec("systemctl", "is-active", "berth-node.service"); active != "active" {
		t.Errorf("berth-node.service is %q after the reboot (%v)\n%s", active, err, machine.Journal())
	}
	// The provisioned configuration came through the upgrade (/etc's
	// three-way merge).
	if env, _ := machine.Exec("cat", "/etc/berth/node.env"); !strings.Contains(env, m.URL) {
		t.Errorf("/etc/berth/node.env after the upgrade: %q", env)
	}
}

// upgradableHost is a definition of a host that boots and upgrades: the
// test packages Busybox, Kernel and Systemd, the berth/node layer (the
// master's berth), berth-node.service as ostree-compose ships it, a
// stand-in docker.service it requires (the agent runs the fake runtime),
// and release, the file the test changes between builds.
func upgradableHost(t *testing.T, sources, release string) hostimage.Files {
	t.Helper()
	unit, err := ostreecompose.FS.ReadFile("berth-node.service")
	if err != nil {
		t.Fatal(err)
	}
	return hostimage.Files{
		{Path: "host.yaml", Content: "ref: berth/test/${basearch}/host\nrepos: [local]\n" +
			"packages: [berth-test-busybox, berth-test-kernel, berth-test-systemd]\n" +
			"ostree-layers: [berth/node]\nunits: [berth-node.service]\ndefault-target: multi-user.target\n" +
			"add-files:\n  - [berth-node.service, /usr/lib/systemd/system/berth-node.service]\n" +
			"  - [docker.service, /usr/lib/systemd/system/docker.service]\n" +
			"  - [release, /usr/share/berth-test/release]\n"},
		{Path: "berth-node.service", Content: string(unit)},
		{Path: "docker.service", Content: "[Unit]\nDescription=Docker stand-in (the test host's agent runs the fake runtime)\n\n" +
			"[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/usr/bin/busybox true\n"},
		{Path: "release", Content: release + "\n"},
		{Path: "local.sources", Content: sources},
	}
}

// waitBooted waits until node name is Ready and reports the deployment
// want as booted.
func waitBooted(t *testing.T, m *master, machine *hostimagetest.Machine, name, want string) corev1.Node {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var n corev1.Node
		resp := m.Do(t, http.MethodGet, "/api/v1/nodes/"+name, m.AdminToken, nil)
		if resp.Code == http.StatusOK {
			resp.JSON(t, &n)
			if nodeReady(&n) && n.Annotations[berthv1.AnnotationBootedDeployment] == want {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not Ready with the booted deployment %q (%d: %q)\n%s", name, want, resp.Code, n.Annotations[berthv1.AnnotationBootedDeployment], machine.Journal())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
