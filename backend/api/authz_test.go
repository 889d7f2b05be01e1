package api_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/testenv"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The authorization matrix runs against one master. Its cast:
//
//	cluster-admin  root, a cluster admin
//	admin          ada, who created project alpha
//	editor         ed, edit in alpha
//	viewer         vic, view in alpha
//	outsider       olga, who created project beta and is not in alpha
//	anonymous      no credentials
//	bad-token      a bearer token the server never issued
//
// Each project holds, per workload resource, an object "web" that writes
// change and an object "doomed" that deletes remove (and the cluster admin
// then re-creates).

var authzWorkloads = []string{"pods", "services", "replicationcontrollers", "events", "configmaps"}

type authzCaller struct {
	name  string
	user  string
	token string
}

type authzFixture struct {
	env     *testenv.Env
	callers []authzCaller
	root    string // the cluster admin's token
}

func (f *authzFixture) token(caller string) string {
	for _, c := range f.callers {
		if c.name == caller {
			return c.token
		}
	}
	panic("no caller " + caller)
}

func newAuthzFixture(t *testing.T, env *testenv.Env) *authzFixture {
	t.Helper()
	f := &authzFixture{env: env}
	root := env.CreateUser(t, "root", true)
	ada := env.CreateUser(t, "ada", false)
	ed := env.CreateUser(t, "ed", false)
	vic := env.CreateUser(t, "vic", false)
	olga := env.CreateUser(t, "olga", false)
	f.root = root
	f.callers = []authzCaller{
		{"cluster-admin", "root", root},
		{"admin", "ada", ada},
		{"editor", "ed", ed},
		{"viewer", "vic", vic},
		{"outsider", "olga", olga},
		{"anonymous", "", ""},
		{"bad-token", "", "not-a-token-the-server-issued"},
	}
	createNamespace(t, env, ada, "alpha")
	authzAddMember(t, env, ada, "alpha", "ed", "edit")
	authzAddMember(t, env, ada, "alpha", "vic", "view")
	createNamespace(t, env, olga, "beta")
	for _, ns := range []string{"alpha", "beta"} {
		for _, res := range authzWorkloads {
			for _, name := range []string{"web", "doomed"} {
				mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/"+ns+"/"+res, root, authzObject(res, name)), http.StatusCreated)
			}
		}
	}
	return f
}

func authzAddMember(t *testing.T, env *testenv.Env, token, project, user, role string) {
	t.Helper()
	mustCode(t, env.Do(t, "POST", "/apis/berth.dev/v1/namespaces/"+project+"/members", token, authzMember(user, role)), http.StatusCreated)
}

func authzMember(user, role string) map[string]any {
	return map[string]any{"metadata": map[string]string{"name": user}, "spec": map[string]string{"role": role}}
}

// authzObject is a valid body of a workload resource.
func authzObject(resource, name string) map[string]any {
	meta := map[string]any{"name": name}
	switch resource {
	case "pods":
		return pod(name, nil)
	case "services":
		return map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": meta,
			"spec": map[string]any{"selector": map[string]string{"app": "web"}, "ports": []any{map[string]any{"port": 80}}}}
	case "replicationcontrollers":
		template := pod("", nil)
		template["metadata"] = map[string]any{"labels": map[string]string{"app": "web"}}
		delete(template, "apiVersion")
		delete(template, "kind")
		return map[string]any{"apiVersion": "v1", "kind": "ReplicationController", "metadata": meta,
			"spec": map[string]any{"replicas": 1, "template": template}}
	case "events":
		return map[string]any{"apiVersion": "v1", "kind": "Event", "metadata": meta,
			"involvedObject": map[string]any{"kind": "Pod", "name": "web"},
			"reason":         "Tested", "message": "authorization matrix", "type": "Normal"}
	case "configmaps":
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": map[string]string{"k": "v"}}
	}
	panic("no body for " + resource)
}

// authzWorkloadCode is the rule for workloads in a project: members read,
// edit and admin write, outsiders nothing, no credentials 401.
func authzWorkloadCode(caller, verb string) int {
	switch caller {
	case "anonymous", "bad-token":
		return http.StatusUnauthorized
	case "cluster-admin", "admin", "editor":
	case "viewer":
		if verb != "get" && verb != "list" && verb != "watch" {
			return http.StatusForbidden
		}
	default:
		return http.StatusForbidden
	}
	if verb == "create" {
		return http.StatusCreated
	}
	return http.StatusOK
}

