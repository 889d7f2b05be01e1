// Package version holds the build's version and commit, stamped in by the
// linker (-X github.com/berthpaas/berth/backend/version.Version=...).
package version

import (
	"fmt"
	"runtime"

	"k8s.io/apimachinery/pkg/version"
)

// Set at link time; the defaults mark a development build.
var (
	Version = "v0.1.0-dev"
	Commit  = "unknown"
)

// Info is the answer to GET /version, in the shape kubectl expects.
func Info() version.Info {
	return version.Info{
		Major:      "1",
		Minor:      "32",
		GitVersion: Version,
		GitCommit:  Commit,
		GoVersion:  runtime.Version(),
		Compiler:   runtime.Compiler,
		Platform:   fmt.Sprintf("%s/%s", runtime.GOOS, runtime.GOARCH),
	}
}

// String is the one line `berth version` prints.
func String() string {
	return fmt.Sprintf("berth %s (commit %s, %s)", Version, Commit, runtime.Version())
}
