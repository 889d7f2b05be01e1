// Package hostimagetest builds what host image tests compose from without
// a network: a flat apt repository of small packages made with dpkg-deb
// (a busybox one among them), and a definition that composes from it with
// mmdebstrap in seconds.
package hostimagetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/hostimage"
)

// Package is a test package.
type Package struct {
	Name, Version string
	// Files maps paths in the tree ("usr/share/x/y") to their content.
	Files map[string]string
	// Links maps paths in the tree to symbolic link targets.
	Links map[string]string
	// Copies maps paths in the tree to files of this machine to copy.
	Copies map[string]string
}

// Busybox is a package holding this machine's static busybox as
// /usr/bin/busybox and /usr/bin/sh, /bin linked to /usr/bin (a merged
// /usr), and the systemd targets a host's units name.
func Busybox() Package {
	return Package{
		Name: "berth-test-busybox", Version: "1.0",
		Copies: map[string]string{"usr/bin/busybox": "/bin/busybox"},
		Links:  map[string]string{"usr/bin/sh": "busybox", "bin": "usr/bin", "usr/sbin": "bin", "sbin": "usr/bin"},
		Files: map[string]string{
			"usr/lib/systemd/system/multi-user.target":      "[Unit]\nDescription=Multi-User System\n",
			"usr/lib/os-release":                            "NAME=\"Berth test host\"\nVERSION=\"1 (test)\"\nPRETTY_NAME=\"Berth test host 1\"\nID=berth-test\n",
			"etc/machine-id":                                "0123456789abcdef0123456789abcdef\n",
			"usr/share/doc/berth-test-busybox/README":       "documentation\n",
			"usr/share/doc/berth-test-busybox/copyright":    "licence\n",
			"usr/share/man/man1/busybox.1":                  "manual\n",
			"usr/share/locale/locale.alias":                 "french fr_FR.ISO-8859-1\n",
			"usr/share/locale/en/LC_MESSAGES/busybox.mo":    "en\n",
			"usr/share/locale/en_GB/LC_MESSAGES/busybox.mo": "en_GB\n",
			"usr/share/locale/fr/LC_MESSAGES/busybox.mo":    "fr\n",
		},
	}
}

// Simple is a package holding one file, /usr/share/NAME/VERSION.
func Simple(name, version string) Package {
	return Package{Name: name, Version: version, Files: map[string]string{
		"usr/share/" + name + "/version": version + "\n",
	}}
}

// KernelVersion is the version of Kernel's kernel.
const KernelVersion = "6.1.0-berth-test"

// Kernel is a package holding a kernel and an initramfs where OSTree
// looks for them (/usr/lib/modules/VERSION/vmlinuz, initramfs.img): not
// bootable, but enough for ostree admin deploy, which refuses a tree
// without a kernel.
func Kernel() Package {
	return Package{Name: "berth-test-kernel", Version: "1.0", Files: map[string]string{
		"usr/lib/modules/" + KernelVersion + "/vmlinuz":       "not a kernel\n",
		"usr/lib/modules/" + KernelVersion + "/initramfs.img": "not an initramfs\n",
	}}
}

// AptRepo writes a flat apt repository of pkgs into dir (made with
// dpkg-deb; a Packages index and a Release file beside them) and returns
// a deb822 stanza naming it, for a NAME.sources file.
func AptRepo(t testing.TB, dir string, pkgs ...Package) string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Fatalf("dpkg-deb is needed to build test packages (scripts/setup installs dpkg): %v", err)
	}
	repo := filepath.Join(dir, "repo")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	var index strings.Builder
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	for _, p := range pkgs {
		deb := buildDeb(t, dir, p)
		data, err := os.ReadFile(deb)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&index, "Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: Berth tests <tests@berth.invalid>\n"+
			"Description: Berth test package %s\nFilename: ./%s\nSize: %d\nSHA256: %s\n\n",
			p.Name, p.Version, p.Name, filepath.Base(deb), len(data), hex.EncodeToString(sum[:]))
	}
	packages := []byte(index.String())
	write(t, filepath.Join(repo, "Packages"), packages)
	sum := sha256.Sum256(packages)
	write(t, filepath.Join(repo, "Release"), []byte(fmt.Sprintf(
		"Origin: Berth tests\nLabel: Berth tests\nDate: %s\nSHA256:\n %s %d Packages\n",
		time.Now().UTC().Format(time.RFC1123), hex.EncodeToString(sum[:]), len(packages))))
	// copy://: apt copies the packages into the root, which a chroot sees.
	return fmt.Sprintf("Types: deb\nURIs: copy://%s\nSuites: ./\nTrusted: yes\n", repo)
}

