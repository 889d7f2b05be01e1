//go:build linux

package docker

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// A volume mount's subPath names a path inside a volume that a container
// of the pod can write: it may have made any component a symbolic link to
// "/" or "..", or be swapping one in while the mount is prepared
// (CVE-2017-1002101). Joining the subPath as text and handing the result to
// Docker lets Docker follow those links on the host. As the kubelet does
// since that CVE, the runtime instead
//
//  1. opens the volume's root, then each component of the subPath beneath
//     it, refusing symbolic links (openat2 with RESOLVE_BENEATH |
//     RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS; openat with O_NOFOLLOW,
//     and no "..", where the kernel lacks openat2), creating missing
//     directories on the way with the mode of the volume's root;
//  2. bind-mounts the descriptor it ends with (/proc/self/fd/N) on a
//     staging path of its own, <pod dir>/volume-subpaths/<volume>/<container>/<index>,
//     which nothing in a container can reach;
//  3. gives Docker the staging path, which names what was opened however
//     the volume changes afterwards.
//
// The staging mounts are unmounted before the pod's directory is removed
// (KillPod), and when the runtime starts, for pods that have no containers
// left.

// subPathsDir is the directory, in a pod's state directory, of its staged
// subPath mounts.
const subPathsDir = "volume-subpaths"

// openat2Missing is set once the kernel answered ENOSYS to openat2.
var openat2Missing struct {
	sync.Mutex
	yes bool
}

// bindSubPath resolves subPath beneath root safely, calls check with the
// host path it resolved to, and bind-mounts it on target (replacing what
// was mounted there before). It returns target.
func bindSubPath(root, subPath, target string, check func(resolved string) error) (string, error) {
	parts, err := subPathParts(subPath)
	if err != nil {
		return "", err
	}
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("opening the volume: %w", err)
	}
	var rootStat unix.Stat_t
	if err := unix.Fstat(fd, &rootStat); err != nil {
		unix.Close(fd)
		return "", fmt.Errorf("volume: %w", err)
	}
	walked := ""
	for _, part := range parts {
		next, err := openChild(fd, part, os.FileMode(rootStat.Mode&0o7777))
		unix.Close(fd)
		walked = filepath.Join(walked, part)
		if err != nil {
			return "", fmt.Errorf("subPath %q: %q: %w", subPath, walked, err)
		}
		fd = next
	}
	defer unix.Close(fd)
	proc := "/proc/self/fd/" + strconv.Itoa(fd)
	if check != nil {
		resolved, err := os.Readlink(proc)
		if err != nil {
			return "", fmt.Errorf("subPath %q: %w", subPath, err)
		}
		if err := check(resolved); err != nil {
			return "", err
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", fmt.Errorf("subPath %q: %w", subPath, err)
	}
	if err := unmountTarget(target); err != nil {
		return "", err
	}
	if err := makeTarget(target, st.Mode&unix.S_IFMT == unix.S_IFDIR); err != nil {
		return "", fmt.Errorf("subPath %q: staging: %w", subPath, err)
	}
	if err := unix.Mount(proc, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", fmt.Errorf("subPath %q: bind-mounting it on %q: %w", subPath, target, err)
	}
	return target, nil
}

