// Package hostboot composes Berth's real Debian host
// (ostree-compose/berth-host-debian.yaml) with the OSTree runner: mmdebstrap
// installs its packages from deb.debian.org (apt's network), and the tree
// is committed with ostree. Then it boots the commit: deployed into an
// OSTree sysroot with ostree admin deploy, and started with systemd as PID
// 1 in a container that chooses and mounts the deployment as the boot
// loader and ostree-prepare-root do (hostimagetest.Machine); the host's
// berth-node.service joins the test's master and reports the deployment
// it booted.
//
// Downloaded packages are kept between runs in the user's cache directory
// (berth/hostimage-test under os.UserCacheDir, e.g.
// ~/.cache/berth/hostimage-test), outside the clone, as Go keeps its build
// cache: a run with a filled cache downloads only what the mirror
// changed. -short skips the package.
package hostboot

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/testenv"
	"github.com/berthpaas/berth/hostimage"
	"github.com/berthpaas/berth/hostimage/hostimagetest"
	"github.com/berthpaas/berth/internal/testbin"
	ostreecompose "github.com/berthpaas/berth/ostree-compose"
)

func TestMain(m *testing.M) {
	code := testenv.Main(m)
	testbin.Cleanup()
	os.Exit(code)
}

const (
	debianHost = "berth-host-debian.yaml"
	// nodeLayerRef is the layer the master commits its own binary on
	// before a build (hostimagebuild.NodeLayerRef).
	nodeLayerRef = "berth/node"
)

