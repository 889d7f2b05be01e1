package auth_test

import (
	"net/http/httptest"
	"testing"

	"github.com/berthpaas/berth/backend/auth"
)

func TestParseRequestInfo(t *testing.T) {
	tests := []struct {
		name         string
		method, path string
		want         auth.RequestInfo
	}{
		{"pod status", "GET", "/api/v1/namespaces/ns/pods/web/status",
			auth.RequestInfo{IsResourceRequest: true, Verb: "get", APIVersion: "v1", Namespace: "ns", Resource: "pods", Subresource: "status", Name: "web"}},
		{"pod status update", "PUT", "/api/v1/namespaces/ns/pods/web/status",
			auth.RequestInfo{IsResourceRequest: true, Verb: "update", APIVersion: "v1", Namespace: "ns", Resource: "pods", Subresource: "status", Name: "web"}},
		{"namespace", "GET", "/api/v1/namespaces/ns",
			auth.RequestInfo{IsResourceRequest: true, Verb: "get", APIVersion: "v1", Namespace: "ns", Resource: "namespaces", Name: "ns"}},
		{"namespace status", "PUT", "/api/v1/namespaces/ns/status",
			auth.RequestInfo{IsResourceRequest: true, Verb: "update", APIVersion: "v1", Namespace: "ns", Resource: "namespaces", Subresource: "status", Name: "ns"}},
		{"namespace finalize", "PUT", "/api/v1/namespaces/ns/finalize",
			auth.RequestInfo{IsResourceRequest: true, Verb: "update", APIVersion: "v1", Namespace: "ns", Resource: "namespaces", Subresource: "finalize", Name: "ns"}},
		{"namespace called status", "GET", "/api/v1/namespaces/status",
			auth.RequestInfo{IsResourceRequest: true, Verb: "get", APIVersion: "v1", Namespace: "status", Resource: "namespaces", Name: "status"}},
		{"namespace list", "GET", "/api/v1/namespaces",
			auth.RequestInfo{IsResourceRequest: true, Verb: "list", APIVersion: "v1", Resource: "namespaces"}},
		{"namespace create", "POST", "/api/v1/namespaces",
			auth.RequestInfo{IsResourceRequest: true, Verb: "create", APIVersion: "v1", Resource: "namespaces"}},
		{"namespace delete", "DELETE", "/api/v1/namespaces/ns",
			auth.RequestInfo{IsResourceRequest: true, Verb: "delete", APIVersion: "v1", Namespace: "ns", Resource: "namespaces", Name: "ns"}},
		{"all-namespace pod list", "GET", "/api/v1/pods",
			auth.RequestInfo{IsResourceRequest: true, Verb: "list", APIVersion: "v1", Resource: "pods"}},
		{"namespaced pod list", "GET", "/api/v1/namespaces/ns/pods",
			auth.RequestInfo{IsResourceRequest: true, Verb: "list", APIVersion: "v1", Namespace: "ns", Resource: "pods"}},
		{"services in a namespace named services", "GET", "/api/v1/namespaces/services/services",
			auth.RequestInfo{IsResourceRequest: true, Verb: "list", APIVersion: "v1", Namespace: "services", Resource: "services"}},
		{"pod log", "GET", "/api/v1/namespaces/ns/pods/web/log",
			auth.RequestInfo{IsResourceRequest: true, Verb: "get", APIVersion: "v1", Namespace: "ns", Resource: "pods", Subresource: "log", Name: "web"}},
		{"nested subresource", "POST", "/api/v1/namespaces/ns/pods/web/proxy/a/b",
			auth.RequestInfo{IsResourceRequest: true, Verb: "create", APIVersion: "v1", Namespace: "ns", Resource: "pods", Subresource: "proxy/a/b", Name: "web"}},
		{"node", "GET", "/api/v1/nodes/n1",
			auth.RequestInfo{IsResourceRequest: true, Verb: "get", APIVersion: "v1", Resource: "nodes", Name: "n1"}},
		{"member", "GET", "/apis/berth.dev/v1/namespaces/ns/members/bob",
			auth.RequestInfo{IsResourceRequest: true, Verb: "get", APIGroup: "berth.dev", APIVersion: "v1", Namespace: "ns", Resource: "members", Name: "bob"}},
		{"member create", "POST", "/apis/berth.dev/v1/namespaces/ns/members",
			auth.RequestInfo{IsResourceRequest: true, Verb: "create", APIGroup: "berth.dev", APIVersion: "v1", Namespace: "ns", Resource: "members"}},
		{"project", "DELETE", "/apis/berth.dev/v1/projects/p",
			auth.RequestInfo{IsResourceRequest: true, Verb: "delete", APIGroup: "berth.dev", APIVersion: "v1", Resource: "projects", Name: "p"}},
		{"user", "GET", "/apis/berth.dev/v1/users/alice",
			auth.RequestInfo{IsResourceRequest: true, Verb: "get", APIGroup: "berth.dev", APIVersion: "v1", Resource: "users", Name: "alice"}},
		{"watch=1", "GET", "/api/v1/namespaces/ns/pods?watch=1",
			auth.RequestInfo{IsResourceRequest: true, Verb: "watch", APIVersion: "v1", Namespace: "ns", Resource: "pods"}},
		{"watch=true on a name", "GET", "/api/v1/namespaces/ns/pods/web?watch=true",
			auth.RequestInfo{IsResourceRequest: true, Verb: "watch", APIVersion: "v1", Namespace: "ns", Resource: "pods", Name: "web"}},
		{"watch=0 is a list", "GET", "/api/v1/namespaces/ns/pods?watch=0",
			auth.RequestInfo{IsResourceRequest: true, Verb: "list", APIVersion: "v1", Namespace: "ns", Resource: "pods"}},
		{"HEAD reads", "HEAD", "/api/v1/namespaces/ns/pods/web",
			auth.RequestInfo{IsResourceRequest: true, Verb: "get", APIVersion: "v1", Namespace: "ns", Resource: "pods", Name: "web"}},
		{"patch", "PATCH", "/api/v1/namespaces/ns/services/s",
			auth.RequestInfo{IsResourceRequest: true, Verb: "patch", APIVersion: "v1", Namespace: "ns", Resource: "services", Name: "s"}},
		{"delete", "DELETE", "/api/v1/namespaces/ns/pods/web",
			auth.RequestInfo{IsResourceRequest: true, Verb: "delete", APIVersion: "v1", Namespace: "ns", Resource: "pods", Name: "web"}},
		{"delete without a name", "DELETE", "/api/v1/namespaces/ns/pods",
			auth.RequestInfo{IsResourceRequest: true, Verb: "deletecollection", APIVersion: "v1", Namespace: "ns", Resource: "pods"}},
		{"other method", "OPTIONS", "/api/v1/namespaces/ns/pods",
			auth.RequestInfo{IsResourceRequest: true, Verb: "options", APIVersion: "v1", Namespace: "ns", Resource: "pods"}},
		{"trailing slash", "GET", "/api/v1/namespaces/ns/pods/",
			auth.RequestInfo{IsResourceRequest: true, Verb: "list", APIVersion: "v1", Namespace: "ns", Resource: "pods"}},
		{"core discovery", "GET", "/api/v1", auth.RequestInfo{Verb: "get", APIVersion: "v1"}},
		{"api versions", "GET", "/api", auth.RequestInfo{Verb: "get"}},
		{"group discovery", "GET", "/apis/berth.dev/v1", auth.RequestInfo{Verb: "get", APIGroup: "berth.dev", APIVersion: "v1"}},
		{"groups", "GET", "/apis", auth.RequestInfo{Verb: "get"}},
		{"group without version", "GET", "/apis/berth.dev", auth.RequestInfo{Verb: "get"}},
		{"non-API path", "POST", "/auth/login", auth.RequestInfo{Verb: "post"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, nil)
			got := auth.ParseRequestInfo(r)
			tt.want.Path = r.URL.Path
			if got != tt.want {
				t.Errorf("ParseRequestInfo(%s %s)\n got %+v\nwant %+v", tt.method, tt.path, got, tt.want)
			}
		})
	}
}