func buildDeb(t testing.TB, dir string, p Package) string {
	t.Helper()
	tree := filepath.Join(dir, "build", p.Name+"_"+p.Version)
	if err := os.RemoveAll(tree); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(tree, "DEBIAN", "control"), []byte(fmt.Sprintf(
		"Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: Berth tests <tests@berth.invalid>\nDescription: Berth test package %s\n",
		p.Name, p.Version, p.Name)))
	for path, content := range p.Files {
		write(t, filepath.Join(tree, path), []byte(content))
	}
	for path, src := range p.Copies {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("package %s: %v", p.Name, err)
		}
		write(t, filepath.Join(tree, path), data)
		if err := os.Chmod(filepath.Join(tree, path), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for path, target := range p.Links {
		full := filepath.Join(tree, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
	deb := filepath.Join(dir, "repo", p.Name+"_"+p.Version+"_amd64.deb")
	out, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb %s: %v: %s", p.Name, err, out)
	}
	return deb
}

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// NodeUnit is the node agent's unit, as the test definitions add it.
const NodeUnit = "[Unit]\nDescription=Berth node agent (test)\n\n[Service]\nExecStart=/usr/bin/berth node\n\n[Install]\nWantedBy=multi-user.target\n"

// Definition is a host definition that composes from the repository
// whose stanza sources holds: host.yaml includes base.yaml, which adds
// the node unit and its configuration; packages are those named.
func Definition(sources string, packages ...string) hostimage.Files {
	return hostimage.Files{
		{Path: "host.yaml", Content: "include: base.yaml\nref: berth/test/${basearch}/host\nrepos: [local]\npackages: [" +
			strings.Join(packages, ", ") + "]\n"},
		{Path: "base.yaml", Content: "units: [berth-node.service]\ndefault-target: multi-user.target\ndocumentation: false\ninstall-langs: [en_US]\n" +
			"add-files:\n  - [berth-node.service, /usr/lib/systemd/system/berth-node.service]\n  - [node.env, /etc/berth/node.env]\n" +
			"postprocess:\n  - |\n    echo composed > /usr/lib/berth-composed\n"},
		{Path: "berth-node.service", Content: NodeUnit},
		{Path: "node.env", Content: "BERTH_MASTER=https://master.invalid:8443\n"},
		{Path: "local.sources", Content: sources},
	}
}

// Runners compose the test definitions: mmdebstrap installs only the
// packages named, with dpkg from outside the root (the test packages have
// no maintainer scripts), which takes seconds.
func Runners() hostimage.RunnerConfig {
	return hostimage.RunnerConfig{Root: hostimage.Mmdebstrap{Mode: "chrootless", Variant: "custom"}}
}

// Systemd is a package holding this machine's systemd (PID 1, systemctl,
// the journal, the shutdown program), its ostree command and the shared
// libraries they load, with the units a boot and a reboot go through:
// with Busybox and Kernel, a host that boots (Machine), runs berth node
// under systemd and upgrades itself with ostree admin deploy, composed in
// seconds. It needs merged-/usr paths, as Debian 12 has them.
func Systemd(t testing.TB) Package {
	t.Helper()
	p := Package{Name: "berth-test-systemd", Version: "1.0", Copies: map[string]string{}, Files: map[string]string{},
		Links: map[string]string{"lib": "usr/lib", "lib64": "usr/lib64", "usr/bin/init": "../lib/systemd/systemd"}}
	bins := []string{"/usr/lib/systemd/systemd", "/usr/lib/systemd/systemd-shutdown", "/usr/lib/systemd/systemd-journald",
		"/usr/bin/systemctl", "/usr/bin/journalctl", "/usr/bin/ostree"}
	for _, bin := range bins {
		p.Copies[strings.TrimPrefix(bin, "/")] = bin
		out, err := exec.Command("ldd", bin).Output()
		if err != nil {
			t.Fatalf("ldd %s (systemd and ostree are needed: scripts/setup installs them): %v", bin, err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
			// "/lib64/ld-linux-x86-64.so.2 (0x...)"
			f := strings.Fields(l)
			var lib string
			switch {
			case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
				lib = f[2]
			case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
				lib = f[0]
			default:
				continue
			}
			dest := strings.TrimPrefix(lib, "/")
			if !strings.HasPrefix(dest, "usr/") {
				dest = "usr/" + dest // /lib and /lib64 are links to /usr's
			}
			p.Copies[dest] = lib
		}
	}
	// Units as Debian's systemd ships them, for the boot (sysinit.target,
	// the journal) and for systemctl reboot (reboot.target ...
	// systemd-reboot.service); multi-user.target is Busybox's.
	for _, u := range []string{"basic.target", "sysinit.target", "sockets.target", "timers.target", "paths.target", "slices.target",
		"local-fs.target", "swap.target", "network.target", "network-online.target",
		"shutdown.target", "umount.target", "final.target", "reboot.target", "systemd-reboot.service",
		"systemd-journald.service", "systemd-journald.socket", "systemd-journald-dev-log.socket", "systemd-journald-audit.socket"} {
		data, err := os.ReadFile(filepath.Join("/usr/lib/systemd/system", u))
		if err != nil {
			t.Fatal(err)
		}
		p.Files["usr/lib/systemd/system/"+u] = string(data)
	}
	for _, l := range []string{"sockets.target.wants/systemd-journald.socket", "sockets.target.wants/systemd-journald-dev-log.socket",
		"sysinit.target.wants/systemd-journald.service"} {
		p.Links["usr/lib/systemd/system/"+l] = "../" + filepath.Base(l)
	}
	return p
}