// authzExpect fails unless resp has the code; a 401 or 403 must be a
// Status with the matching reason, and a 403 must say which verb and
// resource were refused.
func authzExpect(t *testing.T, resp testenv.Response, want int, verb, resource string) {
	t.Helper()
	if resp.Code != want {
		t.Fatalf("got %d, want %d: %s", resp.Code, want, resp.Body)
	}
	if want != http.StatusUnauthorized && want != http.StatusForbidden {
		return
	}
	var status metav1.Status
	resp.JSON(t, &status)
	wantReason := metav1.StatusReasonUnauthorized
	if want == http.StatusForbidden {
		wantReason = metav1.StatusReasonForbidden
	}
	if status.Kind != "Status" || status.Status != metav1.StatusFailure || int(status.Code) != want || status.Reason != wantReason {
		t.Fatalf("status body %+v, want a Failure with reason %s and code %d", status, wantReason, want)
	}
	if want == http.StatusForbidden && verb != "" {
		if wantMsg := fmt.Sprintf("cannot %s resource %q", verb, resource); !strings.Contains(status.Message, wantMsg) {
			t.Errorf("message %q does not say %q", status.Message, wantMsg)
		}
	}
}

// authzWatch opens a watch and reads only its status line; a refused
// watch's Status body is read whole.
func authzWatch(t *testing.T, env *testenv.Env, path, token string) testenv.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, "GET", env.URL+path+sep+"watch=1&timeoutSeconds=5", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("watch %s: %v", path, err)
	}
	defer resp.Body.Close()
	out := testenv.Response{Code: resp.StatusCode, Header: resp.Header}
	if resp.StatusCode != http.StatusOK {
		if out.Body, err = io.ReadAll(resp.Body); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func (f *authzFixture) get(t *testing.T, path string) map[string]any {
	t.Helper()
	resp := f.env.Do(t, "GET", path, f.root, nil)
	mustCode(t, resp, http.StatusOK)
	var obj map[string]any
	resp.JSON(t, &obj)
	return obj
}

func authzMeta(obj map[string]any) map[string]any {
	meta, _ := obj["metadata"].(map[string]any)
	return meta
}

// authzMarks returns the labels the matrix's writes put on an object.
func authzMarks(obj map[string]any) []string {
	labels, _ := authzMeta(obj)["labels"].(map[string]any)
	var marks []string
	for k := range labels {
		if strings.HasPrefix(k, "put-") || strings.HasPrefix(k, "patch-") {
			marks = append(marks, k)
		}
	}
	slices.Sort(marks)
	return marks
}

func (f *authzFixture) names(t *testing.T, path string) []string {
	t.Helper()
	var list struct {
		Items []map[string]any `json:"items"`
	}
	resp := f.env.Do(t, "GET", path, f.root, nil)
	mustCode(t, resp, http.StatusOK)
	resp.JSON(t, &list)
	var names []string
	for _, item := range list.Items {
		names = append(names, authzMeta(item)["name"].(string))
	}
	slices.Sort(names)
	return names
}

// withLabel returns obj, fetched as the cluster admin, with one more label.
func withLabel(obj map[string]any, key string) map[string]any {
	meta := authzMeta(obj)
	labels, _ := meta["labels"].(map[string]any)
	labels = maps.Clone(labels)
	if labels == nil {
		labels = map[string]any{}
	}
	labels[key] = "1"
	meta["labels"] = labels
	return obj
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	f := newAuthzFixture(t, env)
	t.Run("workloads", f.testWorkloads)
	t.Run("cross-project", f.testCrossProject)
	t.Run("all-namespace", f.testAllNamespaceLists)
	t.Run("nodes", f.testNodes)
	t.Run("namespaces", f.testNamespaces)
	t.Run("members", f.testMembers)
	t.Run("users", f.testUsers)
	t.Run("storage", f.testStorageAfterMatrix)
}

var authzVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete"}

func (f *authzFixture) testWorkloads(t *testing.T) {
	env := f.env
	for _, res := range authzWorkloads {
		base := "/api/v1/namespaces/alpha/" + res
		for _, verb := range authzVerbs {
			for _, c := range f.callers {
				t.Run(c.name+"/"+verb+"/"+res, func(t *testing.T) {
					want := authzWorkloadCode(c.name, verb)
					var resp testenv.Response
					switch verb {
					case "get":
						resp = env.Do(t, "GET", base+"/web", c.token, nil)
					case "list":
						resp = env.Do(t, "GET", base, c.token, nil)
					case "watch":
						resp = authzWatch(t, env, base, c.token)
					case "create":
						resp = env.Do(t, "POST", base, c.token, authzObject(res, c.name+"-made"))
					case "update":
						resp = env.Do(t, "PUT", base+"/web", c.token, withLabel(f.get(t, base+"/web"), "put-"+c.name))
					case "patch":
						resp = env.Do(t, "PATCH", base+"/web", c.token,
							fmt.Sprintf(`{"metadata":{"labels":{"patch-%s":"1"}}}`, c.name), "application/merge-patch+json")
					case "delete":
						resp = env.Do(t, "DELETE", base+"/doomed", c.token, nil)
					}
					authzExpect(t, resp, want, verb, res)
					if verb == "delete" && want == http.StatusOK {
						mustCode(t, env.Do(t, "GET", base+"/doomed", f.root, nil), http.StatusNotFound)
						mustCode(t, env.Do(t, "POST", base, f.root, authzObject(res, "doomed")), http.StatusCreated)
					}
				})
			}
		}
		if res == "events" || res == "configmaps" {
			continue // no status
		}
		// Status is what nodes and controllers observe: no project member
		// writes it (a pod set Failed would stay failed); reading it is a
		// read.
		for _, c := range f.callers {
			t.Run(c.name+"/update/"+res+"/status", func(t *testing.T) {
				want := authzWorkloadCode(c.name, "update")
				if want == http.StatusOK && c.name != "cluster-admin" {
					want = http.StatusForbidden
				}
				resp := env.Do(t, "PATCH", base+"/web/status", c.token, `{"status":{}}`, "application/merge-patch+json")
				authzExpect(t, resp, want, "patch", res+"/status")
				want = authzWorkloadCode(c.name, "get")
				authzExpect(t, env.Do(t, "GET", base+"/web/status", c.token, nil), want, "get", res+"/status")
			})
		}
	}
}

// An editor of alpha and an admin of alpha have no rights in beta.
func (f *authzFixture) testCrossProject(t *testing.T) {
	env := f.env
	tests := []struct {
		name, caller, method, path string
		body                       any
		verb, resource             string
	}{
		{"editor/create/pods", "editor", "POST", "/api/v1/namespaces/beta/pods", authzObject("pods", "intruder"), "create", "pods"},
		{"editor/update/services", "editor", "PUT", "/api/v1/namespaces/beta/services/web", authzObject("services", "web"), "update", "services"},
		{"editor/patch/replicationcontrollers", "editor", "PATCH", "/api/v1/namespaces/beta/replicationcontrollers/web", `{"metadata":{"labels":{"patch-intruder":"1"}}}`, "patch", "replicationcontrollers"},
		{"editor/delete/events", "editor", "DELETE", "/api/v1/namespaces/beta/events/doomed", nil, "delete", "events"},
		{"editor/get/pods", "editor", "GET", "/api/v1/namespaces/beta/pods/web", nil, "get", "pods"},
		{"editor/list/pods", "editor", "GET", "/api/v1/namespaces/beta/pods", nil, "list", "pods"},
		{"editor/get/namespaces", "editor", "GET", "/api/v1/namespaces/beta", nil, "get", "namespaces"},
		{"editor/list/members", "editor", "GET", "/apis/berth.dev/v1/namespaces/beta/members", nil, "list", "members"},
		{"admin/create/members", "admin", "POST", "/apis/berth.dev/v1/namespaces/beta/members", authzMember("ada", "admin"), "create", "members"},
		{"admin/delete/namespaces", "admin", "DELETE", "/api/v1/namespaces/beta", nil, "delete", "namespaces"},
		{"admin/delete/projects", "admin", "DELETE", "/apis/berth.dev/v1/projects/beta", nil, "delete", "projects"},
		{"outsider/create/members", "outsider", "POST", "/apis/berth.dev/v1/namespaces/alpha/members", authzMember("olga", "admin"), "create", "members"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := "application/json"
			if tt.method == "PATCH" {
				ct = "application/merge-patch+json"
			}
			resp := env.Do(t, tt.method, tt.path, f.token(tt.caller), tt.body, ct)
			authzExpect(t, resp, http.StatusForbidden, tt.verb, tt.resource)
		})
	}
}

