package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/testenv"
)

// TestSubresourceKinds: discovery names each subresource's kind as
// kube-apiserver does; clients (kubectl explain, client-go's discovery
// mapper) take them from there.
func TestSubresourceKinds(t *testing.T) {
	env := testenv.Start(t)
	resp := env.Do(t, http.MethodGet, "/api/v1", env.AdminToken, nil)
	mustCode(t, resp, http.StatusOK)
	var list metav1.APIResourceList
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		t.Fatal(err)
	}
	got := map[string]metav1.APIResource{}
	for _, r := range list.APIResources {
		got[r.Name] = r
	}
	for _, tt := range []struct{ name, group, version, kind string }{
		{name: "pods", kind: "Pod"},
		{name: "pods/log", kind: "Pod"},
		{name: "pods/status", kind: "Pod"},
		{name: "pods/exec", kind: "PodExecOptions"},
		{name: "pods/attach", kind: "PodAttachOptions"},
		{name: "pods/portforward", kind: "PodPortForwardOptions"},
		{name: "replicationcontrollers/scale", group: "autoscaling", version: "v1", kind: "Scale"},
	} {
		r, ok := got[tt.name]
		if !ok {
			t.Errorf("discovery has no %s", tt.name)
			continue
		}
		if r.Group != tt.group || r.Version != tt.version || r.Kind != tt.kind {
			t.Errorf("%s: group %q version %q kind %q, want %q %q %q", tt.name, r.Group, r.Version, r.Kind, tt.group, tt.version, tt.kind)
		}
	}
}
