package api_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/testenv"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func passwordBody(current, next string) map[string]string {
	return map[string]string{"apiVersion": "berth.dev/v1", "kind": "PasswordChange", "currentPassword": current, "newPassword": next}
}

// There was no way to change a password. Users change their own with the
// current one; cluster admins reset anyone's; the user's other sessions
// end with the streams they opened.
func TestPasswordChange(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	alice := env.CreateUser(t, "alice", false)
	bob := env.CreateUser(t, "bob", false)
	createNamespace(t, env, alice, "pw")
	other := env.Login(t, "alice", authnPassword) // alice on another machine
	resp := env.Do(t, http.MethodPost, "/apis/berth.dev/v1/tokens", alice,
		map[string]any{"metadata": map[string]string{"name": "ci"}, "spec": map[string]string{"ttl": "1h"}})
	mustCode(t, resp, http.StatusCreated)
	var ci authnToken
	resp.JSON(t, &ci)
	otherWatch := streamGet(t, env, "/api/v1/namespaces/pw/pods?watch=1", other)
	if otherWatch.code != http.StatusOK {
		t.Fatalf("watch: %d %s", otherWatch.code, otherWatch.body)
	}
	const path = "/apis/berth.dev/v1/users/alice/password"

	tests := []struct {
		name   string
		token  string
		body   any
		ct     string
		code   int
		reason metav1.StatusReason
		field  string
	}{
		{"no current password", alice, passwordBody("", "new password 1"), "", 422, metav1.StatusReasonInvalid, "currentPassword"},
		{"a short new one", alice, passwordBody(authnPassword, "short"), "", 422, metav1.StatusReasonInvalid, "newPassword"},
		{"no new one", alice, passwordBody(authnPassword, ""), "", 422, metav1.StatusReasonInvalid, "newPassword"},
		{"the wrong current one", alice, passwordBody("not my password", "new password 1"), "", 403, metav1.StatusReasonForbidden, ""},
		{"not JSON", alice, `currentPassword=x`, "application/x-www-form-urlencoded", 415, "", ""},
		{"another kind", alice, map[string]string{"kind": "User", "newPassword": "new password 1"}, "", 400, metav1.StatusReasonBadRequest, ""},
		{"someone else's, as a user", bob, passwordBody(authnPassword, "new password 1"), "", 403, metav1.StatusReasonForbidden, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ct []string
			if tt.ct != "" {
				ct = []string{tt.ct}
			}
			resp := env.Do(t, http.MethodPut, path, tt.token, tt.body, ct...)
			if tt.reason == "" {
				mustCode(t, resp, tt.code)
				return
			}
			status := authnStatus(t, resp, tt.code, tt.reason)
			if tt.field != "" && (status.Details == nil || !slices.ContainsFunc(status.Details.Causes, func(c metav1.StatusCause) bool { return c.Field == tt.field })) {
				t.Errorf("the refusal does not name %s: %+v", tt.field, status)
			}
		})
	}
	mustCode(t, env.Do(t, http.MethodGet, path, alice, nil), http.StatusMethodNotAllowed)

	t.Run("one's own", func(t *testing.T) {
		resp := env.Do(t, http.MethodPut, path, alice, passwordBody(authnPassword, "new password 1"))
		mustCode(t, resp, http.StatusOK)
		authnWhoami(t, env.Do(t, "GET", "/apis/berth.dev/v1/whoami", alice, nil)) // the session that changed it
		authnStatus(t, env.Do(t, "GET", "/apis/berth.dev/v1/whoami", other, nil), http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
		waitEnded(t, otherWatch, "the other session's watch", 5*time.Second)
		authnWhoami(t, env.Do(t, "GET", "/apis/berth.dev/v1/whoami", ci.Status.Secret, nil)) // API tokens stay
		authnStatus(t, authnLogin(t, env, "alice", authnPassword), http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
		env.Login(t, "alice", "new password 1")
	})
	t.Run("anyone's, by a cluster admin", func(t *testing.T) {
		mustCode(t, env.Do(t, http.MethodPut, path, env.AdminToken, map[string]string{"newPassword": "reset by the admin"}), http.StatusOK)
		authnStatus(t, env.Do(t, "GET", "/apis/berth.dev/v1/whoami", alice, nil), http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
		env.Login(t, "alice", "reset by the admin")
		authnStatus(t, env.Do(t, http.MethodPut, "/apis/berth.dev/v1/users/nobody/password", env.AdminToken,
			map[string]string{"newPassword": "whatever it is"}), http.StatusNotFound, metav1.StatusReasonNotFound)
	})
	t.Run("an admin's own needs the current one", func(t *testing.T) {
		authnStatus(t, env.Do(t, http.MethodPut, "/apis/berth.dev/v1/users/admin/password", env.AdminToken,
			map[string]string{"newPassword": "without the old one"}), http.StatusUnprocessableEntity, metav1.StatusReasonInvalid)
	})
	t.Run("not with a node's credential", func(t *testing.T) {
		node := joinNode(t, env, "n1")
		authnStatus(t, env.Do(t, http.MethodPut, path, node.Token, map[string]string{"newPassword": "node says so"}),
			http.StatusForbidden, metav1.StatusReasonForbidden)
	})
	t.Run("guessing the current one through a stolen session", func(t *testing.T) {
		session := env.Login(t, "bob", authnPassword)
		for range 5 {
			authnStatus(t, env.Do(t, http.MethodPut, "/apis/berth.dev/v1/users/bob/password", session, passwordBody("a guess", "new password 2")),
				http.StatusForbidden, metav1.StatusReasonForbidden)
		}
		authnStatus(t, env.Do(t, http.MethodPut, "/apis/berth.dev/v1/users/bob/password", session, passwordBody(authnPassword, "new password 2")),
			http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests)
	})
}
