package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthpaas/berth/backend/testenv"
)

// What kubectl users reach for daily beyond CRUD: version, auth can-i
// and whoami, get all, describe node (which reads the node's lease).
func TestKubectlVersionAuthAndAll(t *testing.T) {
	env := testenv.Start(t)
	admin := newKubectl(t, env, env.AdminToken)

	t.Run("version", func(t *testing.T) {
		out := admin.mustRun("version", "-o", "json")
		if !strings.Contains(out, `"gitVersion": "v1.32.0-berth.`) {
			t.Fatalf("version: %s", out)
		}
	})

	alice := env.CreateUser(t, "alice", false)
	vera := env.CreateUser(t, "vera", false)
	createNamespace(t, env, alice, "shop")
	mustCode(t, env.Do(t, http.MethodPost, "/apis/berth.dev/v1/namespaces/shop/members", alice,
		map[string]any{"metadata": map[string]string{"name": "vera"}, "spec": map[string]string{"role": "view"}}), http.StatusCreated)
	asAlice, asVera := newKubectl(t, env, alice), newKubectl(t, env, vera)

	t.Run("auth can-i", func(t *testing.T) {
		tests := []struct {
			k    *kubectl
			args []string
			want string
		}{
			{asAlice, []string{"create", "pods", "-n", "shop"}, "yes"},
			{asAlice, []string{"delete", "replicationcontrollers", "-n", "shop"}, "yes"},
			{asAlice, []string{"get", "nodes"}, "no"},
			{asVera, []string{"get", "pods", "-n", "shop"}, "yes"},
			{asVera, []string{"create", "pods", "-n", "shop"}, "no"},
			{asVera, []string{"create", "pods/exec", "-n", "shop"}, "no"},
			{asVera, []string{"get", "pods", "-n", "default"}, "no"},
			{admin, []string{"delete", "nodes"}, "yes"},
		}
		for _, tt := range tests {
			out, _, _ := tt.k.run(append([]string{"auth", "can-i"}, tt.args...)...)
			if got := strings.TrimSpace(out); got != tt.want {
				t.Errorf("can-i %v: %q, want %q", tt.args, got, tt.want)
			}
		}
		list := asVera.mustRun("auth", "can-i", "--list", "-n", "shop")
		if !strings.Contains(list, "pods ") || !strings.Contains(list, "[get list watch]") {
			t.Errorf("can-i --list for a viewer:\n%s", list)
		}
	})

	t.Run("auth whoami", func(t *testing.T) {
		out := asAlice.mustRun("auth", "whoami")
		if !strings.Contains(out, "alice") || !strings.Contains(out, "system:authenticated") {
			t.Fatalf("whoami:\n%s", out)
		}
	})

	t.Run("get all", func(t *testing.T) {
		asAlice.mustRun("-n", "shop", "run", "web", "--image", "registry.example/web:1")
		out := asAlice.mustRun("-n", "shop", "get", "all")
		if !strings.Contains(out, "pod/web") {
			t.Fatalf("get all:\n%s", out)
		}
	})

	t.Run("describe node reads its lease", func(t *testing.T) {
		mustCode(t, env.Do(t, http.MethodPost, "/api/v1/nodes", env.AdminToken, map[string]any{"metadata": map[string]string{"name": "n1"}}), http.StatusCreated)
		lease := map[string]any{
			"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
			"metadata": map[string]string{"name": "n1"},
			"spec":     map[string]any{"holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": "2026-01-01T00:00:00.000000Z"},
		}
		mustCode(t, env.Do(t, http.MethodPost, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", env.AdminToken, lease), http.StatusCreated)
		out, stderr, code := admin.run("describe", "node", "n1")
		if code != 0 || strings.Contains(out+stderr, "rror") || !strings.Contains(out, "HolderIdentity:  n1") {
			t.Fatalf("describe node (%d):\n%s\n%s", code, out, stderr)
		}
	})

	t.Run("apply --server-side", func(t *testing.T) {
		manifest := filepath.Join(t.TempDir(), "rc.yaml")
		write := func(replicas string) {
			t.Helper()
			rc := "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: ssa\nspec:\n  replicas: " + replicas +
				"\n  selector: {app: ssa}\n  template:\n    metadata:\n      labels: {app: ssa}\n    spec:\n      containers:\n      - {name: web, image: registry.example/web:1}\n"
			if err := os.WriteFile(manifest, []byte(rc), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		write("1")
		if out := asAlice.mustRun("-n", "shop", "apply", "--server-side", "-f", manifest); !strings.Contains(out, "serverside-applied") {
			t.Fatalf("apply --server-side: %s", out)
		}
		asAlice.mustRun("-n", "shop", "scale", "rc/ssa", "--replicas", "3")
		write("2")
		// kubectl scale took spec.replicas over: applying 2 conflicts.
		if _, stderr, code := asAlice.run("-n", "shop", "apply", "--server-side", "-f", manifest); code == 0 || !strings.Contains(stderr, "conflict") {
			t.Fatalf("a conflicting server-side apply did not conflict (%d): %s", code, stderr)
		}
		asAlice.mustRun("-n", "shop", "apply", "--server-side", "--force-conflicts", "-f", manifest)
		if out := asAlice.mustRun("-n", "shop", "get", "rc", "ssa", "-o", "jsonpath={.spec.replicas}"); out != "2" {
			t.Fatalf("replicas after --force-conflicts: %q", out)
		}
		if out := asAlice.mustRun("-n", "shop", "get", "rc", "ssa", "-o", "yaml", "--show-managed-fields"); !strings.Contains(out, "manager: kubectl") {
			t.Fatalf("no managedFields:\n%s", out)
		}
	})

	t.Run("explain", func(t *testing.T) {
		tests := []struct {
			args []string
			want []string
		}{
			// OpenAPI 3, kubectl's default: k8s.io/api's descriptions and types.
			{[]string{"explain", "pod.spec.containers"}, []string{"KIND:       Pod", "FIELD: containers <[]Container>",
				"List of containers belonging to the pod.", "image\t<string>", "name\t<string> -required-", "ports\t<[]ContainerPort>"}},
			{[]string{"explain", "rc.spec.replicas"}, []string{"FIELD: replicas <integer>", "Replicas is the number of desired replicas."}},
			{[]string{"explain", "leases.spec", "--api-version=coordination.k8s.io/v1"}, []string{"holderIdentity\t<string>"}},
			// Berth's own kinds: their Go doc comments.
			{[]string{"explain", "projects.spec"}, []string{"GROUP:      berth.dev", "ProjectSpec is what a user may set on a project.", "displayName\t<string>"}},
			// Swagger 2, served as protobuf.
			{[]string{"explain", "pod.spec.restartPolicy", "--output=plaintext-openapiv2"}, []string{"FIELD:    restartPolicy <string>", "Restart policy for all containers within the pod."}},
		}
		for _, tt := range tests {
			out := asAlice.mustRun(tt.args...)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("kubectl %s: no %q in\n%s", strings.Join(tt.args, " "), w, out)
				}
			}
		}
	})

	t.Run("quota", func(t *testing.T) {
		asAlice.mustFail("-n", "shop", "create", "quota", "mine", "--hard=pods=100")
		admin.mustRun("-n", "shop", "create", "quota", "pods", "--hard=pods=1,count/services=5")
		asAlice.mustRun("-n", "shop", "run", "one", "--image=registry.example/web:1", "--restart=Never")
		if out := asAlice.mustFail("-n", "shop", "run", "two", "--image=registry.example/web:1", "--restart=Never"); !strings.Contains(out,
			`pods "two" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1`) {
			t.Errorf("the pod too many: %s", out)
		}
		out := asVera.mustRun("-n", "shop", "describe", "quota", "pods")
		for _, want := range []string{"Name:", "pods", "Resource", "Used", "Hard", "count/services  0     5", "pods            1     1"} {
			if !strings.Contains(out, want) {
				t.Errorf("kubectl describe quota: no %q in\n%s", want, out)
			}
		}
		out = useConfig(t, "vera").mustRun("", "--server", env.URL, "--token", vera, "-n", "shop", "describe", "quota", "pods")
		for _, want := range []string{"Namespace:      shop", "count/services  0     5", "pods            1     1"} {
			if !strings.Contains(out, want) {
				t.Errorf("berth describe quota: no %q in\n%s", want, out)
			}
		}
	})

	t.Run("unknown paths answer as kube-apiserver", func(t *testing.T) {
		resp := env.Do(t, http.MethodGet, "/api/v1/namespaces/shop/widgets", env.AdminToken, nil)
		if resp.Code != http.StatusNotFound || !strings.Contains(string(resp.Body), `"message":"the server could not find the requested resource"`) {
			t.Fatalf("unknown resource: %d %s", resp.Code, resp.Body)
		}
	})
}
