//go:build !linux

package docker

import "errors"

const subPathsDir = "volume-subpaths"

// bindSubPath needs Linux's openat2 and bind mounts; elsewhere a subPath
// is refused rather than joined as text.
func bindSubPath(root, subPath, target string, check func(resolved string) error) (string, error) {
	return "", errors.New("subPath volume mounts need a Linux host")
}

// unmountSubPaths has nothing to do where nothing is ever mounted.
func unmountSubPaths(podDir string) error { return nil }
