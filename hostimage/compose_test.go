package hostimage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthpaas/berth/hostimage"
	"github.com/berthpaas/berth/hostimage/hostimagetest"
)

// fixture is a repository of test packages and an OSTree repository that
// builds commit into.
type fixture struct {
	t       *testing.T
	dir     string
	sources string
	repo    *hostimage.Repo
	cache   string
	n       int64
}

func newFixture(t *testing.T, pkgs ...hostimagetest.Package) *fixture {
	t.Helper()
	for _, tool := range []string{"ostree", "mmdebstrap", "bwrap", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: scripts/setup installs what host image builds need", tool)
		}
	}
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir, cache: filepath.Join(dir, "cache")}
	f.sources = hostimagetest.AptRepo(t, filepath.Join(dir, "apt"), pkgs...)
	repo, err := hostimage.OpenRepo(t.Context(), filepath.Join(dir, "ostree"), hostimage.GPG{})
	if err != nil {
		t.Fatal(err)
	}
	f.repo = repo
	return f
}

// compose builds files, after previous (an input hash), into the repository.
func (f *fixture) compose(ctx context.Context, files hostimage.Files, previous string) (*hostimage.Outcome, string, error) {
	f.t.Helper()
	f.n++
	var log bytes.Buffer
	out, err := hostimage.Compose(ctx, hostimage.Job{
		Files: files, Main: "host.yaml", Number: f.n, PreviousInputHash: previous, Repo: f.repo,
		WorkDir: filepath.Join(f.dir, "work", "build"), CacheDir: f.cache, Runners: hostimagetest.Runners(),
		Log: &log, Basearch: "x86_64",
	})
	return out, log.String(), err
}

func (f *fixture) ostree(args ...string) string {
	f.t.Helper()
	out, err := exec.Command("ostree", append([]string{"--repo=" + f.repo.Path}, args...)...).CombinedOutput()
	if err != nil {
		f.t.Fatalf("ostree %v: %v: %s", args, err, out)
	}
	return string(out)
}

const testRef = "berth/test/x86_64/host"