func (f *authzFixture) testAllNamespaceLists(t *testing.T) {
	env := f.env
	for _, res := range authzWorkloads {
		for _, verb := range []string{"list", "watch"} {
			for _, c := range f.callers {
				t.Run(c.name+"/"+verb+"/"+res, func(t *testing.T) {
					want := http.StatusForbidden
					switch c.name {
					case "cluster-admin":
						want = http.StatusOK
					case "anonymous", "bad-token":
						want = http.StatusUnauthorized
					}
					var resp testenv.Response
					if verb == "watch" {
						resp = authzWatch(t, env, "/api/v1/"+res, c.token)
					} else {
						resp = env.Do(t, "GET", "/api/v1/"+res, c.token, nil)
					}
					authzExpect(t, resp, want, verb, res)
				})
			}
		}
	}
	namespaces := map[string]bool{}
	resp := env.Do(t, "GET", "/api/v1/pods", f.root, nil)
	mustCode(t, resp, http.StatusOK)
	var list struct {
		Items []map[string]any `json:"items"`
	}
	resp.JSON(t, &list)
	for _, p := range list.Items {
		namespaces[authzMeta(p)["namespace"].(string)] = true
	}
	if !namespaces["alpha"] || !namespaces["beta"] {
		t.Errorf("the cluster admin's pod list spans %v, want alpha and beta", namespaces)
	}
}

