package e2e

import (
	"strings"
	"testing"

	"github.com/berthpaas/berth/backend/testenv"
)

// TestProjectNetworkCLI: berth project network join, make-global, isolate
// and show, as a cluster admin; a project admin is refused.
func TestProjectNetworkCLI(t *testing.T) {
	env := testenv.Start(t)
	admin := useConfig(t, "admin")
	admin.mustRun(env.AdminPassword+"\n", "login", env.URL, "-u", "admin", "--password-stdin")
	for _, p := range []string{"front", "back", "ops"} {
		admin.mustRun("", "project", "create", p)
	}
	wantContains(t, "show", admin.mustRun("", "project", "network", "show", "front"), "project front: a network of its own")

	out := admin.mustRun("", "project", "network", "join", "front", "back", "ops")
	wantContains(t, "join", out, "project back: joined with front", "project ops: joined with ")
	out = admin.mustRun("", "project", "network", "show", "front")
	wantContains(t, "show after the join", out, "project front: joined with back, ops")

	wantContains(t, "make-global", admin.mustRun("", "project", "network", "make-global", "ops"), "project ops: global")
	wantContains(t, "isolate", admin.mustRun("", "project", "network", "isolate", "back"), "project back: a network of its own")
	wantContains(t, "show after isolate", admin.mustRun("", "project", "network", "show", "front"), "project front: a network of its own")

	admin.mustRun("bob-password-1\n", "user", "create", "bob", "--password-stdin")
	bob := useConfig(t, "bob")
	bob.mustRun("bob-password-1\n", "login", env.URL, "-u", "bob", "--password-stdin")
	bob.mustRun("", "project", "create", "bobs")
	err := bob.mustFail("", "project", "network", "join", "bobs", "bobs")
	if !strings.Contains(err.Error(), "forbidden") && !strings.Contains(err.Error(), "Forbidden") && !strings.Contains(err.Error(), "cannot") {
		t.Errorf("a project admin's join: %v", err)
	}
	err = bob.mustFail("", "project", "network", "make-global", "bobs")
	if !strings.Contains(strings.ToLower(err.Error()), "forbidden") && !strings.Contains(err.Error(), "cannot") {
		t.Errorf("a project admin's make-global: %v", err)
	}
}