func TestProject(t *testing.T) {
	tests := []struct {
		name string
		ri   auth.RequestInfo
		want string
	}{
		{"namespace", auth.RequestInfo{Resource: "namespaces", Namespace: "ns", Name: "ns"}, "ns"},
		{"namespace list", auth.RequestInfo{Resource: "namespaces"}, ""},
		{"project", auth.RequestInfo{APIGroup: "berth.dev", Resource: "projects", Name: "p"}, "p"},
		{"pod", auth.RequestInfo{Resource: "pods", Namespace: "ns", Name: "web"}, "ns"},
		{"member", auth.RequestInfo{APIGroup: "berth.dev", Resource: "members", Namespace: "ns", Name: "bob"}, "ns"},
		{"all-namespace list", auth.RequestInfo{Resource: "pods"}, ""},
		{"core resource called projects", auth.RequestInfo{Resource: "projects", Namespace: "ns", Name: "p"}, "ns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ri.Project(); got != tt.want {
				t.Errorf("Project() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIsReadOnly(t *testing.T) {
	for verb, want := range map[string]bool{
		"get": true, "list": true, "watch": true,
		"create": false, "update": false, "patch": false, "delete": false, "deletecollection": false, "": false,
	} {
		if got := auth.IsReadOnly(verb); got != want {
			t.Errorf("IsReadOnly(%q) = %v, want %v", verb, got, want)
		}
	}
}