func TestComposeBusyboxRoot(t *testing.T) {
	f := newFixture(t, hostimagetest.Busybox(), hostimagetest.Simple("berth-test-a", "1.0"), hostimagetest.Simple("berth-test-b", "2.0"))
	ctx := t.Context()
	def := hostimagetest.Definition(f.sources, "berth-test-busybox", "berth-test-a")

	first, log, err := f.compose(ctx, def, "")
	if err != nil {
		t.Fatalf("compose: %v\n%s", err, log)
	}
	res := first.Result
	if got := f.ostree("rev-parse", testRef); strings.TrimSpace(got) != res.Commit {
		t.Fatalf("ref at %s, want the build's commit %s", got, res.Commit)
	}
	if res.Parent != "" || first.Runner != "ostree" || res.Version != "1" {
		t.Errorf("first build: parent %q runner %q version %q", res.Parent, first.Runner, res.Version)
	}
	ls := f.ostree("ls", "-R", testRef, "/usr/lib/systemd/system", "/etc/systemd/system")
	for _, want := range []string{
		"/usr/lib/systemd/system/berth-node.service",
		"/etc/systemd/system/multi-user.target.wants/berth-node.service -> /usr/lib/systemd/system/berth-node.service",
		"/etc/systemd/system/default.target -> /usr/lib/systemd/system/multi-user.target",
	} {
		if !strings.Contains(ls, want) {
			t.Errorf("ostree ls lacks %q:\n%s", want, ls)
		}
	}
	pkgs, err := f.repo.Packages(ctx, res.Commit)
	if err != nil {
		t.Fatal(err)
	}
	want := []hostimage.Package{{Name: "berth-test-a", Version: "1.0", Arch: "amd64"}, {Name: "berth-test-busybox", Version: "1.0", Arch: "amd64"}}
	if !slices.Equal(pkgs, want) || !slices.Equal(res.Packages, want) {
		t.Errorf("packages in the metadata %v (result %v), want %v", pkgs, res.Packages, want)
	}
	if h, _ := f.repo.MetadataText(ctx, res.Commit, hostimage.MetaInputHash); h != first.InputHash {
		t.Errorf("input hash in the metadata %q, want %q", h, first.InputHash)
	}
	if got := f.ostree("cat", testRef, "/etc/machine-id"); got != "" {
		t.Errorf("/etc/machine-id holds %q, want it empty", got)
	}
	if got := f.ostree("cat", testRef, "/usr/lib/berth-composed"); got != "composed\n" {
		t.Errorf("the postprocess script's file holds %q", got)
	}
	docs := f.ostree("ls", "-R", testRef, "/usr/share")
	if strings.Contains(docs, "README") || strings.Contains(docs, "busybox.1") || !strings.Contains(docs, "copyright") {
		t.Errorf("documentation: false kept documentation or dropped copyright files:\n%s", docs)
	}
	locales := f.ostree("ls", "-R", testRef, "/usr/share/locale")
	if !strings.Contains(locales, "/usr/share/locale/en/LC_MESSAGES/busybox.mo") || !strings.Contains(locales, "locale.alias") ||
		strings.Contains(locales, "/fr") || strings.Contains(locales, "/en_GB") {
		t.Errorf("install-langs [en_US] kept another locale or dropped en:\n%s", locales)
	}
	if res.Sizes.Stored <= 0 || res.Sizes.Unpacked < 1<<20 {
		t.Errorf("sizes %+v", res.Sizes)
	}

	// Unchanged inputs: nothing is composed.
	again, log, err := f.compose(ctx, def, first.InputHash)
	if err != nil {
		t.Fatalf("rebuild: %v\n%s", err, log)
	}
	if !again.NoChanges || again.InputHash != first.InputHash {
		t.Fatalf("unchanged rebuild: no changes %v, hash %s (was %s)\n%s", again.NoChanges, again.InputHash, first.InputHash, log)
	}
	if got := strings.TrimSpace(f.ostree("rev-parse", testRef)); got != res.Commit {
		t.Fatalf("unchanged rebuild moved the ref to %s", got)
	}

	// A package added: a new commit on the last, a delta, a diff of
	// exactly that package and its file.
	withB := hostimagetest.Definition(f.sources, "berth-test-busybox", "berth-test-a", "berth-test-b")
	second, log, err := f.compose(ctx, withB, first.InputHash)
	if err != nil {
		t.Fatalf("compose with a package more: %v\n%s", err, log)
	}
	if second.Result.Parent != res.Commit || second.Result.Commit == res.Commit {
		t.Fatalf("second commit %s parent %s, want a new commit on %s", second.Result.Commit, second.Result.Parent, res.Commit)
	}
	if got := strings.TrimSpace(f.ostree("rev-parse", testRef+"^")); got != res.Commit {
		t.Errorf("the ref's parent is %s, want %s", got, res.Commit)
	}
	if !strings.Contains(f.ostree("static-delta", "list"), res.Commit) || second.Result.DeltaSize <= 0 {
		t.Errorf("no static delta from %s (size %d)", res.Commit, second.Result.DeltaSize)
	}
	diff, err := f.repo.CommitDiff(ctx, res.Commit, second.Result.Commit)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff.Packages.Added) != 1 || diff.Packages.Added[0].Name != "berth-test-b" || len(diff.Packages.Removed)+len(diff.Packages.Changed) != 0 {
		t.Errorf("package diff %+v, want berth-test-b added", diff.Packages)
	}
	wantAdded := []string{"/usr/share/berth-test-b", "/usr/share/berth-test-b/version",
		"/var/lib/dpkg/info/berth-test-b.list", "/var/lib/dpkg/info/berth-test-b.md5sums"}
	if !slices.Equal(diff.Files.Added, wantAdded) || len(diff.Files.Deleted) != 0 {
		t.Errorf("file diff %+v, want added %v", diff.Files, wantAdded)
	}
	for _, m := range diff.Files.Modified {
		if !strings.HasPrefix(m, "/var/lib/dpkg/") && m != "/usr/lib/os-release" {
			t.Errorf("file diff modifies %s beyond the package database", m)
		}
	}

	// An added file changed: the diff names that file.
	changed := slices.Clone(withB)
	for i := range changed {
		if changed[i].Path == "node.env" {
			changed[i].Content = "BERTH_MASTER=https://other.invalid:8443\n"
		}
	}
	third, log, err := f.compose(ctx, changed, second.InputHash)
	if err != nil {
		t.Fatalf("compose with an added file changed: %v\n%s", err, log)
	}
	diff, err = f.repo.CommitDiff(ctx, second.Result.Commit, third.Result.Commit)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(diff.Files.Modified, []string{"/etc/berth/node.env"}) || len(diff.Files.Added)+len(diff.Files.Deleted) != 0 ||
		len(diff.Packages.Added)+len(diff.Packages.Removed)+len(diff.Packages.Changed) != 0 {
		t.Errorf("diff %+v, want /etc/berth/node.env modified alone", diff)
	}
	if third.Result.DeltaSize >= third.Result.Sizes.Stored/10 {
		t.Errorf("a one-file delta of %d bytes for a commit of %d", third.Result.DeltaSize, third.Result.Sizes.Stored)
	}
}

