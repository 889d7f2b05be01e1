package cli_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/berthpaas/berth/client"
)

func TestProjectLifecycle(t *testing.T) {
	f := newFixture(t)

	if out := mustRun(t, "", "project", "create", "shop", "--display-name", "The Shop"); out != "project/shop created\n" {
		t.Errorf("create = %q", out)
	}
	spec := f.srv.Object(client.Projects, "", "shop")["spec"].(map[string]any)
	if spec["displayName"] != "The Shop" {
		t.Errorf("project spec = %v", spec)
	}
	if out := mustRun(t, "", "project", "list"); !strings.Contains(out, "NAME") || !strings.Contains(out, "shop") {
		t.Errorf("list = %q", out)
	}

	if out := mustRun(t, "", "project", "use", "shop"); !strings.Contains(out, `Now using project "shop"`) {
		t.Errorf("use = %q", out)
	}
	if ns := f.config(t).Namespace; ns != "shop" {
		t.Errorf("config namespace = %q", ns)
	}
	if _, _, err := run(t, "", "project", "use", "nope"); !apierrors.IsNotFound(err) {
		t.Errorf("use of a missing project error = %v", err)
	}
	if ns := f.config(t).Namespace; ns != "shop" {
		t.Errorf("config namespace after a failed use = %q", ns)
	}

	if out := mustRun(t, "", "project", "add-member", "shop", "bob", "--role", "edit"); out != "member/bob added to project shop as edit\n" {
		t.Errorf("add-member = %q", out)
	}
	if out := mustRun(t, "", "project", "add-member", "shop", "bob", "--role", "view"); out != "member/bob updated to project shop as view\n" {
		t.Errorf("add-member of a member = %q", out)
	}
	if role := f.srv.Object(client.Members, "shop", "bob")["spec"].(map[string]any)["role"]; role != "view" {
		t.Errorf("bob's role = %v", role)
	}
	if _, _, err := run(t, "", "project", "add-member", "shop", "bob", "--role", "owner"); err == nil {
		t.Error("add-member with an unknown role succeeded")
	}
	if out := mustRun(t, "", "get", "members", "-o", "name"); out != "member/alice\nmember/bob\n" {
		t.Errorf("members in the default project = %q", out)
	}

	_, _, err := run(t, "", "project", "delete", "shop")
	if err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("delete without --yes off a terminal: error = %v", err)
	}
	if out := mustRun(t, "", "project", "delete", "shop", "--yes"); out != "project \"shop\" deleted\n" {
		t.Errorf("delete = %q", out)
	}
}

func TestUserCreate(t *testing.T) {
	f := newFixture(t)
	out := mustRun(t, "", "user", "create", "bob", "--admin")
	password, ok := strings.CutPrefix(strings.Split(out, "\n")[1], "password: ")
	if !strings.HasPrefix(out, "user/bob created\n") || !ok || len(password) != 20 {
		t.Fatalf("output = %q", out)
	}
	var sent struct {
		Spec struct {
			ClusterAdmin bool
			Password     string
		}
	}
	if err := json.Unmarshal(lastRequest(t, f.srv, http.MethodPost).Body, &sent); err != nil {
		t.Fatal(err)
	}
	if !sent.Spec.ClusterAdmin || sent.Spec.Password != password {
		t.Errorf("sent spec = %+v, printed password %q", sent.Spec, password)
	}

	if out := mustRun(t, "given-pw\n", "user", "create", "carol", "--password-stdin"); out != "user/carol created\n" {
		t.Errorf("output with --password-stdin = %q", out)
	}
	if err := json.Unmarshal(lastRequest(t, f.srv, http.MethodPost).Body, &sent); err != nil || sent.Spec.Password != "given-pw" {
		t.Errorf("sent password = %q (%v)", sent.Spec.Password, err)
	}
}

func TestToken(t *testing.T) {
	f := newFixture(t)
	stdout, stderr, err := run(t, "", "token", "create", "ci", "--ttl", "720h")
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(stdout)
	if !f.srv.TokenValid(secret) || strings.Count(stdout, "\n") != 1 {
		t.Errorf("stdout = %q, want only the secret", stdout)
	}
	if !strings.Contains(stderr, "token/ci created") || !strings.Contains(stderr, "shown only this once") {
		t.Errorf("stderr = %q, want a warning that the secret is shown once", stderr)
	}
	var sent struct{ Spec struct{ TTL string } }
	if err := json.Unmarshal(lastRequest(t, f.srv, http.MethodPost).Body, &sent); err != nil || sent.Spec.TTL != "720h0m0s" {
		t.Errorf("sent ttl = %q (%v)", sent.Spec.TTL, err)
	}
	if _, _, err := run(t, "", "token", "create", "x", "--ttl", "forever"); err == nil {
		t.Error("create with a bad --ttl succeeded")
	}

	if out := mustRun(t, "", "token", "list"); !strings.Contains(out, "ci") {
		t.Errorf("list = %q", out)
	}
	if out := mustRun(t, "", "token", "revoke", "ci"); out != "token \"ci\" revoked\n" {
		t.Errorf("revoke = %q", out)
	}
	if f.srv.Object(client.Tokens, "", "ci") != nil {
		t.Error("token still stored after revoke")
	}
}
