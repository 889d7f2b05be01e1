package auth_test

import (
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/berthpaas/berth/backend/errdefs"

	"github.com/berthpaas/berth/backend/auth"
)

// callers are the identities of the Decide table: role is the caller's
// role in project "ns". As in the API server, a request is decided with
// the role in the request's project, so none outside it.
var callers = []struct {
	name string
	id   auth.Identity
	role string
}{
	{"cluster-admin", auth.Identity{UserID: 1, Name: "root", ClusterAdmin: true}, ""},
	{"admin", auth.Identity{UserID: 2, Name: "ada"}, "admin"},
	{"edit", auth.Identity{UserID: 3, Name: "ed"}, "edit"},
	{"view", auth.Identity{UserID: 4, Name: "vi"}, "view"},
	{"outsider", auth.Identity{UserID: 5, Name: "olga"}, ""},
}

const everyone = "cluster-admin admin edit view outsider"

func TestDecide(t *testing.T) {
	tests := []struct {
		method, path string
		// allowed lists the callers that may, separated by spaces.
		allowed string
	}{
		// Workloads: members read, edit and admin write.
		{"GET", "/api/v1/namespaces/ns/pods/web", "cluster-admin admin edit view"},
		{"GET", "/api/v1/namespaces/ns/pods", "cluster-admin admin edit view"},
		{"GET", "/api/v1/namespaces/ns/pods?watch=1", "cluster-admin admin edit view"},
		{"POST", "/api/v1/namespaces/ns/pods", "cluster-admin admin edit"},
		{"PUT", "/api/v1/namespaces/ns/pods/web", "cluster-admin admin edit"},
		{"PATCH", "/api/v1/namespaces/ns/pods/web", "cluster-admin admin edit"},
		{"DELETE", "/api/v1/namespaces/ns/pods/web", "cluster-admin admin edit"},
		{"DELETE", "/api/v1/namespaces/ns/pods", "cluster-admin admin edit"},
		{"GET", "/api/v1/namespaces/ns/pods/web/status", "cluster-admin admin edit view"},
		{"GET", "/api/v1/namespaces/ns/pods/web/log", "cluster-admin admin edit view"},
		// Status is written by nodes and controllers: no member writes it.
		{"PUT", "/api/v1/namespaces/ns/pods/web/status", "cluster-admin"},
		{"PATCH", "/api/v1/namespaces/ns/pods/web/status", "cluster-admin"},
		{"PATCH", "/api/v1/namespaces/ns/replicationcontrollers/rc/status", "cluster-admin"},
		{"GET", "/api/v1/namespaces/ns/pods/web/diff", "cluster-admin admin edit view"},
		// Acting on containers needs edit, whatever the method (exec and
		// attach upgrade a GET to a websocket).
		{"POST", "/api/v1/namespaces/ns/pods/web/exec", "cluster-admin admin edit"},
		{"GET", "/api/v1/namespaces/ns/pods/web/exec", "cluster-admin admin edit"},
		{"GET", "/api/v1/namespaces/ns/pods/web/attach", "cluster-admin admin edit"},
		{"POST", "/api/v1/namespaces/ns/pods/web/restart", "cluster-admin admin edit"},
		{"POST", "/api/v1/namespaces/ns/pods/web/stop", "cluster-admin admin edit"},
		{"GET", "/api/v1/namespaces/ns/services/s", "cluster-admin admin edit view"},
		{"PUT", "/api/v1/namespaces/ns/services/s", "cluster-admin admin edit"},
		// Endpoints are the endpoints controller's: members read them.
		{"GET", "/api/v1/namespaces/ns/endpoints/s", "cluster-admin admin edit view"},
		{"GET", "/api/v1/namespaces/ns/endpoints", "cluster-admin admin edit view"},
		{"POST", "/api/v1/namespaces/ns/endpoints", "cluster-admin"},
		{"PUT", "/api/v1/namespaces/ns/endpoints/s", "cluster-admin"},
		{"DELETE", "/api/v1/namespaces/ns/endpoints/s", "cluster-admin"},
		{"GET", "/api/v1/endpoints", "cluster-admin"},
		// Routes are a project's: members read, edit and admin write.
		{"GET", "/apis/berth.dev/v1/namespaces/ns/routes", "cluster-admin admin edit view"},
		{"GET", "/apis/berth.dev/v1/namespaces/ns/routes/r", "cluster-admin admin edit view"},
		{"POST", "/apis/berth.dev/v1/namespaces/ns/routes", "cluster-admin admin edit"},
		{"PATCH", "/apis/berth.dev/v1/namespaces/ns/routes/r", "cluster-admin admin edit"},
		{"DELETE", "/apis/berth.dev/v1/namespaces/ns/routes/r", "cluster-admin admin edit"},
		{"GET", "/apis/berth.dev/v1/routes", "cluster-admin"},
		{"GET", "/api/v1/namespaces/ns/replicationcontrollers", "cluster-admin admin edit view"},
		{"DELETE", "/api/v1/namespaces/ns/replicationcontrollers/rc", "cluster-admin admin edit"},
		{"GET", "/api/v1/namespaces/ns/events/e", "cluster-admin admin edit view"},
		{"POST", "/api/v1/namespaces/ns/events", "cluster-admin admin edit"},
		// All-namespace lists and watches are for cluster admins.
		{"GET", "/api/v1/pods", "cluster-admin"},
		{"GET", "/api/v1/pods?watch=1", "cluster-admin"},
		{"GET", "/api/v1/services", "cluster-admin"},
		{"GET", "/api/v1/events", "cluster-admin"},
		// Nodes and unknown resources: cluster admins only.
		{"GET", "/api/v1/nodes", "cluster-admin"},
		{"GET", "/api/v1/nodes/n1", "cluster-admin"},
		{"PUT", "/api/v1/nodes/n1/status", "cluster-admin"},
		{"GET", "/api/v1/namespaces/ns/persistentvolumeclaims/c", "cluster-admin"},
		{"GET", "/apis/apps/v1/namespaces/ns/deployments", "cluster-admin"},
		// Secrets: viewers list and watch them (the API strips all but
		// names) but may not get one; edit and admin read and write them.
		{"GET", "/api/v1/namespaces/ns/secrets/s", "cluster-admin admin edit"},
		{"GET", "/api/v1/namespaces/ns/secrets", "cluster-admin admin edit view"},
		{"GET", "/api/v1/namespaces/ns/secrets?watch=1", "cluster-admin admin edit view"},
		{"POST", "/api/v1/namespaces/ns/secrets", "cluster-admin admin edit"},
		{"PUT", "/api/v1/namespaces/ns/secrets/s", "cluster-admin admin edit"},
		{"DELETE", "/api/v1/namespaces/ns/secrets/s", "cluster-admin admin edit"},
		{"GET", "/api/v1/secrets", "cluster-admin"},
		// Config maps are workloads.
		{"GET", "/api/v1/namespaces/ns/configmaps/c", "cluster-admin admin edit view"},
		{"POST", "/api/v1/namespaces/ns/configmaps", "cluster-admin admin edit"},
		// Namespaces: anyone lists and creates; members read; admins change.
		{"GET", "/api/v1/namespaces", everyone},
		{"GET", "/api/v1/namespaces?watch=1", everyone},
		{"POST", "/api/v1/namespaces", everyone},
		{"GET", "/api/v1/namespaces/ns", "cluster-admin admin edit view"},
		{"GET", "/api/v1/namespaces/ns?watch=1", "cluster-admin admin edit view"},
		{"GET", "/api/v1/namespaces/ns/status", "cluster-admin admin edit view"},
		{"PUT", "/api/v1/namespaces/ns", "cluster-admin admin"},
		{"PATCH", "/api/v1/namespaces/ns", "cluster-admin admin"},
		{"PUT", "/api/v1/namespaces/ns/status", "cluster-admin"},
		{"DELETE", "/api/v1/namespaces/ns", "cluster-admin admin"},
		{"DELETE", "/api/v1/namespaces", "cluster-admin"},
		// Projects are namespaces seen from berth.dev.
		{"GET", "/apis/berth.dev/v1/projects", everyone},
		{"POST", "/apis/berth.dev/v1/projects", everyone},
		{"GET", "/apis/berth.dev/v1/projects/ns", "cluster-admin admin edit view"},
		{"DELETE", "/apis/berth.dev/v1/projects/ns", "cluster-admin admin"},
		// Members: members read, admins write.
		{"GET", "/apis/berth.dev/v1/namespaces/ns/members", "cluster-admin admin edit view"},
		{"GET", "/apis/berth.dev/v1/namespaces/ns/members/bob", "cluster-admin admin edit view"},
		{"POST", "/apis/berth.dev/v1/namespaces/ns/members", "cluster-admin admin"},
		{"PUT", "/apis/berth.dev/v1/namespaces/ns/members/bob", "cluster-admin admin"},
		{"DELETE", "/apis/berth.dev/v1/namespaces/ns/members/bob", "cluster-admin admin"},
		{"GET", "/apis/berth.dev/v1/members", "cluster-admin"},
		// Users: cluster admins; a user may read themselves (see TestDecideUsers).
		{"GET", "/apis/berth.dev/v1/users", "cluster-admin"},
		{"POST", "/apis/berth.dev/v1/users", "cluster-admin"},
		{"GET", "/apis/berth.dev/v1/users/someone", "cluster-admin"},
		// Tokens and whoami: everyone, for themselves.
		{"GET", "/apis/berth.dev/v1/tokens", everyone},
		{"POST", "/apis/berth.dev/v1/tokens", everyone},
		{"DELETE", "/apis/berth.dev/v1/tokens/ci", everyone},
		{"GET", "/apis/berth.dev/v1/whoami", everyone},
		// Host images: everyone reads; cluster admins edit, build, cancel.
		{"GET", "/apis/berth.dev/v1/hostimages", everyone},
		{"GET", "/apis/berth.dev/v1/hostimages/host/revisions", everyone},
		{"GET", "/apis/berth.dev/v1/hostimagebuilds/host-1/log", everyone},
		{"GET", "/apis/berth.dev/v1/hostimagebuilds/host-2/diff?from=host-1", everyone},
		{"POST", "/apis/berth.dev/v1/hostimages", "cluster-admin"},
		{"PUT", "/apis/berth.dev/v1/hostimages/host", "cluster-admin"},
		{"DELETE", "/apis/berth.dev/v1/hostimages/host", "cluster-admin"},
		{"POST", "/apis/berth.dev/v1/hostimagebuilds", "cluster-admin"},
		{"POST", "/apis/berth.dev/v1/hostimagebuilds/host-1/cancel", "cluster-admin"},
		{"POST", "/api/v1/nodes/n1/upgrade", "cluster-admin"},
		// Discovery is not a resource request.
		{"GET", "/api", everyone},
		{"GET", "/api/v1", everyone},
		{"GET", "/apis/berth.dev/v1", everyone},
	}
	for _, tt := range tests {
		allowed := strings.Fields(tt.allowed)
		for _, c := range callers {
			ri := auth.ParseRequestInfo(httptest.NewRequest(tt.method, tt.path, nil))
			t.Run(c.name+"/"+ri.Verb+" "+tt.path, func(t *testing.T) {
				role := ""
				if ri.Project() == "ns" {
					role = c.role
				}
				err := auth.Decide(c.id, role, ri)
				want := slices.Contains(allowed, c.name)
				switch {
				case want && err != nil:
					t.Errorf("refused: %v", err)
				case !want && err == nil:
					t.Errorf("allowed, want forbidden")
				case !want && !errors.Is(err, errdefs.ErrForbidden):
					t.Errorf("error %v does not wrap ErrForbidden", err)
				}
			})
		}
	}
}

