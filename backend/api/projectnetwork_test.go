package api_test

import (
	"net/http"
	"strings"
	"testing"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/testenv"
)

func projectNetwork(t *testing.T, env *testenv.Env, token, project string) berthv1.ProjectNetwork {
	t.Helper()
	resp := env.Do(t, "GET", "/apis/berth.dev/v1/projects/"+project+"/network", token, nil)
	mustCode(t, resp, http.StatusOK)
	var pn berthv1.ProjectNetwork
	resp.JSON(t, &pn)
	return pn
}

func putNetID(t *testing.T, env *testenv.Env, token, project, netID string) testenv.Response {
	t.Helper()
	return env.Do(t, "PUT", "/apis/berth.dev/v1/projects/"+project+"/network", token,
		map[string]any{"apiVersion": "berth.dev/v1", "kind": "ProjectNetwork", "metadata": map[string]string{"name": project}, "netID": netID})
}

// TestProjectNetwork: cluster admins join projects' networks, make them
// global and isolate them again; a project admin may read their project's
// network but not move it, by the network subresource nor by writing the
// namespace's annotation, which would let their pods reach another
// tenant's (or every tenant's, made global).
func TestProjectNetwork(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken
	alice := env.CreateUser(t, "alice", false)
	createNamespace(t, env, admin, "shop")
	createNamespace(t, env, alice, "bank")
	shop := projectNetwork(t, env, admin, "shop")
	bank := projectNetwork(t, env, alice, "bank")
	if shop.NetID == "" || bank.NetID == "" || shop.NetID == bank.NetID || len(bank.Joined) != 0 {
		t.Fatalf("fresh projects: shop %+v, bank %+v", shop, bank)
	}

	// The attacks of a project admin.
	merge := "application/merge-patch+json"
	for _, tc := range []struct {
		name string
		resp testenv.Response
		code int
	}{
		{"join another tenant's network", putNetID(t, env, alice, "bank", shop.NetID), http.StatusForbidden},
		{"make the project global", putNetID(t, env, alice, "bank", berthv1.GlobalNetID), http.StatusForbidden},
		{"annotate the namespace with another's NetID", env.Do(t, "PATCH", "/api/v1/namespaces/bank", alice,
			`{"metadata":{"annotations":{"berth.dev/netid":"`+shop.NetID+`"}}}`, merge), http.StatusUnprocessableEntity},
		{"annotate the namespace global", env.Do(t, "PATCH", "/api/v1/namespaces/bank", alice,
			`{"metadata":{"annotations":{"berth.dev/netid":"global"}}}`, merge), http.StatusUnprocessableEntity},
		{"create a namespace on another's network", env.Do(t, "POST", "/api/v1/namespaces", alice,
			map[string]any{"metadata": map[string]any{"name": "sneaky", "annotations": map[string]string{"berth.dev/netid": shop.NetID}}}), http.StatusUnprocessableEntity},
		{"create a project on another's network", env.Do(t, "POST", "/apis/berth.dev/v1/projects", alice,
			map[string]any{"metadata": map[string]any{"name": "sneaky", "annotations": map[string]string{"berth.dev/netid": shop.NetID}}}), http.StatusUnprocessableEntity},
		{"read another tenant's network", env.Do(t, "GET", "/apis/berth.dev/v1/projects/shop/network", alice, nil), http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustCode(t, tc.resp, tc.code)
			if tc.code == http.StatusUnprocessableEntity && !strings.Contains(string(tc.resp.Body), "berth.dev/netid") {
				t.Errorf("the refusal does not name the annotation: %s", tc.resp.Body)
			}
		})
	}
	if got := projectNetwork(t, env, admin, "bank"); got.NetID != bank.NetID {
		t.Fatalf("bank moved to %q", got.NetID)
	}
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/sneaky", admin, nil), http.StatusNotFound)

	// A cluster admin joins bank to shop's network.
	resp := putNetID(t, env, admin, "bank", shop.NetID)
	mustCode(t, resp, http.StatusOK)
	var joined berthv1.ProjectNetwork
	resp.JSON(t, &joined)
	if joined.NetID != shop.NetID || len(joined.Joined) != 1 || joined.Joined[0] != "shop" {
		t.Fatalf("after the join: %+v", joined)
	}
	if got := projectNetwork(t, env, admin, "shop"); len(got.Joined) != 1 || got.Joined[0] != "bank" {
		t.Fatalf("shop after the join: %+v", got)
	}
	// The project admin's own writes keep it where the admin put it.
	mustCode(t, env.Do(t, "PATCH", "/api/v1/namespaces/bank", alice, `{"metadata":{"labels":{"team":"money"}}}`, merge), http.StatusOK)
	if got := projectNetwork(t, env, alice, "bank"); got.NetID != shop.NetID {
		t.Fatalf("a label change moved bank to %q", got.NetID)
	}

	resp = putNetID(t, env, admin, "bank", "no-such-netid")
	mustCode(t, resp, http.StatusUnprocessableEntity)
	if !strings.Contains(string(resp.Body), "netID") {
		t.Fatalf("an unknown NetID: %s", resp.Body)
	}
	mustCode(t, putNetID(t, env, admin, "bank", berthv1.GlobalNetID), http.StatusOK)
	if got := projectNetwork(t, env, alice, "bank"); got.NetID != berthv1.GlobalNetID {
		t.Fatalf("make-global: %+v", got)
	}
	mustCode(t, putNetID(t, env, admin, "bank", ""), http.StatusOK)
	if got := projectNetwork(t, env, alice, "bank"); got.NetID != bank.NetID || len(got.Joined) != 0 {
		t.Fatalf("isolate: %+v, want its own NetID %s", got, bank.NetID)
	}
}
