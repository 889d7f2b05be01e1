package version

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/version"
)

func TestGitVersionIsSemantic(t *testing.T) {
	tests := []struct{ version, commit, want string }{
		{"v0.1.0-dev", "unknown", "v1.32.0-berth.0.1.0-dev"},
		{"3ca9105", "3ca9105", "v1.32.0-berth.3ca9105+3ca9105"},
		{"v0.2.1-4-g1a2b3c4-dirty", "1a2b3c4", "v1.32.0-berth.0.2.1-4-g1a2b3c4-dirty+1a2b3c4"},
		{"2026.01.07", "0abc", "v1.32.0-berth.2026.n01.n07+0abc"},
		{"weird/ver sion", "", "v1.32.0-berth.weird.ver.sion"},
	}
	for _, tt := range tests {
		Version, Commit = tt.version, tt.commit
		got := GitVersion()
		if got != tt.want {
			t.Errorf("GitVersion(%q, %q) = %q, want %q", tt.version, tt.commit, got, tt.want)
		}
		if _, err := version.ParseSemantic(got); err != nil {
			t.Errorf("%q is not semantic: %v", got, err)
		}
	}
}
