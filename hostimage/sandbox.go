package hostimage

import (
	"context"
	"fmt"
	"io"
)

// sandboxDroppedCaps are the capabilities a postprocess script does not
// get: with them it could mount the host's disks, load kernel modules,
// reach devices or the network configuration, and so leave its root.
var sandboxDroppedCaps = []string{
	"CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_BOOT", "CAP_SYS_TIME",
	"CAP_SYS_PTRACE", "CAP_NET_ADMIN", "CAP_MKNOD", "CAP_SYS_RESOURCE", "CAP_BPF", "CAP_PERFMON",
	"CAP_SYSLOG", "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_AUDIT_CONTROL", "CAP_SYS_PACCT",
}

// runInRoot runs argv inside root as rpm-ostree runs postprocess scripts:
// in bubblewrap, with the root as / (pivot_root, not chroot), its own
// /dev, /proc and /tmp, no network (a namespace with only a loopback that
// is down), its own PID, IPC and UTS namespaces, and without the
// capabilities that would let it out. It dies with the build. roBinds
// maps host paths to where they are seen, read-only, in the root.
func runInRoot(ctx context.Context, root string, log io.Writer, roBinds map[string]string, argv ...string) error {
	args := []string{
		"--bind", root, "/",
		"--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
		"--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--die-with-parent", "--new-session",
		"--chdir", "/", "--clearenv",
		"--setenv", "PATH", "/usr/sbin:/usr/bin:/sbin:/bin",
		"--setenv", "HOME", "/root", "--setenv", "LANG", "C.UTF-8",
		"--unsetenv", "DOCKER_HOST",
	}
	for _, c := range sandboxDroppedCaps {
		args = append(args, "--cap-drop", c)
	}
	for src, dest := range roBinds {
		args = append(args, "--ro-bind", src, dest)
	}
	args = append(args, "--")
	args = append(args, argv...)
	if err := (command{name: "bwrap", args: args, log: log}).run(ctx); err != nil {
		return fmt.Errorf("in the root: %w", err)
	}
	return nil
}
