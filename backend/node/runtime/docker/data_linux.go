//go:build linux

package docker

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// mountMemory mounts a tmpfs of at most size bytes on dir unless one is
// there already, so that what is written there (a secret) stays in
// memory and never reaches the host's disk. KillPod unmounts it with the
// pod's other mounts.
func mountMemory(dir string, size int) error {
	var st, parent unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("tmpfs for %q: %w", dir, err)
	}
	if err := unix.Stat(filepath.Dir(dir), &parent); err != nil {
		return fmt.Errorf("tmpfs for %q: %w", dir, err)
	}
	var fsInfo unix.Statfs_t
	if err := unix.Statfs(dir, &fsInfo); err != nil {
		return fmt.Errorf("tmpfs for %q: %w", dir, err)
	}
	if st.Dev != parent.Dev && fsInfo.Type == unix.TMPFS_MAGIC {
		return nil // mounted by an earlier sync
	}
	opts := fmt.Sprintf("mode=0755,size=%d", size)
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mounting a tmpfs on %q: %w", dir, err)
	}
	return nil
}
