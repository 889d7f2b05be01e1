package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/testenv"
	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// authnPassword is the password testenv.CreateUser gives its users.
const authnPassword = "password-of-test-user"

func authnLogin(t *testing.T, env *testenv.Env, user, password string) testenv.Response {
	t.Helper()
	return env.Do(t, "POST", "/auth/login", "", map[string]string{"username": user, "password": password})
}

// authnStatus decodes a Status body and checks its code and reason.
func authnStatus(t *testing.T, resp testenv.Response, code int, reason metav1.StatusReason) metav1.Status {
	t.Helper()
	if resp.Code != code {
		t.Fatalf("got %d, want %d: %s", resp.Code, code, resp.Body)
	}
	var status metav1.Status
	resp.JSON(t, &status)
	if status.Kind != "Status" || int(status.Code) != code || status.Reason != reason {
		t.Fatalf("status %+v, want code %d reason %s", status, code, reason)
	}
	return status
}

// authnGet sends a GET with the given header instead of a bearer token.
func authnGet(t *testing.T, env *testenv.Env, path, header, value string) testenv.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", env.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(header, value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Response{Code: resp.StatusCode, Body: body, Header: resp.Header}
}

type authnWhoAmI struct {
	Username     string `json:"username"`
	ClusterAdmin bool   `json:"clusterAdmin"`
	Via          string `json:"via"`
}

func authnWhoami(t *testing.T, resp testenv.Response) authnWhoAmI {
	t.Helper()
	mustCode(t, resp, http.StatusOK)
	var w authnWhoAmI
	resp.JSON(t, &w)
	return w
}

