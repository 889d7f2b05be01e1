//go:build !linux

package docker

import "errors"

// mountMemory needs Linux's tmpfs; elsewhere a secret volume is refused
// rather than written to disk.
func mountMemory(dir string, size int) error {
	return errors.New("secret volumes need a Linux host (tmpfs)")
}
