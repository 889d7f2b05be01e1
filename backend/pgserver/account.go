package pgserver

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// account is the unprivileged identity the server runs as when the caller
// is root. A nil *account means "the caller's own identity".
type account struct {
	name string
	uid  uint32
	gid  uint32
}

// serverAccount returns nil unless the process is root, in which case it
// picks the "postgres" system user, or "nobody" when there is none.
func serverAccount() (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &account{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
	}
	return nil, errors.New(`running as root, and neither a "postgres" nor a "nobody" user exists to run postgres as`)
}

// sysProcAttr runs a child in its own process group, so that a Ctrl-C on the
// terminal reaches berth alone and berth decides when the database stops,
// and as the account when there is one. The server gets SIGINT (fast
// shutdown) if berth dies without stopping it, so that no orphan keeps the
// data directory locked. That signal is sent when the forking thread ends,
// so children are forked from a locked thread (see launch).
func (a *account) sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGINT}
	if a != nil {
		attr.Credential = &syscall.Credential{Uid: a.uid, Gid: a.gid}
	}
	return attr
}

// chown hands path to the account; a no-op without one.
func (a *account) chown(path string) error {
	if a == nil {
		return nil
	}
	if err := os.Chown(path, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("hand %q to user %q: %w", path, a.name, err)
	}
	return nil
}

// chownTree hands a whole directory to the account when its top is owned by
// someone else, as after a restore or a copy made by root.
func (a *account) chownTree(dir string) error {
	if a == nil {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == a.uid && st.Gid == a.gid {
		return nil
	}
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return a.chown(path)
	})
}

// ensureReachable lets the account traverse every ancestor of dir. Without
// it postgres cannot even chdir into its data directory when that lives
// under a root-only directory such as a 0700 temporary directory. Only the
// search bit is added, never read: names stay hidden.
func (a *account) ensureReachable(dir string, logger *slog.Logger) error {
	if a == nil {
		return nil
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if bit := a.missingSearchBit(fi); bit != 0 {
			mode := fi.Mode().Perm() | bit
			if err := os.Chmod(p, mode); err != nil {
				return fmt.Errorf("let user %q reach %q: %w", a.name, dir, err)
			}
			logger.Warn("granted search permission so that postgres can reach its data directory",
				"path", p, "mode", mode.String(), "user", a.name)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// missingSearchBit returns the permission bit that would let the account
// search the directory, or 0 if it already can.
func (a *account) missingSearchBit(fi fs.FileInfo) fs.FileMode {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	bit := fs.FileMode(0o001)
	switch {
	case st.Uid == a.uid:
		bit = 0o100
	case st.Gid == a.gid:
		bit = 0o010
	}
	if fi.Mode().Perm()&bit != 0 {
		return 0
	}
	return bit
}