func TestLoginAndLogout(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	env.CreateUser(t, "alice", false)

	resp := authnLogin(t, env, "alice", authnPassword)
	mustCode(t, resp, http.StatusOK)
	var login struct {
		Token     string    `json:"token"`
		Username  string    `json:"username"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	resp.JSON(t, &login)
	if login.Token == "" || login.Username != "alice" || time.Until(login.ExpiresAt) < 23*time.Hour {
		t.Fatalf("login answer: %+v", login)
	}
	cookie := (&http.Response{Header: resp.Header}).Cookies()
	i := slices.IndexFunc(cookie, func(c *http.Cookie) bool { return c.Name == "berth_session" })
	if i < 0 {
		t.Fatalf("no berth_session cookie in %q", resp.Header.Values("Set-Cookie"))
	}
	session := cookie[i]
	if session.Value != login.Token || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" {
		t.Errorf("session cookie %+v: want the token, HttpOnly, SameSite=Strict, Path=/", session)
	}
	if !session.Secure {
		t.Errorf("the session cookie is not Secure though the server serves TLS (browsers keep Secure cookies over http://127.0.0.1)")
	}

	w := authnWhoami(t, env.Do(t, "GET", "/apis/berth.dev/v1/whoami", login.Token, nil))
	if w != (authnWhoAmI{Username: "alice", Via: "token"}) {
		t.Errorf("whoami with the bearer token: %+v", w)
	}
	w = authnWhoami(t, authnGet(t, env, "/apis/berth.dev/v1/whoami", "Cookie", "berth_session="+login.Token))
	if w != (authnWhoAmI{Username: "alice", Via: "session"}) {
		t.Errorf("whoami with the cookie alone: %+v", w)
	}
	mustCode(t, authnGet(t, env, "/api/v1/namespaces", "Cookie", "berth_session="+login.Token), http.StatusOK)
	w = authnWhoami(t, env.Do(t, "GET", "/apis/berth.dev/v1/whoami", env.AdminToken, nil))
	if !w.ClusterAdmin || w.Username != "admin" {
		t.Errorf("whoami of the admin: %+v", w)
	}

	tests := []struct {
		name string
		resp testenv.Response
		code int
	}{
		{"wrong password", authnLogin(t, env, "alice", "not-her-password"), http.StatusUnauthorized},
		{"unknown user", authnLogin(t, env, "mallory", authnPassword), http.StatusUnauthorized},
		{"malformed body", env.Do(t, "POST", "/auth/login", "", `{"username":`), http.StatusBadRequest},
		{"unknown field", env.Do(t, "POST", "/auth/login", "", `{"username":"alice","password":"x","otp":"1"}`), http.StatusBadRequest},
		{"no credentials", env.Do(t, "GET", "/api/v1/namespaces", "", nil), http.StatusUnauthorized},
		{"unknown token", env.Do(t, "GET", "/api/v1/namespaces", "bogus", nil), http.StatusUnauthorized},
		{"basic auth", authnGet(t, env, "/api/v1/namespaces", "Authorization", "Basic YWxpY2U6eA=="), http.StatusUnauthorized},
		{"unknown cookie", authnGet(t, env, "/api/v1/namespaces", "Cookie", "berth_session=bogus"), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason := metav1.StatusReasonUnauthorized
			if tt.code == http.StatusBadRequest {
				reason = metav1.StatusReasonBadRequest
			}
			status := authnStatus(t, tt.resp, tt.code, reason)
			if strings.Contains(status.Message, authnPassword) {
				t.Errorf("the message repeats the password: %q", status.Message)
			}
		})
	}
	// Wrong password and unknown user answer alike.
	if a, b := authnStatus(t, tests[0].resp, 401, metav1.StatusReasonUnauthorized), authnStatus(t, tests[1].resp, 401, metav1.StatusReasonUnauthorized); a.Message != b.Message {
		t.Errorf("a wrong password says %q, an unknown user %q", a.Message, b.Message)
	}

	t.Run("logout revokes the token", func(t *testing.T) {
		other := env.Login(t, "alice", authnPassword)
		resp := env.Do(t, "POST", "/auth/logout", login.Token, nil)
		mustCode(t, resp, http.StatusNoContent)
		if sc := strings.Join(resp.Header.Values("Set-Cookie"), "; "); !strings.Contains(sc, "berth_session=;") || !strings.Contains(sc, "Max-Age=0") {
			t.Errorf("logout does not clear the cookie: %q", sc)
		}
		authnStatus(t, env.Do(t, "GET", "/apis/berth.dev/v1/whoami", login.Token, nil), http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
		authnStatus(t, authnGet(t, env, "/apis/berth.dev/v1/whoami", "Cookie", "berth_session="+login.Token), http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
		authnStatus(t, env.Do(t, "POST", "/auth/logout", login.Token, nil), http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
		// Other sessions of the same user live on.
		authnWhoami(t, env.Do(t, "GET", "/apis/berth.dev/v1/whoami", other, nil))
	})
	t.Run("logout by cookie", func(t *testing.T) {
		tok := env.Login(t, "alice", authnPassword)
		req, err := http.NewRequestWithContext(t.Context(), "POST", env.URL+"/auth/logout", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.AddCookie(&http.Cookie{Name: "berth_session", Value: tok})
		req.AddCookie(&http.Cookie{Name: "berth_csrf", Value: "c"})
		withoutCSRF, err := http.DefaultClient.Do(req.Clone(t.Context()))
		if err != nil {
			t.Fatal(err)
		}
		withoutCSRF.Body.Close()
		if withoutCSRF.StatusCode != http.StatusForbidden {
			t.Fatalf("logout by cookie without the CSRF header: %d, want 403", withoutCSRF.StatusCode)
		}
		req.Header.Set("X-CSRF-Token", "c")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		authnStatus(t, env.Do(t, "GET", "/apis/berth.dev/v1/whoami", tok, nil), http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
	})
}

type authnToken struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		Kind     string `json:"kind"`
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		Secret    string       `json:"secret"`
		ExpiresAt *metav1.Time `json:"expiresAt"`
	} `json:"status"`
}

func TestAPITokens(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	alice := env.CreateUser(t, "alice", false)
	bob := env.CreateUser(t, "bob", false)
	const tokens = "/apis/berth.dev/v1/tokens"
	tokenBody := func(name, ttl, kind string) map[string]any {
		return map[string]any{"metadata": map[string]string{"name": name}, "spec": map[string]string{"ttl": ttl, "kind": kind}}
	}
	bootstrapBody := func(name, ttl, node string) map[string]any {
		return map[string]any{"metadata": map[string]string{"name": name}, "spec": map[string]string{"ttl": ttl, "kind": "bootstrap", "nodeName": node}}
	}

	resp := env.Do(t, "POST", tokens, alice, tokenBody("ci", "1h", ""))
	mustCode(t, resp, http.StatusCreated)
	var created authnToken
	resp.JSON(t, &created)
	if created.Status.Secret == "" || created.Metadata.Name != "ci" || created.Spec.Kind != "api" {
		t.Fatalf("created token: %s", resp.Body)
	}
	if exp := created.Status.ExpiresAt; exp == nil || time.Until(exp.Time) < 59*time.Minute || time.Until(exp.Time) > 61*time.Minute {
		t.Errorf("expiresAt %v, want in an hour", exp)
	}
	secret := created.Status.Secret

	w := authnWhoami(t, env.Do(t, "GET", "/apis/berth.dev/v1/whoami", secret, nil))
	if w != (authnWhoAmI{Username: "alice", Via: "token"}) {
		t.Errorf("whoami with the API token: %+v", w)
	}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces", secret, map[string]any{"metadata": map[string]string{"name": "alices"}}), http.StatusCreated)

	resp = env.Do(t, "GET", tokens, alice, nil)
	mustCode(t, resp, http.StatusOK)
	if bytes.Contains(resp.Body, []byte(secret)) || bytes.Contains(resp.Body, []byte(alice)) {
		t.Fatalf("the token list shows a secret: %s", resp.Body)
	}
	var list struct{ Items []authnToken }
	resp.JSON(t, &list)
	var names []string
	for _, tok := range list.Items {
		names = append(names, tok.Metadata.Name)
		if tok.Status.Secret != "" {
			t.Errorf("token %q listed with its secret", tok.Metadata.Name)
		}
	}
	if !slices.Contains(names, "ci") {
		t.Errorf("the list %v lacks ci", names)
	}

	tests := []struct {
		name   string
		token  string
		body   map[string]any
		code   int
		reason metav1.StatusReason
		field  string
	}{
		{"duplicate name", alice, tokenBody("ci", "1h", ""), http.StatusConflict, metav1.StatusReasonAlreadyExists, ""},
		{"bad ttl", alice, tokenBody("x", "soon", ""), http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "spec.ttl"},
		{"negative ttl", alice, tokenBody("x", "-1h", ""), http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "spec.ttl"},
		{"unknown kind", alice, tokenBody("x", "1h", "session"), http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "spec.kind"},
		{"bootstrap kind by a non-admin", alice, bootstrapBody("n", "1h", "n1"), http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "spec.kind"},
		{"node credential by an admin", env.AdminToken, tokenBody("n", "1h", "node"), http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "spec.kind"},
		{"bootstrap for no node", env.AdminToken, bootstrapBody("n", "1h", ""), http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "spec.nodeName"},
		{"bootstrap past a week", env.AdminToken, bootstrapBody("n", "169h", "n1"), http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "spec.ttl"},
		{"no name", alice, tokenBody("", "1h", ""), http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "metadata.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status := authnStatus(t, env.Do(t, "POST", tokens, tt.token, tt.body), tt.code, tt.reason)
			if tt.field == "" {
				return
			}
			if status.Details == nil || !slices.ContainsFunc(status.Details.Causes, func(c metav1.StatusCause) bool { return c.Field == tt.field }) {
				t.Errorf("causes do not name %s: %+v", tt.field, status.Details)
			}
		})
	}
	t.Run("bootstrap kind by a cluster admin", func(t *testing.T) {
		resp := env.Do(t, "POST", tokens, env.AdminToken, bootstrapBody("join-1", "", "node-1"))
		mustCode(t, resp, http.StatusCreated)
		var tok authnToken
		resp.JSON(t, &tok)
		if tok.Spec.Kind != "bootstrap" || tok.Spec.NodeName != "node-1" || tok.Status.Secret == "" {
			t.Fatalf("bootstrap token: %s", resp.Body)
		}
		if exp := tok.Status.ExpiresAt; exp == nil || time.Until(exp.Time) < 59*time.Minute || time.Until(exp.Time) > 61*time.Minute {
			t.Errorf("expiresAt %v, want in an hour", exp)
		}
		// A bootstrap token joins its node and does nothing else: not its
		// creator's rights, nor a node's.
		for _, path := range []string{"/api/v1/pods", "/apis/berth.dev/v1/users", "/apis/berth.dev/v1/whoami"} {
			authnStatus(t, env.Do(t, "GET", path, tok.Status.Secret, nil), http.StatusForbidden, metav1.StatusReasonForbidden)
		}
		authnStatus(t, env.Do(t, "POST", tokens, tok.Status.Secret, bootstrapBody("join-2", "", "node-2")), http.StatusForbidden, metav1.StatusReasonForbidden)
	})

	t.Run("revoke", func(t *testing.T) {
		resp := env.Do(t, "POST", tokens, bob, tokenBody("ci", "1h", ""))
		mustCode(t, resp, http.StatusCreated)
		var bobs authnToken
		resp.JSON(t, &bobs)
		// Names are per user: alice's delete of "ci" leaves bob's alone.
		mustCode(t, env.Do(t, "DELETE", tokens+"/ci", alice, nil), http.StatusOK)
		authnStatus(t, env.Do(t, "GET", "/apis/berth.dev/v1/whoami", secret, nil), http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
		authnWhoami(t, env.Do(t, "GET", "/apis/berth.dev/v1/whoami", bobs.Status.Secret, nil))
		authnStatus(t, env.Do(t, "DELETE", tokens+"/ci", alice, nil), http.StatusNotFound, metav1.StatusReasonNotFound)
		// The session that created the token is not affected.
		authnWhoami(t, env.Do(t, "GET", "/apis/berth.dev/v1/whoami", alice, nil))
	})
}

type authnAuditRow struct {
	User, Verb, Resource, Namespace, Name string
	Code                                  int
}

func TestAuditLog(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	alice := env.CreateUser(t, "alice", false)
	vic := env.CreateUser(t, "vic", false)
	createNamespace(t, env, alice, "audited")
	mustCode(t, env.Do(t, "POST", "/apis/berth.dev/v1/namespaces/audited/members", alice, authzMember("vic", "view")), http.StatusCreated)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/audited/pods", alice, pod("web", nil)), http.StatusCreated)
	mustCode(t, env.Do(t, "PATCH", "/api/v1/namespaces/audited/pods/web", alice, `{"metadata":{"labels":{"a":"b"}}}`, "application/merge-patch+json"), http.StatusOK)
	mustCode(t, env.Do(t, "PUT", "/api/v1/namespaces/audited/pods/web/status", alice, getPod(t, env, "audited", "web")), http.StatusForbidden)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/audited/pods", vic, pod("sneaky", nil)), http.StatusForbidden)
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/audited/pods/web", alice, nil), http.StatusOK)
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/audited/pods/web", alice, nil), http.StatusOK)
	mustCode(t, authnLogin(t, env, "alice", "wrong-password"), http.StatusUnauthorized)

	want := []authnAuditRow{
		{"alice", "create", "namespaces", "", "audited", 201},
		{"alice", "create", "members", "audited", "vic", 201},
		{"alice", "create", "pods", "audited", "web", 201},
		{"alice", "patch", "pods", "audited", "web", 200},
		{"alice", "update", "pods/status", "audited", "web", 403},
		{"vic", "create", "pods", "audited", "", 403},
		{"alice", "delete", "pods", "audited", "web", 200},
		{"alice", "login", "sessions", "", "", 401},
		{"alice", "login", "sessions", "", "", 200},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var got []authnAuditRow
	for {
		rows, err := conn.Query(ctx, `SELECT username, verb, resource, namespace, name, code FROM audit_log
			WHERE username IN ('alice', 'vic') ORDER BY at, id`)
		if err != nil {
			t.Fatal(err)
		}
		got, err = pgx.CollectRows(rows, pgx.RowToStructByPos[authnAuditRow])
		if err != nil {
			t.Fatal(err)
		}
		missing := slices.DeleteFunc(slices.Clone(want), func(r authnAuditRow) bool { return slices.Contains(got, r) })
		if len(missing) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("audit rows missing after 10s: %+v\nhave: %+v", missing, got)
		case <-time.After(50 * time.Millisecond):
		}
	}
	for _, r := range got {
		if r.Verb == "get" || r.Verb == "list" || r.Verb == "watch" {
			t.Errorf("a read was audited: %+v", r)
		}
	}
}

func TestRequestBodies(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	tok := env.AdminToken
	createNamespace(t, env, tok, "bodies")
	big := pod("big", map[string]string{"pad": ""})
	big["metadata"].(map[string]any)["annotations"] = map[string]string{"pad": strings.Repeat("x", 3<<20)}
	bigJSON, err := json.Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		body   any
		code   int
		reason metav1.StatusReason
		field  string
	}{
		{"over 3 MiB", bigJSON, http.StatusRequestEntityTooLarge, metav1.StatusReasonRequestEntityTooLarge, ""},
		{"malformed JSON", `{"metadata":{"name":"web"`, http.StatusBadRequest, metav1.StatusReasonBadRequest, ""},
		{"unknown field", `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"c","image":"i"}],"bogus":true}}`,
			http.StatusBadRequest, metav1.StatusReasonBadRequest, "spec.bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status := authnStatus(t, env.Do(t, "POST", "/api/v1/namespaces/bodies/pods", tok, tt.body), tt.code, tt.reason)
			if tt.field != "" && (status.Details == nil || !slices.ContainsFunc(status.Details.Causes, func(c metav1.StatusCause) bool { return c.Field == tt.field })) {
				t.Errorf("causes do not name %s: %+v", tt.field, status.Details)
			}
		})
	}
	t.Run("over 3 MiB without a length", func(t *testing.T) {
		// A chunked body is cut off while read.
		req, err := http.NewRequestWithContext(t.Context(), "POST", env.URL+"/api/v1/namespaces/bodies/pods", io.MultiReader(bytes.NewReader(bigJSON)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("got %d, want 413: %s", resp.StatusCode, body)
		}
	})
	resp := env.Do(t, "GET", "/api/v1/namespaces/bodies/pods", tok, nil)
	var list struct{ Items []any }
	resp.JSON(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("refused bodies stored %d pods", len(list.Items))
	}
}

func TestServerEndpoints(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	alice := env.CreateUser(t, "alice", false)
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces", env.AdminToken, nil), http.StatusOK)

	authnStatus(t, env.Do(t, "GET", "/metrics", "", nil), http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
	authnStatus(t, env.Do(t, "GET", "/metrics", alice, nil), http.StatusForbidden, metav1.StatusReasonForbidden)
	resp := env.Do(t, "GET", "/metrics", env.AdminToken, nil)
	mustCode(t, resp, http.StatusOK)
	if !bytes.Contains(resp.Body, []byte(`berth_apiserver_requests_total{code="200",resource="namespaces",verb="list"}`)) {
		t.Errorf("metrics lack the namespace list's request count:\n%s", resp.Body)
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		resp := env.Do(t, "GET", path, "", nil)
		if resp.Code != http.StatusOK || strings.TrimSpace(string(resp.Body)) != "ok" {
			t.Errorf("%s: %d %q", path, resp.Code, resp.Body)
		}
	}

	resp = env.Do(t, "GET", "/version", "", nil)
	mustCode(t, resp, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("/version Content-Type %q", ct)
	}
	var v struct {
		GitVersion string `json:"gitVersion"`
		Major      string `json:"major"`
		GoVersion  string `json:"goVersion"`
	}
	resp.JSON(t, &v)
	if !strings.HasPrefix(v.GitVersion, "v") || v.Major == "" || v.GoVersion == "" {
		t.Errorf("/version: %s", resp.Body)
	}
}
