package hostimagetest

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Machine is a host that boots from an OSTree sysroot, run as a container
// of this machine's Docker engine: the container is the machine, its
// entrypoint the boot loader and initramfs, systemd its PID 1.
//
//	docker start ─► boot loader: the boot loader entry with the highest
//	                version in /sysroot/boot/loader/entries (the next
//	                boot's, as ostree writes them), its ostree= argument
//	  ─► prepare-root: the deployment as /, /sysroot, the stateroot's
//	     /var, /boot, /usr read-only, /run/ostree-booted (what
//	     ostree-prepare-root does in the initramfs)
//	  ─► systemd as PID 1 ... systemctl reboot: systemd stops every unit
//	     and exits ─► the machine's power: the test starts the container
//	     again, and the next boot reads the entries again
//
// Nothing but the kernel is left out: the deployment, its systemd, its
// units and its ostree are the host's own. The sysroot is a directory of
// this machine, bound into the container, as a disk survives a reboot.
type Machine struct {
	t       testing.TB
	Name    string // the container's
	Sysroot string
	boots   atomic.Int32
}

// bootLoader is the container's entrypoint (busybox sh).
const bootLoader = `set -e
best= version=-1
for f in /sysroot/boot/loader/entries/*.conf; do
  v=$(sed -n 's/^version //p' "$f")
  if [ "$v" -gt "$version" ]; then version=$v best=$f; fi
done
[ -n "$best" ] || { echo "boot loader: no entry in /sysroot/boot/loader/entries"; exit 1; }
for o in $(sed -n 's/^options //p' "$best"); do
  case $o in ostree=*) path=${o#ostree=} ;; esac
done
d=$(readlink -f "/sysroot$path")
echo "boot loader: $(basename "$best") ostree=$path -> ${d#/sysroot}"
mount --bind "$d" "$d"
mount --rbind /sysroot "$d/sysroot"
stateroot=${d%/deploy/*}
mount --bind "$stateroot/var" "$d/var"
mount --bind /sysroot/boot "$d/boot"
mount --bind "$d/usr" "$d/usr"
mount -o remount,bind,ro "$d/usr"
for m in dev proc sys; do mount --rbind /$m "$d/$m"; done
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$d/run"
touch "$d/run/ostree-booted"
exec chroot "$d" /sbin/init
`

