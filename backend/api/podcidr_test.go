package api_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
)

// registerNode creates the Node name with its own credential and returns
// it as stored.
func registerNode(t *testing.T, env *testenv.Env, name string, spec map[string]any) (testenv.Response, *v1.Node) {
	t.Helper()
	token := joinNode(t, env, name).Token
	body := map[string]any{"metadata": map[string]string{"name": name}}
	if spec != nil {
		body["spec"] = spec
	}
	resp := env.Do(t, "POST", "/api/v1/nodes", token, body)
	if resp.Code != http.StatusCreated {
		return resp, nil
	}
	var n v1.Node
	resp.JSON(t, &n)
	return resp, &n
}

func podCIDROf(t *testing.T, env *testenv.Env, node string) string {
	t.Helper()
	resp := env.Do(t, "GET", "/api/v1/nodes/"+node, env.AdminToken, nil)
	mustCode(t, resp, http.StatusOK)
	var n v1.Node
	resp.JSON(t, &n)
	return n.Spec.PodCIDR
}

// TestPodCIDRs: every node gets a /24 of the cluster range of its own,
// never one another holds, across a master restart; a node's deletion
// frees it. A node's credential cannot choose its subnet: a node that
// could would take another node's pod traffic, since every agent routes a
// subnet to the node whose spec.podCIDR names it.
func TestPodCIDRs(t *testing.T) {
	env := testenv.Start(t)
	seen := map[string]string{}
	for _, name := range []string{"n1", "n2"} {
		_, n := registerNode(t, env, name, nil)
		if n == nil {
			t.Fatalf("register %s failed", name)
		}
		subnet, err := netip.ParsePrefix(n.Spec.PodCIDR)
		if err != nil || subnet.Bits() != 24 || !env.ClusterCIDR.Contains(subnet.Addr()) || len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
			t.Fatalf("node %s got podCIDR %q (%v), podCIDRs %v; want a /24 of %s", name, n.Spec.PodCIDR, err, n.Spec.PodCIDRs, env.ClusterCIDR)
		}
		if other, dup := seen[n.Spec.PodCIDR]; dup {
			t.Fatalf("%s and %s share %s", other, name, n.Spec.PodCIDR)
		}
		seen[n.Spec.PodCIDR] = name
	}
	n1CIDR, n2CIDR := podCIDROf(t, env, "n1"), podCIDROf(t, env, "n2")

	// The attack: a node registers with another node's subnet, or one of
	// its choosing.
	for _, cidr := range []string{n1CIDR, "10.99.7.0/24"} {
		resp, _ := registerNode(t, env, "thief", map[string]any{"podCIDR": cidr})
		mustCode(t, resp, http.StatusUnprocessableEntity)
		if !strings.Contains(string(resp.Body), "spec.podCIDR") {
			t.Fatalf("the refusal does not name spec.podCIDR: %s", resp.Body)
		}
		mustCode(t, env.Do(t, "GET", "/api/v1/nodes/thief", env.AdminToken, nil), http.StatusNotFound)
	}
	// Nor may it move its subnet later.
	n1 := joinNode(t, env, "n1").Token
	mustCode(t, env.Do(t, "PATCH", "/api/v1/nodes/n1", n1, `{"spec":{"podCIDR":"`+n2CIDR+`","podCIDRs":["`+n2CIDR+`"]}}`, "application/merge-patch+json"), http.StatusUnprocessableEntity)
	if got := podCIDROf(t, env, "n1"); got != n1CIDR {
		t.Fatalf("n1 moved to %s", got)
	}

	// A cluster admin may ask for a free subnet, not a taken one.
	// The range's last /24, which lowest-first allocation reaches last.
	base := env.ClusterCIDR.Addr().As4()
	free := netip.PrefixFrom(netip.AddrFrom4([4]byte{base[0], base[1], 255, 0}), 24)
	resp := env.Do(t, "POST", "/api/v1/nodes", env.AdminToken, map[string]any{"metadata": map[string]string{"name": "manual"}, "spec": map[string]any{"podCIDR": n2CIDR}})
	mustCode(t, resp, http.StatusUnprocessableEntity)
	if !strings.Contains(string(resp.Body), "spec.podCIDR") || !strings.Contains(string(resp.Body), "already allocated") {
		t.Fatalf("a taken subnet: %s", resp.Body)
	}
	mustCode(t, env.Do(t, "POST", "/api/v1/nodes", env.AdminToken, map[string]any{"metadata": map[string]string{"name": "manual"}, "spec": map[string]any{"podCIDR": free.String()}}), http.StatusCreated)
	if got := podCIDROf(t, env, "manual"); got != free.String() {
		t.Fatalf("manual got %s, asked for %s", got, free)
	}
	mustCode(t, env.Do(t, "POST", "/api/v1/nodes", env.AdminToken, map[string]any{"metadata": map[string]string{"name": "outside"}, "spec": map[string]any{"podCIDR": "192.168.77.0/24"}}), http.StatusUnprocessableEntity)

	// Deleting n1 frees its subnet: the next node gets it.
	mustCode(t, env.Do(t, "DELETE", "/api/v1/nodes/n1", env.AdminToken, nil), http.StatusOK)
	if _, n := registerNode(t, env, "n3", nil); n == nil || n.Spec.PodCIDR != n1CIDR {
		t.Fatalf("n3 after n1's deletion: %+v; want n1's %s", n, n1CIDR)
	}

	// Across a restart, what is held stays held.
	env.Stop()
	env = testenv.Start(t, testenv.Options{DataDir: env.DataDir, DatabaseURL: env.DatabaseURL})
	_, n4 := registerNode(t, env, "n4", nil)
	if n4 == nil {
		t.Fatal("register n4 after the restart failed")
	}
	for _, held := range []string{n1CIDR, n2CIDR, free.String()} {
		if n4.Spec.PodCIDR == held {
			t.Fatalf("after the restart n4 got %s, which is held", held)
		}
	}
	if got := podCIDROf(t, env, "n2"); got != n2CIDR {
		t.Fatalf("n2 holds %s after the restart, had %s", got, n2CIDR)
	}
}