// Nodes are for cluster admins only, whatever the project role. The
// cluster admin deletes n1 first: the others are refused before the
// object is looked up, so a refusal tells nothing of existence.
func (f *authzFixture) testNodes(t *testing.T) {
	env := f.env
	node := func(name string) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Node", "metadata": map[string]any{"name": name}}
	}
	mustCode(t, env.Do(t, "POST", "/api/v1/nodes", f.root, node("n1")), http.StatusCreated)
	for _, verb := range authzVerbs {
		for _, c := range f.callers {
			t.Run(c.name+"/"+verb+"/nodes", func(t *testing.T) {
				want := http.StatusForbidden
				switch c.name {
				case "cluster-admin":
					want = http.StatusOK
					if verb == "create" {
						want = http.StatusCreated
					}
				case "anonymous", "bad-token":
					want = http.StatusUnauthorized
				}
				var resp testenv.Response
				switch verb {
				case "get":
					resp = env.Do(t, "GET", "/api/v1/nodes/n1", c.token, nil)
				case "list":
					resp = env.Do(t, "GET", "/api/v1/nodes", c.token, nil)
				case "watch":
					resp = authzWatch(t, env, "/api/v1/nodes", c.token)
				case "create":
					resp = env.Do(t, "POST", "/api/v1/nodes", c.token, node(c.name+"-node"))
				case "update":
					resp = env.Do(t, "PUT", "/api/v1/nodes/n1", c.token, withLabel(f.get(t, "/api/v1/nodes/n1"), "put-"+c.name))
				case "patch":
					resp = env.Do(t, "PATCH", "/api/v1/nodes/n1", c.token, fmt.Sprintf(`{"metadata":{"labels":{"patch-%s":"1"}}}`, c.name), "application/merge-patch+json")
				case "delete":
					resp = env.Do(t, "DELETE", "/api/v1/nodes/n1", c.token, nil)
				}
				authzExpect(t, resp, want, verb, "nodes")
			})
		}
	}
	if got, want := f.names(t, "/api/v1/nodes"), []string{"cluster-admin-node"}; !slices.Equal(got, want) {
		t.Errorf("nodes after the matrix: %v, want %v", got, want)
	}
}

