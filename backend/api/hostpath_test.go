package api_test

import (
	"net/http"
	"testing"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
)

func hostPathPod(name string) map[string]any {
	p := pod(name, nil)
	spec := p["spec"].(map[string]any)
	spec["volumes"] = []any{map[string]any{"name": "h", "hostPath": map[string]string{"path": "/srv/data"}}}
	return p
}

func TestHostPathOnlyForClusterAdmins(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken
	createNamespace(t, env, admin, "demo")
	editor := env.CreateUser(t, "eddie", false)
	mustCode(t, env.Do(t, "POST", "/apis/berth.dev/v1/namespaces/demo/members", admin,
		map[string]any{"metadata": map[string]string{"name": "eddie"}, "spec": map[string]string{"role": "edit"}}), http.StatusCreated)

	resp := env.Do(t, "POST", "/api/v1/namespaces/demo/pods", editor, hostPathPod("mine"))
	mustCode(t, resp, http.StatusUnprocessableEntity)
	if string(resp.Body) == "" || !containsField(t, resp, "spec.volumes[0].hostPath") {
		t.Fatalf("refusal does not name the volume: %s", resp.Body)
	}

	resp = env.Do(t, "POST", "/api/v1/namespaces/demo/pods", admin, hostPathPod("admins"))
	mustCode(t, resp, http.StatusCreated)
	var created v1.Pod
	resp.JSON(t, &created)
	if !berthv1.HostPathAllowed(&created) {
		t.Fatalf("an admin's hostPath pod is not marked: %v", created.Annotations)
	}

	// A tenant cannot mark a pod itself.
	forged := pod("forged", nil)
	forged["metadata"].(map[string]any)["annotations"] = map[string]string{berthv1.AnnotationHostPathAllowed: "true"}
	resp = env.Do(t, "POST", "/api/v1/namespaces/demo/pods", editor, forged)
	mustCode(t, resp, http.StatusCreated)
	var tenants v1.Pod
	resp.JSON(t, &tenants)
	if berthv1.HostPathAllowed(&tenants) {
		t.Fatal("a tenant's own annotation was kept")
	}
	mustCode(t, env.Do(t, "PATCH", "/api/v1/namespaces/demo/pods/forged", editor,
		`{"metadata":{"annotations":{"`+berthv1.AnnotationHostPathAllowed+`":"true"}}}`, "application/merge-patch+json"), http.StatusOK)
	if berthv1.HostPathAllowed(getPod(t, env, "demo", "forged")) {
		t.Fatal("a tenant's patch set the annotation")
	}
	// Nor through a replication controller's template.
	rc := `{"metadata":{"name":"rc"},"spec":{"replicas":1,"selector":{"a":"b"},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}],"volumes":[{"name":"h","hostPath":{"path":"/"}}]}}}}`
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/replicationcontrollers", editor, rc), http.StatusUnprocessableEntity)
}

func containsField(t *testing.T, resp testenv.Response, field string) bool {
	t.Helper()
	var status struct {
		Details struct {
			Causes []struct{ Field string } `json:"causes"`
		} `json:"details"`
	}
	resp.JSON(t, &status)
	for _, c := range status.Details.Causes {
		if c.Field == field {
			return true
		}
	}
	return false
}