func TestDecideUsers(t *testing.T) {
	alice := auth.Identity{UserID: 7, Name: "alice"}
	tests := []struct {
		name         string
		method, path string
		want         bool
	}{
		{"get self", "GET", "/apis/berth.dev/v1/users/alice", true},
		{"watch self", "GET", "/apis/berth.dev/v1/users/alice?watch=1", true},
		{"get another", "GET", "/apis/berth.dev/v1/users/bob", false},
		{"get a case variant", "GET", "/apis/berth.dev/v1/users/Alice", false},
		{"list", "GET", "/apis/berth.dev/v1/users", false},
		{"delete self", "DELETE", "/apis/berth.dev/v1/users/alice", false},
		{"update self", "PUT", "/apis/berth.dev/v1/users/alice", false},
		{"create", "POST", "/apis/berth.dev/v1/users", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.Decide(alice, "", auth.ParseRequestInfo(httptest.NewRequest(tt.method, tt.path, nil)))
			if got := err == nil; got != tt.want {
				t.Errorf("allowed = %v (%v), want %v", got, err, tt.want)
			}
		})
	}
}

// A role in some project grants nothing at the cluster scope.
func TestDecideRoleDoesNotReachClusterScope(t *testing.T) {
	for _, role := range []string{"admin", "edit", "view"} {
		id := auth.Identity{UserID: 9, Name: "pat"}
		for _, path := range []string{"/api/v1/pods", "/api/v1/nodes", "/apis/berth.dev/v1/users", "/apis/berth.dev/v1/members"} {
			ri := auth.ParseRequestInfo(httptest.NewRequest("GET", path, nil))
			if err := auth.Decide(id, role, ri); err == nil {
				t.Errorf("role %q: GET %s allowed", role, path)
			}
		}
	}
}