// Boot starts a machine on sysroot, which must hold a deployment and its
// boot loader entries (ostree admin deploy writes both). The machine and
// its image are removed when the test ends.
//
// The container is not --privileged, which a Docker daemon without
// CAP_SYS_RESOURCE cannot grant: it gets the capabilities the mounts,
// systemd and ostree (chattr +i on deployments) need, and a cgroup
// namespace of its own, so that systemd sees its container's cgroups as
// the whole tree. It shares the host's network, so that the host reaches
// a test's master on 127.0.0.1.
func Boot(t testing.TB, sysroot string) *Machine {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Fatalf("docker does not answer (scripts/setup starts it): %v", err)
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	m := &Machine{t: t, Name: "berth-test-machine-" + hex.EncodeToString(suffix), Sysroot: sysroot}
	image := m.Name + ":boot"
	importBootImage(t, image)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", image).Run() })
	create := []string{"create", "--name", m.Name, "--network", "host", "--cgroupns=private",
		"--security-opt", "seccomp=unconfined", "-v", sysroot + ":/sysroot", "-e", "container=docker", "--stop-signal", "SIGRTMIN+3"}
	for _, c := range []string{"SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_CHROOT", "MKNOD", "LINUX_IMMUTABLE"} {
		create = append(create, "--cap-add", c)
	}
	docker(t, append(create, image, "/bin/busybox", "sh", "-c", bootLoader)...)
	// The power: each time the machine stops (a reboot, or a failed
	// boot), it is started again until the test ends. Not the engine's
	// restart policy, which would keep a killed test's machine booting.
	ended := make(chan struct{})
	powered := make(chan struct{})
	t.Cleanup(func() {
		close(ended)
		_, _ = exec.Command("docker", "rm", "-f", m.Name).Output()
		<-powered
	})
	docker(t, "start", m.Name)
	m.boots.Store(1)
	go func() {
		defer close(powered)
		for {
			if err := exec.Command("docker", "wait", m.Name).Run(); err != nil {
				return // removed
			}
			select {
			case <-ended:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if exec.Command("docker", "start", m.Name).Run() != nil {
				return
			}
			m.boots.Add(1)
		}
	}()
	return m
}

// Exec runs a command of the host: docker exec starts it in the
// container's own root, from which it enters PID 1's.
func (m *Machine) Exec(args ...string) (string, error) {
	out, err := exec.Command("docker", append([]string{"exec", m.Name, "/bin/busybox", "chroot", "/proc/1/root"}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Boots is how many times the machine has booted: its first start and
// one more after each reboot.
func (m *Machine) Boots() int { return int(m.boots.Load()) }

// Console is what the machine wrote to its console in every boot: the
// boot loader's choice, and systemd's messages.
func (m *Machine) Console() string {
	out, _ := exec.Command("docker", "logs", m.Name).CombinedOutput()
	return string(out)
}

// Journal is what a failing test shows of the machine: the node agent's
// journal, failed units, and the boot loader's and systemd's console.
func (m *Machine) Journal() string {
	out, _ := m.Exec("journalctl", "--no-pager", "-b", "-n", "80", "-u", "berth-node", "-u", "docker")
	failed, _ := m.Exec("systemctl", "--failed", "--no-pager")
	logs, _ := exec.Command("docker", "logs", "--tail", "60", m.Name).CombinedOutput()
	return out + "\n" + failed + "\n" + string(logs)
}

func docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// importBootImage makes image, a root holding only this machine's static
// busybox (the boot loader's shell and tools), with docker import.
func importBootImage(t testing.TB, image string) {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("a static busybox is needed (scripts/setup installs busybox-static): %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"bin/", "sysroot/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(bb); err != nil {
		t.Fatal(err)
	}
	// The boot loader's commands are busybox's applets.
	for _, a := range []string{"sh", "mount", "chroot", "touch", "sed", "readlink", "basename"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker", "import", "-", image)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker import %s: %v: %s", image, err, out)
	}
}

// InstallHost makes sysroot a host's disk as an installer does: an OSTree
// physical root (ostree admin init-fs) with the stateroot osname, the
// remote berth naming url (a master's repository), ref pulled from it and
// deployed with a boot loader entry. Deployments are made immutable
// (chattr +i): the test's clean-up makes them mutable again for
// t.TempDir's removal.
func InstallHost(t testing.TB, sysroot, osname, url, ref string) {
	t.Helper()
	ostree := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ostree", args...).CombinedOutput(); err != nil {
			t.Fatalf("ostree %v: %v\n%s", args, err, out)
		}
	}
	ostree("admin", "init-fs", sysroot)
	ostree("admin", "os-init", "--sysroot="+sysroot, osname)
	t.Cleanup(func() { _ = exec.Command("chattr", "-R", "-i", filepath.Join(sysroot, "ostree", "deploy")).Run() })
	ostree("remote", "add", "--sysroot="+sysroot, "--no-gpg-verify", "berth", url)
	ostree("pull", "--repo="+filepath.Join(sysroot, "ostree", "repo"), "berth", ref)
	ostree("admin", "deploy", "--sysroot="+sysroot, "--os="+osname, "--karg=root=LABEL=berth", "berth:"+ref)
}

// WriteEtc writes p (a path under /etc) into a deployment's /etc, etc, as
// provisioning does before the first boot.
func WriteEtc(t testing.TB, etc, p, content string, mode os.FileMode) {
	t.Helper()
	full := filepath.Join(etc, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// ProvisionNode writes into a deployment's /etc what an operator gives a
// host to join a master as node name: /etc/berth/node.env, read by
// berth-node.service, and the bootstrap token. The agent runs the fake
// runtime: a test's host has no container engine of its own.
func ProvisionNode(t testing.TB, etc, master, name, token string) {
	t.Helper()
	WriteEtc(t, etc, "berth/node.env", "BERTH_MASTER="+master+"\nBERTH_NODE_ARGS=--runtime fake --name "+name+" --listen 127.0.0.1:0 --log-level info\n", 0o644)
	WriteEtc(t, etc, "berth/node-token", token+"\n", 0o600)
}