func (f *authzFixture) testNamespaces(t *testing.T) {
	env := f.env
	for _, verb := range []string{"get", "update", "patch"} {
		for _, c := range f.callers {
			t.Run(c.name+"/"+verb+"/namespaces", func(t *testing.T) {
				want := http.StatusForbidden
				switch {
				case c.name == "anonymous" || c.name == "bad-token":
					want = http.StatusUnauthorized
				case c.name == "cluster-admin" || c.name == "admin":
					want = http.StatusOK
				case verb == "get" && (c.name == "editor" || c.name == "viewer"):
					want = http.StatusOK
				}
				var resp testenv.Response
				switch verb {
				case "get":
					resp = env.Do(t, "GET", "/api/v1/namespaces/alpha", c.token, nil)
				case "update":
					resp = env.Do(t, "PUT", "/api/v1/namespaces/alpha", c.token, withLabel(f.get(t, "/api/v1/namespaces/alpha"), "put-"+c.name))
				case "patch":
					resp = env.Do(t, "PATCH", "/api/v1/namespaces/alpha", c.token, fmt.Sprintf(`{"metadata":{"labels":{"patch-%s":"1"}}}`, c.name), "application/merge-patch+json")
				}
				authzExpect(t, resp, want, verb, "namespaces")
			})
		}
	}

	// Lists are filtered to the caller's projects.
	visible := map[string][]string{
		"cluster-admin": {"alpha", "beta"},
		"admin":         {"alpha"},
		"editor":        {"alpha"},
		"viewer":        {"alpha"},
		"outsider":      {"beta"},
	}
	for _, c := range f.callers {
		if c.user == "" {
			t.Run(c.name+"/list/namespaces", func(t *testing.T) {
				authzExpect(t, env.Do(t, "GET", "/api/v1/namespaces", c.token, nil), http.StatusUnauthorized, "", "")
			})
			continue
		}
		for _, path := range []string{"/api/v1/namespaces", "/apis/berth.dev/v1/projects"} {
			t.Run(c.name+"/list"+path, func(t *testing.T) {
				resp := env.Do(t, "GET", path, c.token, nil)
				mustCode(t, resp, http.StatusOK)
				var list struct {
					Items []struct {
						Metadata metav1.ObjectMeta `json:"metadata"`
						Status   struct{ Role string }
					} `json:"items"`
				}
				resp.JSON(t, &list)
				var got []string
				for _, item := range list.Items {
					if item.Metadata.Name == "alpha" || item.Metadata.Name == "beta" {
						got = append(got, item.Metadata.Name)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, visible[c.name]) {
					t.Errorf("sees %v, want %v", got, visible[c.name])
				}
			})
		}
	}

	// Anyone may create a namespace and becomes its admin, who may add
	// members.
	t.Run("viewer/create/namespaces", func(t *testing.T) {
		vic := f.token("viewer")
		createNamespace(t, env, vic, "vic-own")
		resp := env.Do(t, "GET", "/apis/berth.dev/v1/namespaces/vic-own/members/vic", vic, nil)
		mustCode(t, resp, http.StatusOK)
		var m struct {
			Spec struct{ Role string } `json:"spec"`
		}
		resp.JSON(t, &m)
		if m.Spec.Role != "admin" {
			t.Fatalf("the creator's role is %q, want admin", m.Spec.Role)
		}
		bob := env.CreateUser(t, "bob", false)
		authzExpect(t, env.Do(t, "GET", "/api/v1/namespaces/vic-own", bob, nil), http.StatusForbidden, "get", "namespaces")
		mustCode(t, env.Do(t, "POST", "/apis/berth.dev/v1/namespaces/vic-own/members", vic, authzMember("bob", "view")), http.StatusCreated)
		mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/vic-own", bob, nil), http.StatusOK)
		authzExpect(t, env.Do(t, "POST", "/api/v1/namespaces/vic-own/pods", bob, pod("bobs", nil)), http.StatusForbidden, "create", "pods")
		mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/vic-own/pods", vic, pod("vics", nil)), http.StatusCreated)
	})
	t.Run("anonymous/create/namespaces", func(t *testing.T) {
		resp := env.Do(t, "POST", "/api/v1/namespaces", "", map[string]any{"metadata": map[string]string{"name": "nobodys"}})
		authzExpect(t, resp, http.StatusUnauthorized, "", "")
	})

	// Only the project's admin (or a cluster admin) deletes it.
	createNamespace(t, env, f.token("admin"), "ada-doomed")
	authzAddMember(t, env, f.token("admin"), "ada-doomed", "ed", "edit")
	authzAddMember(t, env, f.token("admin"), "ada-doomed", "vic", "view")
	createNamespace(t, env, f.token("outsider"), "olga-doomed")
	deletes := []struct {
		caller, namespace string
		code              int
	}{
		{"outsider", "ada-doomed", http.StatusForbidden},
		{"viewer", "ada-doomed", http.StatusForbidden},
		{"editor", "ada-doomed", http.StatusForbidden},
		{"anonymous", "ada-doomed", http.StatusUnauthorized},
		{"bad-token", "ada-doomed", http.StatusUnauthorized},
		{"admin", "ada-doomed", http.StatusOK},
		{"admin", "olga-doomed", http.StatusForbidden},
		{"cluster-admin", "olga-doomed", http.StatusOK},
	}
	for _, d := range deletes {
		t.Run(d.caller+"/delete/namespaces/"+d.namespace, func(t *testing.T) {
			authzExpect(t, env.Do(t, "DELETE", "/api/v1/namespaces/"+d.namespace, f.token(d.caller), nil), d.code, "delete", "namespaces")
			want := http.StatusOK
			if d.code == http.StatusOK {
				want = http.StatusNotFound
			}
			mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/"+d.namespace, f.root, nil), want)
		})
	}
	// The memberships went with the namespace.
	resp := env.Do(t, "GET", "/apis/berth.dev/v1/namespaces/ada-doomed/members", f.root, nil)
	mustCode(t, resp, http.StatusOK)
	var members struct{ Items []any }
	resp.JSON(t, &members)
	if len(members.Items) != 0 {
		t.Errorf("a deleted namespace keeps %d members", len(members.Items))
	}
	authzExpect(t, env.Do(t, "GET", "/api/v1/namespaces/ada-doomed/pods", f.token("editor"), nil), http.StatusForbidden, "list", "pods")
}

func (f *authzFixture) testMembers(t *testing.T) {
	env := f.env
	env.CreateUser(t, "mia", false)
	const base = "/apis/berth.dev/v1/namespaces/alpha/members"
	tests := []struct {
		caller, verb, method, path string
		body                       any
		code                       int
	}{
		{"viewer", "list", "GET", base, nil, http.StatusOK},
		{"editor", "list", "GET", base, nil, http.StatusOK},
		{"outsider", "list", "GET", base, nil, http.StatusForbidden},
		{"anonymous", "list", "GET", base, nil, http.StatusUnauthorized},
		{"viewer", "get", "GET", base + "/ed", nil, http.StatusOK},
		{"outsider", "get", "GET", base + "/ed", nil, http.StatusForbidden},
		{"viewer", "create", "POST", base, authzMember("mia", "view"), http.StatusForbidden},
		{"editor", "create", "POST", base, authzMember("mia", "view"), http.StatusForbidden},
		{"outsider", "create", "POST", base, authzMember("mia", "view"), http.StatusForbidden},
		{"bad-token", "create", "POST", base, authzMember("mia", "view"), http.StatusUnauthorized},
		{"admin", "create", "POST", base, authzMember("mia", "view"), http.StatusCreated},
		{"viewer", "update", "PUT", base + "/mia", authzMember("mia", "admin"), http.StatusForbidden},
		{"editor", "update", "PUT", base + "/vic", authzMember("vic", "admin"), http.StatusForbidden},
		{"cluster-admin", "update", "PUT", base + "/mia", authzMember("mia", "edit"), http.StatusOK},
		{"admin", "update", "PUT", base + "/mia", authzMember("mia", "edit"), http.StatusOK},
		{"viewer", "delete", "DELETE", base + "/mia", nil, http.StatusForbidden},
		{"editor", "delete", "DELETE", base + "/mia", nil, http.StatusForbidden},
		{"outsider", "delete", "DELETE", base + "/mia", nil, http.StatusForbidden},
		{"admin", "delete", "DELETE", base + "/mia", nil, http.StatusOK},
		{"cluster-admin", "create", "POST", base, authzMember("mia", "view"), http.StatusCreated},
		{"cluster-admin", "delete", "DELETE", base + "/mia", nil, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.caller+"/"+tt.verb+"/members", func(t *testing.T) {
			authzExpect(t, env.Do(t, tt.method, tt.path, f.token(tt.caller), tt.body), tt.code, tt.verb, "members")
		})
	}
	resp := env.Do(t, "GET", base, f.token("viewer"), nil)
	mustCode(t, resp, http.StatusOK)
	var list struct {
		Items []struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
			Spec     struct{ Role string }
		}
	}
	resp.JSON(t, &list)
	got := map[string]string{}
	for _, m := range list.Items {
		got[m.Metadata.Name] = m.Spec.Role
	}
	if want := map[string]string{"ada": "admin", "ed": "edit", "vic": "view"}; !maps.Equal(got, want) {
		t.Errorf("members of alpha: %v, want %v", got, want)
	}
}

