package docker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// VolumeUsage measures the pod's emptyDir volumes as du does: the blocks
// their files take, links not followed; see runtime.Runtime.
func (r *Runtime) VolumeUsage(ctx context.Context, uid string) (map[string]int64, error) {
	dir := filepath.Join(r.podDir(uid), "volumes")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("volumes of pod %q: %w", uid, runtime.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("volumes of pod %q: %w", uid, err)
	}
	usage := make(map[string]int64, len(entries))
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n, err := diskUsage(ctx, filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("volume %q of pod %q: %w", e.Name(), uid, err)
		}
		usage[e.Name()] = n
	}
	return usage, nil
}

// diskUsage adds up the blocks of everything under root. Files that a
// container removes meanwhile are skipped.
func diskUsage(ctx context.Context, root string) (int64, error) {
	var total int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += int64(st.Blocks) * 512
		} else {
			total += info.Size()
		}
		return nil
	})
	return total, err
}