func TestDecideMessage(t *testing.T) {
	id := auth.Identity{UserID: 4, Name: "vi"}
	tests := []struct {
		name         string
		method, path string
		want         string
	}{
		{"namespaced", "POST", "/api/v1/namespaces/ns/pods",
			`user "vi" cannot create resource "pods" in API group "" in the namespace "ns"`},
		{"subresource", "PUT", "/api/v1/namespaces/ns/pods/web/status",
			`user "vi" cannot update resource "pods/status" in API group "" in the namespace "ns"`},
		{"cluster scope", "GET", "/api/v1/nodes",
			`user "vi" cannot list resource "nodes" in API group "" at the cluster scope`},
		{"namespace itself", "DELETE", "/api/v1/namespaces/ns",
			`user "vi" cannot delete resource "namespaces" in API group "" at the cluster scope`},
		{"berth group", "POST", "/apis/berth.dev/v1/namespaces/ns/members",
			`user "vi" cannot create resource "members" in API group "berth.dev" in the namespace "ns"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.Decide(id, "view", auth.ParseRequestInfo(httptest.NewRequest(tt.method, tt.path, nil)))
			// The class may or may not be repeated at the end.
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || !errors.Is(err, errdefs.ErrForbidden) {
				t.Errorf("got %v\nwant %s (wrapping ErrForbidden)", err, tt.want)
			}
		})
	}
}

// A node credential carries only what a node agent needs, even when a
// cluster admin made it.
func TestDecideNodeToken(t *testing.T) {
	node := auth.Identity{UserID: 1, Name: "root", ClusterAdmin: true, TokenKind: auth.TokenKindNode, NodeName: "n1"}
	tests := []struct {
		method, path string
		want         bool
	}{
		// A node lists and watches only the pods bound to it.
		{"GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1", true},
		{"GET", "/api/v1/pods?watch=1&fieldSelector=spec.nodeName%3Dn1", true},
		{"GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1,status.phase%3DRunning", true},
		{"GET", "/api/v1/pods", false},
		{"GET", "/api/v1/pods?watch=1", false},
		{"GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn2", false},
		{"GET", "/api/v1/pods?fieldSelector=spec.nodeName!%3Dn1", false},
		{"GET", "/api/v1/namespaces/ns/pods?fieldSelector=spec.nodeName%3Dn1", true},
		// Secrets and config maps: get one by name (the API checks that a
		// pod of the node uses it), never list, watch or write.
		{"GET", "/api/v1/namespaces/ns/secrets", false},
		{"GET", "/api/v1/namespaces/ns/secrets?watch=1", false},
		{"GET", "/api/v1/secrets", false},
		{"GET", "/api/v1/namespaces/ns/secrets/s", true},
		{"PUT", "/api/v1/namespaces/ns/secrets/s", false},
		{"GET", "/api/v1/namespaces/ns/configmaps", false},
		{"GET", "/api/v1/namespaces/ns/configmaps/c", true},
		{"POST", "/api/v1/namespaces/ns/configmaps", false},
		{"GET", "/api/v1/namespaces/ns/pods/web", true},
		{"PUT", "/api/v1/namespaces/ns/pods/web/status", true},
		{"PATCH", "/api/v1/namespaces/ns/pods/web/status", true},
		{"DELETE", "/api/v1/namespaces/ns/pods/web", true},
		{"POST", "/api/v1/namespaces/ns/pods", false},
		{"PUT", "/api/v1/namespaces/ns/pods/web", false},
		{"GET", "/api/v1/namespaces/ns/pods/web/exec", false},
		{"GET", "/api/v1/namespaces/ns/pods/web/log", false},
		{"DELETE", "/api/v1/namespaces/ns/pods", false},
		{"POST", "/api/v1/nodes", true},
		{"PUT", "/api/v1/nodes/n1/status", true},
		{"PUT", "/api/v1/nodes/n2/status", false},
		{"PATCH", "/api/v1/nodes/n2", false},
		{"DELETE", "/api/v1/nodes/n1", false},
		{"POST", "/api/v1/namespaces/ns/events", true},
		{"DELETE", "/api/v1/namespaces/ns/events/e", false},
		// For the pod network: the namespaces (NetIDs), read only, and the
		// cluster network.
		{"GET", "/api/v1/namespaces/ns", true},
		{"GET", "/api/v1/namespaces?watch=1", true},
		{"GET", "/apis/berth.dev/v1/clusternetworks/default", true},
		// Routes are the master's router's to read, not the nodes'.
		{"GET", "/apis/berth.dev/v1/routes", false},
		{"GET", "/apis/berth.dev/v1/namespaces/ns/routes/r", false},
		{"PUT", "/apis/berth.dev/v1/clusternetworks/default", false},
		{"PUT", "/apis/berth.dev/v1/projects/ns/network", false},
		{"GET", "/apis/berth.dev/v1/projects/ns/network", false},
		{"POST", "/api/v1/namespaces", false},
		{"DELETE", "/api/v1/namespaces/ns", false},
		{"PATCH", "/api/v1/namespaces/ns", false},
		{"GET", "/api/v1/namespaces/ns/events", false},
		{"PUT", "/api/v1/namespaces/ns", false},
		{"PUT", "/api/v1/namespaces/ns/status", false},
		{"GET", "/api/v1/namespaces/ns/status", false},
		// It reads every service and endpoints (proxy, DNS, service
		// variables), and writes none.
		{"GET", "/api/v1/namespaces/ns/services", true},
		{"GET", "/api/v1/services?watch=1", true},
		{"GET", "/api/v1/namespaces/ns/services/web", true},
		{"GET", "/api/v1/endpoints", true},
		{"GET", "/api/v1/namespaces/ns/endpoints/web", true},
		{"POST", "/api/v1/namespaces/ns/services", false},
		{"PATCH", "/api/v1/namespaces/ns/services/web", false},
		{"PUT", "/api/v1/namespaces/ns/services/web/status", false},
		{"DELETE", "/api/v1/namespaces/ns/services/web", false},
		{"POST", "/api/v1/namespaces/ns/endpoints", false},
		{"PUT", "/api/v1/namespaces/ns/endpoints/web", false},
		{"DELETE", "/api/v1/namespaces/ns/endpoints/web", false},
		{"GET", "/api/v1/namespaces/ns/replicationcontrollers", false},
		{"GET", "/apis/berth.dev/v1/users", false},
		{"POST", "/apis/berth.dev/v1/tokens", false},
		{"GET", "/apis/berth.dev/v1/whoami", false},
		{"GET", "/apis/berth.dev/v1/hostimages", false},
		{"POST", "/apis/berth.dev/v1/hostimagebuilds", false},
		{"POST", "/api/v1/nodes/n1/upgrade", false},
		{"GET", "/api/v1", true},
	}
	for _, tt := range tests {
		ri := auth.ParseRequestInfo(httptest.NewRequest(tt.method, tt.path, nil))
		t.Run(ri.Verb+" "+tt.path, func(t *testing.T) {
			err := auth.Decide(node, "admin", ri)
			if got := err == nil; got != tt.want {
				t.Errorf("allowed = %v (%v), want %v", got, err, tt.want)
			}
			if err != nil && !errors.Is(err, errdefs.ErrForbidden) {
				t.Errorf("error %v does not wrap ErrForbidden", err)
			}
		})
	}
}