// subPathParts splits a subPath into components; Kubernetes forbids
// absolute paths and "..".
func subPathParts(subPath string) ([]string, error) {
	if filepath.IsAbs(subPath) {
		return nil, fmt.Errorf("subPath %q: must be a relative path", subPath)
	}
	var parts []string
	for _, part := range strings.Split(subPath, "/") {
		switch part {
		case "", ".":
		case "..":
			return nil, fmt.Errorf("subPath %q: must not contain '..'", subPath)
		default:
			parts = append(parts, part)
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("subPath %q: names the volume itself", subPath)
	}
	return parts, nil
}

// errSymlink refuses a component that is a symbolic link.
var errSymlink = errors.New("is a symbolic link; symbolic links are not followed in a subPath")

// openChild opens one component beneath the directory dirfd without
// following a symbolic link, creating it as a directory with mode perm if
// it does not exist.
func openChild(dirfd int, name string, perm os.FileMode) (int, error) {
	fd, err := openNoFollow(dirfd, name, unix.O_PATH)
	if !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	if err := unix.Mkdirat(dirfd, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("creating it: %w", err)
	}
	// Opened for reading, not O_PATH, so that fchmod works on what was
	// opened, never on what a link swapped in would name.
	fd, err = openNoFollow(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return -1, err
	}
	if err := unix.Fchmod(fd, uint32(perm)); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("setting its mode: %w", err)
	}
	return fd, nil
}

// openNoFollow opens name beneath dirfd, refusing symbolic links and
// paths that leave dirfd.
func openNoFollow(dirfd int, name string, flags int) (int, error) {
	fd, err := openBeneath(dirfd, name, flags|unix.O_CLOEXEC|unix.O_NOFOLLOW)
	if errors.Is(err, unix.ELOOP) {
		return -1, errSymlink
	}
	if err != nil {
		return -1, err
	}
	// With O_PATH|O_NOFOLLOW, both openat and openat2 open a link
	// itself rather than fail: fstat tells.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		unix.Close(fd)
		return -1, errSymlink
	}
	return fd, nil
}

// openBeneath is openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_MAGICLINKS, or, before Linux 5.6, openat: name is then one
// component and never "..", so O_NOFOLLOW does as much.
func openBeneath(dirfd int, name string, flags int) (int, error) {
	openat2Missing.Lock()
	missing := openat2Missing.yes
	openat2Missing.Unlock()
	if !missing {
		fd, err := unix.Openat2(dirfd, name, &unix.OpenHow{
			Flags:   uint64(flags),
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if errors.Is(err, unix.EXDEV) {
			return -1, errors.New("leaves the volume")
		}
		if !errors.Is(err, unix.ENOSYS) {
			return fd, err
		}
		openat2Missing.Lock()
		openat2Missing.yes = true
		openat2Missing.Unlock()
	}
	return unix.Openat(dirfd, name, flags, 0)
}

// makeTarget creates the staging path: a directory, or an empty file to
// mount a file on.
func makeTarget(target string, dir bool) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return err
	}
	if dir {
		return os.Mkdir(target, 0o700)
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// unmountTarget unmounts and removes a staging path, if it exists.
func unmountTarget(target string) error {
	if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting %q: %w", target, err)
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %q: %w", target, err)
	}
	return nil
}

// unmountSubPaths unmounts every staged subPath of a pod and checks that
// nothing stays mounted under its directory, which RemoveAll would then
// descend into: it is the last step before the directory is removed.
func unmountSubPaths(podDir string) error {
	base := filepath.Join(podDir, subPathsDir)
	// Every staging path (<volume>/<container>/<index>), whatever the
	// mount table calls it, then whatever else the table shows.
	staged, _ := filepath.Glob(filepath.Join(base, "*", "*", "*"))
	mounts, err := mountsUnder(podDir)
	if err != nil {
		return err
	}
	mounts = append(staged, mounts...)
	var errs []error
	// Deepest first, should mounts nest.
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := unix.Unmount(mounts[i], unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %q: %w", mounts[i], err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if left, err := mountsUnder(podDir); err != nil {
		return err
	} else if len(left) > 0 {
		return fmt.Errorf("still mounted under %q: %q", podDir, left)
	}
	if err := os.RemoveAll(base); err != nil {
		return fmt.Errorf("removing the subPath staging of %q: %w", podDir, err)
	}
	return nil
}

// mountsUnder lists the mount points beneath dir, in the order of
// /proc/self/mountinfo (parents before children).
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if isUnder(mp, dir) && mp != dir {
			out = append(out, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	return out, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of
// /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
