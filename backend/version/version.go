// Package version holds the build's version and commit, stamped in by the
// linker (-X github.com/berthpaas/berth/backend/version.Version=...).
package version

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"

	"k8s.io/apimachinery/pkg/version"
)

// Set at link time; the defaults mark a development build.
var (
	Version = "v0.1.0-dev"
	Commit  = "unknown"
)

// KubernetesVersion is the Kubernetes API level Berth serves, which
// clients compare with their own (kubectl's version skew warning).
const KubernetesVersion = "v1.32.0"

// ServerVersion is the answer to GET /version: the shape kubectl expects,
// with a semantic gitVersion (kubectl version exits 1 on anything else),
// and Berth's own version beside it.
type ServerVersion struct {
	version.Info
	// BerthVersion and BerthCommit are Berth's own, as `berth version`
	// prints them.
	BerthVersion string `json:"berthVersion"`
	BerthCommit  string `json:"berthCommit"`
}

// Info is the answer to GET /version.
func Info() ServerVersion {
	return ServerVersion{
		Info: version.Info{
			Major:      "1",
			Minor:      "32",
			GitVersion: GitVersion(),
			GitCommit:  Commit,
			GoVersion:  runtime.Version(),
			Compiler:   runtime.Compiler,
			Platform:   fmt.Sprintf("%s/%s", runtime.GOOS, runtime.GOARCH),
		},
		BerthVersion: Version,
		BerthCommit:  Commit,
	}
}

// GitVersion is the Kubernetes level with Berth's version as a semantic
// version's pre-release and its commit as build metadata, e.g.
// v1.32.0-berth.0.1.0+3ca9105.
func GitVersion() string {
	v := KubernetesVersion + "-berth." + identifiers(strings.TrimPrefix(Version, "v"))
	if c := identifiers(Commit); c != "" && c != "unknown" {
		v += "+" + c
	}
	return v
}

var notIdentifier = regexp.MustCompile(`[^0-9A-Za-z-]+`)

// identifiers turns s into dot-separated semantic-version identifiers:
// only [0-9A-Za-z-], none empty, no numeric one with a leading zero.
func identifiers(s string) string {
	var out []string
	for _, part := range strings.Split(notIdentifier.ReplaceAllString(s, "."), ".") {
		if part == "" {
			continue
		}
		if len(part) > 1 && part[0] == '0' && strings.Trim(part, "0123456789") == "" {
			part = "n" + part
		}
		out = append(out, part)
	}
	return strings.Join(out, ".")
}

// String is the one line `berth version` prints.
func String() string {
	return fmt.Sprintf("berth %s (commit %s, %s)", Version, Commit, runtime.Version())
}
