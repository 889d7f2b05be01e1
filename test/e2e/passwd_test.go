package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/berthpaas/berth/backend/testenv"
)

// TestPasswd changes passwords with the CLI against a real master: one's
// own with the current one (the other logins end, this one stays), and
// another user's as a cluster admin.
func TestPasswd(t *testing.T) {
	env := testenv.Start(t)
	resp := env.Do(t, http.MethodPost, "/apis/berth.dev/v1/users", env.AdminToken, map[string]any{
		"metadata": map[string]string{"name": "alice"}, "spec": map[string]string{"password": "alice-password-1"}})
	if resp.Code != http.StatusCreated {
		t.Fatalf("create alice: %d %s", resp.Code, resp.Body)
	}
	elsewhere := env.Login(t, "alice", "alice-password-1") // alice on another machine

	alice := useConfig(t, "alice")
	alice.mustRun("alice-password-1\n", "login", env.URL, "-u", "alice", "--password-stdin")

	err := alice.mustFail("", "passwd")
	wantContains(t, "passwd without a terminal", err.Error(), "--password-stdin")
	err = alice.mustFail("wrong-password\nalice-password-2\n", "passwd", "--password-stdin")
	wantContains(t, "passwd with the wrong current password", err.Error(), "current password is wrong")
	err = alice.mustFail("alice-password-1\nshort\n", "passwd", "--password-stdin")
	wantContains(t, "passwd to a short one", err.Error(), "newPassword", "at least 8 characters")
	err = alice.mustFail("alice-password-1\n", "passwd", "--password-stdin")
	wantContains(t, "passwd without the new one", err.Error(), "no line with the new password")
	err = alice.mustFail("alice-password-1\n", "passwd", "admin", "--password-stdin")
	wantContains(t, "passwd of another user by a user", err.Error(), "forbidden")

	out := alice.mustRun("alice-password-1\nalice-password-2\n", "passwd", "--password-stdin")
	wantContains(t, "passwd", out, "Password of alice changed.")
	if out := alice.mustRun("", "whoami"); strings.TrimSpace(out) != "alice" {
		t.Errorf("whoami after passwd = %q: the login that changed it must stay", out)
	}
	if resp := env.Do(t, http.MethodGet, "/apis/berth.dev/v1/whoami", elsewhere, nil); resp.Code != http.StatusUnauthorized {
		t.Errorf("alice's other login after passwd: %d, want 401", resp.Code)
	}
	alice.mustFail("alice-password-1\n", "login", env.URL, "-u", "alice", "--password-stdin")
	alice.mustRun("alice-password-2\n", "login", env.URL, "-u", "alice", "--password-stdin")

	admin := useConfig(t, "admin")
	admin.mustRun(env.AdminPassword+"\n", "login", env.URL, "-u", "admin", "--password-stdin")
	out = admin.mustRun("reset-by-admin\n", "passwd", "alice", "--password-stdin")
	wantContains(t, "passwd by an admin", out, "Password of alice changed.")

	t.Setenv("BERTH_CONFIG", alice.configPath)
	err = alice.mustFail("", "whoami")
	wantContains(t, "alice's login after the admin's reset", err.Error(), "log in again")
	alice.mustRun("reset-by-admin\n", "login", env.URL, "-u", "alice", "--password-stdin")
}