// TestDebianHost composes the Debian host as a master does (the berth
// binary committed as the berth/node layer first), from the definition
// Berth ships, and reads the commit back: the packages a container host
// needs in its metadata, the kernel where OSTree boots it from, the node
// agent and the engine enabled, Berth's files added, and no identity or
// documentation baked in. A rebuild with unchanged inputs composes
// nothing.
func TestDebianHost(t *testing.T) {
	if testing.Short() {
		t.Skip("composes a Debian host from deb.debian.org with mmdebstrap (minutes); skipped in -short mode")
	}
	for _, tool := range []string{"ostree", "mmdebstrap", "bwrap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: scripts/setup installs what host image builds need", tool)
		}
	}
	ctx := t.Context()
	dir := t.TempDir()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	cache = filepath.Join(cache, "berth", "hostimage-test")
	repo, err := hostimage.OpenRepo(ctx, filepath.Join(dir, "repo"), hostimage.GPG{})
	if err != nil {
		t.Fatal(err)
	}
	layer := filepath.Join(dir, "layer", "usr", "bin")
	if err := os.MkdirAll(layer, 0o755); err != nil {
		t.Fatal(err)
	}
	berth, err := os.ReadFile(testbin.Berth(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(layer, "berth"), berth, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CommitLayer(ctx, nodeLayerRef, filepath.Join(dir, "layer"), "berth node agent"); err != nil {
		t.Fatal(err)
	}
	files := shippedDefinitions(t)
	compose := func(n int64, previous string) (*hostimage.Outcome, string) {
		t.Helper()
		var log bytes.Buffer
		start := time.Now()
		out, err := hostimage.Compose(ctx, hostimage.Job{
			Files: files, Main: debianHost, Number: n, PreviousInputHash: previous, Repo: repo,
			WorkDir: filepath.Join(dir, "work"), CacheDir: cache, Log: &log,
			Runners: hostimage.RunnerConfig{Root: hostimage.Mmdebstrap{Mode: "auto", Variant: "essential"}},
		})
		if err != nil {
			t.Fatalf("compose %s: %v\n%s", debianHost, err, tail(log.String(), 60))
		}
		t.Logf("build %d took %v", n, time.Since(start).Round(time.Second))
		return out, log.String()
	}
	out, _ := compose(1, "")
	res := out.Result
	if out.Runner != "ostree" || out.Ref != "berth/debian/12/"+hostimage.Basearch()+"/host" {
		t.Errorf("runner %q ref %q", out.Runner, out.Ref)
	}
	ostree := func(args ...string) string {
		t.Helper()
		data, err := exec.CommandContext(ctx, "ostree", append([]string{"--repo=" + repo.Path}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ostree %v: %v: %s", args, err, data)
		}
		return string(data)
	}
	if got := strings.TrimSpace(ostree("rev-parse", out.Ref)); got != res.Commit {
		t.Fatalf("%s is at %s, want the build's commit %s", out.Ref, got, res.Commit)
	}

	// The package list in the commit's metadata.
	pkgs, err := repo.Packages(ctx, res.Commit)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, p := range pkgs {
		names[p.Name] = p.Version
	}
	for _, want := range []string{"systemd", "systemd-sysv", "dbus", "udev", "iproute2", "iptables", "ostree", "ostree-boot", "dracut", "docker.io", "linux-image-amd64", "libc6", "dpkg"} {
		if hostimage.Basearch() != "x86_64" && want == "linux-image-amd64" {
			continue
		}
		if names[want] == "" {
			t.Errorf("package %s is not in the commit's package list (%d packages)", want, len(pkgs))
		}
	}
	if len(pkgs) < 100 || len(pkgs) != len(res.Packages) {
		t.Errorf("%d packages in the metadata, %d in the result", len(pkgs), len(res.Packages))
	}

	// The tree: the kernel where OSTree looks for it, Berth's files and
	// units, the enablement links, /etc as /usr/etc (as ostree admin
	// deploy wants it), /sysroot and /ostree.
	ls := ostree("ls", "-R", res.Commit, "/usr/lib/modules", "/usr/lib/systemd/system", "/usr/etc/systemd/system", "/usr/bin", "/usr/sbin", "/usr/etc/berth") +
		ostree("ls", "-d", res.Commit, "/sysroot", "/ostree")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`/usr/lib/modules/[^/\s]+/vmlinuz\n`),
		regexp.MustCompile(`/usr/lib/modules/[^/\s]+/initramfs\.img\n`),
		regexp.MustCompile(`/usr/bin/berth\n`),
		regexp.MustCompile(`/usr/sbin/dockerd\n`),
		regexp.MustCompile(`/usr/lib/systemd/system/berth-node\.service\n`),
		regexp.MustCompile(`/usr/etc/systemd/system/multi-user\.target\.wants/berth-node\.service -> /usr/lib/systemd/system/berth-node\.service\n`),
		regexp.MustCompile(`/usr/etc/systemd/system/multi-user\.target\.wants/docker\.service -> /(usr/)?lib/systemd/system/docker\.service\n`),
		regexp.MustCompile(`/usr/etc/systemd/system/default\.target -> /(usr/)?lib/systemd/system/multi-user\.target\n`),
		regexp.MustCompile(`/usr/etc/berth/node\.env\n`),
		regexp.MustCompile(`(?m)^d.* /sysroot$`),
		regexp.MustCompile(`/ostree -> sysroot/ostree\n`),
	} {
		if !want.MatchString(ls + "\n") {
			t.Errorf("the commit lacks %s", want)
		}
	}
	if got := ostree("cat", res.Commit, "/usr/bin/berth"); got != string(berth) {
		t.Errorf("/usr/bin/berth is not the berth/node layer's binary (%d bytes, want %d)", len(got), len(berth))
	}
	if got := ostree("cat", res.Commit, "/usr/etc/machine-id"); got != "" {
		t.Errorf("/etc/machine-id holds %q, want it empty", got)
	}
	for _, gone := range []string{"/etc", "/usr/etc/hostname", "/usr/etc/resolv.conf", "/var/lib/dbus/machine-id", "/usr/etc/dpkg/dpkg.cfg.d/zz-berth-compose", "/usr/bin/dracut.berth-compose"} {
		if _, err := exec.CommandContext(ctx, "ostree", "--repo="+repo.Path, "ls", res.Commit, gone).CombinedOutput(); err == nil {
			t.Errorf("%s is in the commit (remove-files, postprocess)", gone)
		}
	}
	docs := ostree("ls", "-R", res.Commit, "/usr/share/doc/systemd", "/usr/share/man")
	if strings.Contains(docs, "/usr/share/man/man") || !strings.Contains(docs, "/usr/share/doc/systemd/copyright") {
		t.Errorf("documentation: false kept manuals or dropped copyright files:\n%s", tail(docs, 20))
	}
	if locales := ostree("ls", "-R", res.Commit, "/usr/share/locale"); strings.Contains(locales, "/usr/share/locale/fr/") {
		t.Errorf("install-langs [en_US] kept French translations:\n%s", tail(locales, 20))
	}
	if res.Sizes.Stored <= 0 || res.Sizes.Unpacked < 100<<20 {
		t.Errorf("sizes %+v", res.Sizes)
	}
	t.Logf("%s: commit %s, %d packages, %d MB stored, %d MB unpacked", out.Ref, res.Commit, len(pkgs), res.Sizes.Stored>>20, res.Sizes.Unpacked>>20)

	// Unchanged inputs (the mirror's Release files included): no build.
	again, log := compose(2, out.InputHash)
	if !again.NoChanges || strings.TrimSpace(ostree("rev-parse", out.Ref)) != res.Commit {
		t.Errorf("an unchanged rebuild composed (no changes %v):\n%s", again.NoChanges, tail(log, 20))
	}
	if !slices.Contains(strings.Split(ostree("refs"), "\n"), out.Ref) {
		t.Errorf("refs lack %s", out.Ref)
	}

	t.Run("boots", func(t *testing.T) { boot(t, repo, out.Ref, res.Commit) })
}