func (f *authzFixture) testUsers(t *testing.T) {
	env := f.env
	const base = "/apis/berth.dev/v1/users"
	for _, c := range f.callers {
		t.Run(c.name+"/list/users", func(t *testing.T) {
			want := http.StatusForbidden
			switch c.name {
			case "cluster-admin":
				want = http.StatusOK
			case "anonymous", "bad-token":
				want = http.StatusUnauthorized
			}
			authzExpect(t, env.Do(t, "GET", base, c.token, nil), want, "list", "users")
		})
		if c.user == "" {
			continue
		}
		t.Run(c.name+"/get/users/self", func(t *testing.T) {
			resp := env.Do(t, "GET", base+"/"+c.user, c.token, nil)
			mustCode(t, resp, http.StatusOK)
			var u struct{ Metadata metav1.ObjectMeta }
			resp.JSON(t, &u)
			if u.Metadata.Name != c.user {
				t.Errorf("got user %q, want %q", u.Metadata.Name, c.user)
			}
		})
	}
	user := map[string]any{"metadata": map[string]string{"name": "eve"}, "spec": map[string]any{"password": "a-long-password", "clusterAdmin": true}}
	tests := []struct {
		caller, verb, method, path string
		body                       any
		code                       int
	}{
		{"viewer", "get", "GET", base + "/ada", nil, http.StatusForbidden},
		{"admin", "get", "GET", base + "/root", nil, http.StatusForbidden},
		{"admin", "create", "POST", base, user, http.StatusForbidden},
		{"outsider", "create", "POST", base, user, http.StatusForbidden},
		{"admin", "delete", "DELETE", base + "/vic", nil, http.StatusForbidden},
		{"viewer", "delete", "DELETE", base + "/vic", nil, http.StatusForbidden},
		{"cluster-admin", "get", "GET", base + "/ada", nil, http.StatusOK},
		{"cluster-admin", "create", "POST", base, user, http.StatusCreated},
		{"cluster-admin", "delete", "DELETE", base + "/eve", nil, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.caller+"/"+tt.verb+"/users"+strings.TrimPrefix(tt.path, base), func(t *testing.T) {
			authzExpect(t, env.Do(t, tt.method, tt.path, f.token(tt.caller), tt.body), tt.code, tt.verb, "users")
		})
	}
	if got := f.names(t, base); slices.Contains(got, "eve") || !slices.Contains(got, "vic") {
		t.Errorf("users after the matrix: %v", got)
	}
}

