package pgserver

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
)

// ErrBinariesNotFound is returned by Start when initdb or postgres cannot be
// found in PATH nor in Debian's versioned directories.
var ErrBinariesNotFound = errors.New(`postgres binaries not found (initdb, postgres): install the Debian package "postgresql"`)

// versionedBinDirs is where Debian installs each major version
// (/usr/lib/postgresql/15/bin) without putting it in PATH. A variable so that
// tests can point it at nothing.
var versionedBinDirs = "/usr/lib/postgresql/*/bin"

// binaries are the programs Start runs.
type binaries struct {
	initdb   string
	postgres string
}

// findBinaries looks in PATH first, then in the newest Debian version
// directory that has both programs.
func findBinaries() (binaries, error) {
	initdb, err1 := exec.LookPath("initdb")
	postgres, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil {
		return binaries{initdb: initdb, postgres: postgres}, nil
	}
	dirs, _ := filepath.Glob(versionedBinDirs)
	slices.SortFunc(dirs, func(a, b string) int { return majorVersion(b) - majorVersion(a) })
	for _, dir := range dirs {
		b := binaries{initdb: filepath.Join(dir, "initdb"), postgres: filepath.Join(dir, "postgres")}
		if isExecutable(b.initdb) && isExecutable(b.postgres) {
			return b, nil
		}
	}
	return binaries{}, ErrBinariesNotFound
}

// majorVersion reads 15 from /usr/lib/postgresql/15/bin; 0 when it is not a number.
func majorVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