// osname is the stateroot the test deploys the host into.
const osname = "berth"

// boot runs the commit as a host. It is installed as an installer does
// it (hostimagetest.InstallHost: ostree admin init-fs, os-init, pull,
// admin deploy) and booted as a hostimagetest.Machine: a container whose
// entrypoint does what the boot loader and ostree-prepare-root do, then
// runs systemd as PID 1, on the host's network. The test master's address
// and a bootstrap token are provisioned into the deployment's /etc as an
// operator would (/etc/berth/node.env, /etc/berth/node-token). Its
// berth-node.service must start and join the master, which then has the
// node Ready and its booted deployment "berth COMMIT.0".
//
// What the test changes in the host, and why: the agent runs the fake
// runtime (--runtime fake, through BERTH_NODE_ARGS) and docker.service is
// a stand-in that only reports itself started, so that the host's own
// Docker engine, networks and iptables are never touched; udev and time
// synchronisation are masked, so that a container never handles the
// machine's devices or sets its clock.
func boot(t *testing.T, repo *hostimage.Repo, ref, commit string) {
	start := time.Now()
	sysroot := t.TempDir()
	hostimagetest.InstallHost(t, sysroot, osname, "file://"+repo.Path, ref)
	deployment := "/ostree/deploy/" + osname + "/deploy/" + commit + ".0"
	t.Logf("deployed %s in %v", deployment, time.Since(start).Round(time.Second))

	env := testenv.Start(t, testenv.Options{Controllers: true})
	name := "hostboot-" + commit[:8]
	// What provisioning writes into the deployment's /etc, and the test's
	// changes (see above).
	etc := filepath.Join(sysroot, deployment, "etc")
	hostimagetest.ProvisionNode(t, etc, env.URL, name, env.BootstrapToken(t, name))
	hostimagetest.WriteEtc(t, etc, "systemd/system/docker.service", "[Unit]\nDescription=Docker stand-in (the test's agent runs the fake runtime)\n\n"+
		"[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n", 0o644)
	for _, unit := range []string{"systemd-udevd.service", "systemd-udevd-control.socket", "systemd-udevd-kernel.socket",
		"systemd-udev-trigger.service", "systemd-timesyncd.service", "docker.socket", "containerd.service"} {
		_ = os.Remove(filepath.Join(etc, "systemd/system", unit))
		if err := os.Symlink("/dev/null", filepath.Join(etc, "systemd/system", unit)); err != nil {
			t.Fatal(err)
		}
	}

	machine := hostimagetest.Boot(t, sysroot)
	booted := time.Now()
	want := osname + " " + commit + ".0"
	deadline := time.Now().Add(3 * time.Minute)
	var n corev1.Node
	for {
		resp := env.Do(t, http.MethodGet, "/api/v1/nodes/"+name, env.AdminToken, nil)
		if resp.Code == http.StatusOK {
			resp.JSON(t, &n)
			if ready(&n) && n.Annotations[berthv1.AnnotationBootedDeployment] != "" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not Ready with its booted deployment 3m after the host started (%d %s)\n%s", name, resp.Code, resp.Body, machine.Journal())
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("the host joined %v after it started", time.Since(booted).Round(time.Second))
	if got := n.Annotations[berthv1.AnnotationBootedDeployment]; got != want {
		t.Errorf("the node reports the booted deployment %q, want %q", got, want)
	}
	if pid1, err := machine.Exec("readlink", "/proc/1/exe"); err != nil || pid1 != "/usr/lib/systemd/systemd" {
		t.Errorf("PID 1 of the host is %q (%v), want systemd", pid1, err)
	}
	if active, err := machine.Exec("systemctl", "is-active", "berth-node.service"); active != "active" {
		t.Errorf("berth-node.service is %q (%v)\n%s", active, err, machine.Journal())
	}
	pid, err := machine.Exec("systemctl", "show", "-P", "MainPID", "berth-node.service")
	if exe, _ := machine.Exec("readlink", "/proc/"+pid+"/exe"); err != nil || exe != "/usr/bin/berth" {
		t.Errorf("berth-node.service's main process %s (%v) runs %q, want /usr/bin/berth", pid, err, exe)
	}
	if status, err := machine.Exec("ostree", "admin", "status"); err != nil || !strings.Contains(status, "* "+want+"\n") {
		t.Errorf("ostree admin status in the host (%v):\n%s", err, status)
	}
}

// ready reports whether the node's Ready condition is True.
func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// shippedDefinitions are the files of ostree-compose, as a master stores
// them.
func shippedDefinitions(t *testing.T) hostimage.Files {
	t.Helper()
	var files hostimage.Files
	err := fs.WalkDir(ostreecompose.FS, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := fs.ReadFile(ostreecompose.FS, p)
		files = append(files, hostimage.File{Path: p, Content: string(data)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