// testStorageAfterMatrix checks that exactly the allowed writes changed
// storage: the refused ones left no object, label or deletion behind.
func (f *authzFixture) testStorageAfterMatrix(t *testing.T) {
	var allowedCreates, wantMarks []string
	for _, c := range f.callers {
		if authzWorkloadCode(c.name, "create") == http.StatusCreated {
			allowedCreates = append(allowedCreates, c.name+"-made")
		}
		if authzWorkloadCode(c.name, "update") == http.StatusOK {
			wantMarks = append(wantMarks, "put-"+c.name, "patch-"+c.name)
		}
	}
	slices.Sort(wantMarks)
	for _, res := range authzWorkloads {
		t.Run("alpha/"+res, func(t *testing.T) {
			base := "/api/v1/namespaces/alpha/" + res
			want := append([]string{"doomed", "web"}, allowedCreates...)
			slices.Sort(want)
			if got := f.names(t, base); !slices.Equal(got, want) {
				t.Errorf("objects: %v, want %v", got, want)
			}
			if got := authzMarks(f.get(t, base+"/web")); !slices.Equal(got, wantMarks) {
				t.Errorf("labels written on web: %v, want %v", got, wantMarks)
			}
		})
		t.Run("beta/"+res, func(t *testing.T) {
			base := "/api/v1/namespaces/beta/" + res
			if got, want := f.names(t, base), []string{"doomed", "web"}; !slices.Equal(got, want) {
				t.Errorf("objects: %v, want %v", got, want)
			}
			if got := authzMarks(f.get(t, base+"/web")); len(got) != 0 {
				t.Errorf("labels written on web by refused writes: %v", got)
			}
		})
	}
	t.Run("alpha", func(t *testing.T) {
		want := []string{"patch-admin", "patch-cluster-admin", "put-admin", "put-cluster-admin"}
		if got := authzMarks(f.get(t, "/api/v1/namespaces/alpha")); !slices.Equal(got, want) {
			t.Errorf("labels written on the namespace: %v, want %v", got, want)
		}
	})
}