// TestComposeCancelLeavesRef cancels a build while its postprocess runs:
// the ref stays where it was, and nothing is left mounted or running.
func TestComposeCancelLeavesRef(t *testing.T) {
	f := newFixture(t, hostimagetest.Busybox())
	ctx := t.Context()
	def := hostimagetest.Definition(f.sources, "berth-test-busybox")
	first, log, err := f.compose(ctx, def, "")
	if err != nil {
		t.Fatalf("compose: %v\n%s", err, log)
	}
	slow := append(slices.Clone(def), hostimage.File{Path: "post.sh", Content: "echo started > /dev/stderr\nsleep 600\n"})
	slow[0].Content += "postprocess-script: post.sh\n"
	cctx, cancel := context.WithCancel(ctx)
	logw := &watchWriter{want: "started", seen: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		_, err := hostimage.Compose(cctx, hostimage.Job{
			Files: slow, Main: "host.yaml", Number: 2, Repo: f.repo, WorkDir: filepath.Join(f.dir, "work", "slow"),
			CacheDir: f.cache, Runners: hostimagetest.Runners(), Log: logw, Basearch: "x86_64",
		})
		errc <- err
	}()
	select {
	case <-logw.seen:
	case err := <-errc:
		t.Fatalf("the slow build ended before its postprocess started: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the slow build's postprocess did not start within 2 minutes")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled build: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the cancelled build did not stop within a minute")
	}
	t.Logf("the build stopped %v after its cancel", time.Since(start).Round(time.Millisecond))
	if got := strings.TrimSpace(f.ostree("rev-parse", testRef)); got != first.Result.Commit {
		t.Errorf("a cancelled build moved the ref to %s", got)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "work", "slow")); !os.IsNotExist(err) {
		t.Errorf("the cancelled build's work directory is left: %v", err)
	}
}

type watchWriter struct {
	want string
	buf  bytes.Buffer
	seen chan struct{}
	done atomic.Bool
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if !w.done.Load() && strings.Contains(w.buf.String(), w.want) {
		w.done.Store(true)
		close(w.seen)
	}
	return len(p), nil
}

// TestPostprocessHasNoNetwork performs the attack of a postprocess script
// that reaches out: to a listener on the build machine's loopback and on
// its other address. Neither sees a connection.
func TestPostprocessHasNoNetwork(t *testing.T) {
	f := newFixture(t, hostimagetest.Busybox())
	var accepted atomic.Int32
	var addrs []string
	for _, host := range []string{"127.0.0.1", outboundIP(t)} {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				c.Close()
			}
		}()
		addrs = append(addrs, ln.Addr().String())
	}
	def := hostimagetest.Definition(f.sources, "berth-test-busybox")
	script := "set -u\nfor a in " + strings.Join(addrs, " ") + "; do\n" +
		"  if busybox nc -w 2 ${a%:*} ${a##*:} </dev/null; then echo reached $a; exit 1; fi\n" +
		"done\necho isolated > /usr/lib/berth-net\n"
	def[0].Content += "postprocess:\n  - |\n    " + strings.ReplaceAll(strings.TrimSpace(script), "\n", "\n    ") + "\n"
	out, log, err := f.compose(t.Context(), def, "")
	if err != nil {
		t.Fatalf("compose: %v\n%s", err, log)
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the postprocess script reached the build machine %d times", n)
	}
	if got := f.ostree("cat", out.Result.Commit, "/usr/lib/berth-net"); got != "isolated\n" {
		t.Fatalf("the script did not run to its end: %q\n%s", got, log)
	}
}

func outboundIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Fatal("the machine has no non-loopback IPv4 address")
	return ""
}

// TestTreeWritesStayInTheRoot performs the attack of a package that
// plants a link out of the tree, which the definition then writes through
// (add-files), removes through (remove-files) or links units through:
// each build fails or writes inside its tree; the files outside stay.
func TestTreeWritesStayInTheRoot(t *testing.T) {
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	climb := "../../../../../../../../../../.." + victim
	tests := []struct {
		name  string
		links map[string]string
		yaml  string
	}{
		{"add-files through an absolute link", map[string]string{"etc/berth": victim},
			"add-files: [[node.env, /etc/berth/keep/planted]]\n"},
		{"add-files through a climbing link", map[string]string{"usr/share/evil": climb},
			"add-files: [[node.env, /usr/share/evil/planted]]\n"},
		{"add-files onto a link", map[string]string{"etc/planted": victim + "/keep/file"},
			"add-files: [[node.env, /etc/planted]]\n"},
		{"remove-files through a link", map[string]string{"usr/share/evil": victim},
			"remove-files: [usr/share/evil/keep]\n"},
		{"remove-files through a climbing link", map[string]string{"usr/share/evil": climb},
			"remove-files: [usr/share/evil/keep/file]\n"},
		{"units through a link", map[string]string{"etc/systemd/system": victim},
			"units: [evil.service]\nadd-files: [[evil.service, /usr/lib/systemd/system/evil.service]]\n"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.RemoveAll(victim); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(victim, "keep"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(victim, "keep", "file"), []byte("mine\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			evil := hostimagetest.Package{Name: "berth-test-evil", Version: fmt.Sprintf("1.%d", i), Links: tc.links}
			f := newFixture(t, hostimagetest.Busybox(), evil)
			def := hostimage.Files{
				{Path: "host.yaml", Content: "ref: berth/test/x86_64/host\nrepos: [local]\npackages: [berth-test-busybox, berth-test-evil]\n" + tc.yaml},
				{Path: "local.sources", Content: f.sources},
				{Path: "node.env", Content: "planted\n"},
				{Path: "evil.service", Content: hostimagetest.NodeUnit},
			}
			_, log, err := f.compose(t.Context(), def, "")
			t.Logf("build: %v", err)
			if err == nil {
				t.Logf("%s", log)
			}
			var names []string
			_ = filepath.WalkDir(victim, func(p string, d os.DirEntry, err error) error {
				if err == nil {
					rel, _ := filepath.Rel(victim, p)
					names = append(names, rel)
				}
				return nil
			})
			if !slices.Equal(names, []string{".", "keep", "keep/file"}) {
				t.Errorf("outside the tree there is now %v", names)
			}
			if data, err := os.ReadFile(filepath.Join(victim, "keep", "file")); err != nil || string(data) != "mine\n" {
				t.Errorf("the file outside the tree: %q, %v", data, err)
			}
		})
	}
}

// TestComposeOstreeLayers puts an ostree-layers ref (Berth's binary, as
// the master commits it) on the packages' tree of an archive repository,
// where ostree's --union-identical cannot work; a layer whose file
// differs from a package's is refused, naming the file, and the ref
// stays where it was.
func TestComposeOstreeLayers(t *testing.T) {
	f := newFixture(t, hostimagetest.Busybox())
	ctx := t.Context()
	layer := func(files map[string]string) {
		t.Helper()
		dir := t.TempDir()
		for p, c := range files {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.repo.CommitLayer(ctx, "berth/node", dir, "berth node agent"); err != nil {
			t.Fatal(err)
		}
	}
	// The layer repeats a package's file identically, and adds its own.
	layer(map[string]string{"usr/bin/berth": "#!/bin/sh\necho agent\n", "usr/lib/systemd/system/multi-user.target": "[Unit]\nDescription=Multi-User System\n"})
	def := hostimagetest.Definition(f.sources, "berth-test-busybox")
	def[0].Content += "ostree-layers: [berth/node]\n"
	first, log, err := f.compose(ctx, def, "")
	if err != nil {
		t.Fatalf("compose with a layer: %v\n%s", err, log)
	}
	if got := f.ostree("cat", testRef, "/usr/bin/berth"); got != "#!/bin/sh\necho agent\n" {
		t.Errorf("/usr/bin/berth holds %q, want the layer's", got)
	}
	if ls := f.ostree("ls", testRef, "/usr/bin/busybox"); !strings.Contains(ls, "/usr/bin/busybox") {
		t.Errorf("the package's files are gone under the layer: %s", ls)
	}

	// A layer that would replace a package's file.
	layer(map[string]string{"usr/bin/busybox": "not busybox\n"})
	_, log, err = f.compose(ctx, def, first.InputHash)
	if err == nil || !strings.Contains(err.Error(), "/usr/bin/busybox differs between the layer and the tree below it") {
		t.Fatalf("a conflicting layer: %v\n%s", err, log)
	}
	if got := strings.TrimSpace(f.ostree("rev-parse", testRef)); got != first.Result.Commit {
		t.Errorf("a refused build moved the ref to %s", got)
	}
}

// TestBootableTreeLayout: a tree with a kernel is committed as ostree
// admin deploy wants it (which refuses a tree without /usr/etc): /etc
// moved to /usr/etc, the mount points (/sysroot, /boot, /var ...), /ostree
// linked to sysroot/ostree. A tree without a kernel keeps its /etc.
func TestBootableTreeLayout(t *testing.T) {
	f := newFixture(t, hostimagetest.Busybox(), hostimagetest.Kernel())
	tests := []struct {
		packages   []string
		bootable   bool
		etc, noEtc string
	}{
		{[]string{"berth-test-busybox", "berth-test-kernel"}, true, "/usr/etc/berth/node.env", "/etc"},
		{[]string{"berth-test-busybox"}, false, "/etc/berth/node.env", "/usr/etc"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.packages, ","), func(t *testing.T) {
			out, log, err := f.compose(t.Context(), hostimagetest.Definition(f.sources, tc.packages...), "")
			if err != nil {
				t.Fatalf("compose: %v\n%s", err, log)
			}
			c := out.Result.Commit
			if got := f.ostree("cat", c, tc.etc); !strings.Contains(got, "BERTH_MASTER=") {
				t.Errorf("%s: %q", tc.etc, got)
			}
			if _, err := exec.Command("ostree", "--repo="+f.repo.Path, "ls", c, tc.noEtc).CombinedOutput(); err == nil {
				t.Errorf("the commit holds %s", tc.noEtc)
			}
			_, err = exec.Command("ostree", "--repo="+f.repo.Path, "ls", c, "/sysroot").CombinedOutput()
			if hasSysroot := err == nil; hasSysroot != tc.bootable {
				t.Errorf("/sysroot in the commit: %v, want %v", hasSysroot, tc.bootable)
			}
			if tc.bootable {
				// The mount points a booted deployment needs (busybox's
				// root lacks /boot, /proc, /sys, /dev and /var).
				for _, d := range []string{"/boot", "/var", "/proc", "/sys", "/dev", "/run", "/tmp"} {
					if _, err := exec.Command("ostree", "--repo="+f.repo.Path, "ls", "-d", c, d).CombinedOutput(); err != nil {
						t.Errorf("the bootable tree lacks the mount point %s", d)
					}
				}
				if got := f.ostree("ls", "-d", c, "/ostree"); !strings.Contains(got, "/ostree -> sysroot/ostree") {
					t.Errorf("/ostree: %q", got)
				}
			}
		})
	}
}
