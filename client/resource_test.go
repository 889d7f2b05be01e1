package client

import (
	"errors"
	"testing"
)

func TestLookupResource(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"pods", "pods"}, {"pod", "pods"}, {"po", "pods"}, {"Pod", "pods"}, {"PODS", "pods"},
		{"svc", "services"}, {"rc", "replicationcontrollers"}, {"replicationcontroller", "replicationcontrollers"},
		{"ns", "namespaces"}, {"ev", "events"}, {"no", "nodes"},
		{"project", "projects"}, {"projects.berth.dev", "projects"}, {"users", "users"},
		{"token", "tokens"}, {"member", "members"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := LookupResource(tt.in)
			if err != nil || r.Resource != tt.want {
				t.Errorf("LookupResource(%q) = %q, %v; want %q", tt.in, r.Resource, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"deployments", "pods.berth.dev", ""} {
		if _, err := LookupResource(bad); !errors.Is(err, ErrUnknownResource) {
			t.Errorf("LookupResource(%q) error = %v, want ErrUnknownResource", bad, err)
		}
	}
}

func TestLookupKind(t *testing.T) {
	if r, err := LookupKind("berth.dev/v1", "Project"); err != nil || r.Resource != "projects" {
		t.Errorf("LookupKind(Project) = %v, %v", r, err)
	}
	if _, err := LookupKind("apps/v1", "Deployment"); !errors.Is(err, ErrUnknownResource) {
		t.Errorf("LookupKind(Deployment) error = %v", err)
	}
}

func TestResourcePath(t *testing.T) {
	tests := []struct {
		res      Resource
		ns, name string
		want     string
	}{
		{Pods, "dev", "", "/api/v1/namespaces/dev/pods"},
		{Pods, "dev", "web", "/api/v1/namespaces/dev/pods/web"},
		{Pods, "", "", "/api/v1/pods"},
		{Nodes, "dev", "n1", "/api/v1/nodes/n1"},
		{Projects, "", "p", "/apis/berth.dev/v1/projects/p"},
		{Members, "p", "alice", "/apis/berth.dev/v1/namespaces/p/members/alice"},
	}
	for _, tt := range tests {
		if got := tt.res.Path(tt.ns, tt.name); got != tt.want {
			t.Errorf("%s.Path(%q, %q) = %q, want %q", tt.res, tt.ns, tt.name, got, tt.want)
		}
	}
}
