package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func pod(name string, labels map[string]string) map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "labels": labels},
		"spec": map[string]any{"containers": []any{map[string]any{
			"name": "web", "image": "registry.example/web:1", "ports": []any{map[string]any{"containerPort": 8080}},
		}}},
	}
}

func mustCode(t *testing.T, resp testenv.Response, want int) {
	t.Helper()
	if resp.Code != want {
		t.Fatalf("got %d, want %d: %s", resp.Code, want, resp.Body)
	}
}

func createNamespace(t *testing.T, env *testenv.Env, token, name string) {
	t.Helper()
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces", token, map[string]any{"metadata": map[string]string{"name": name}}), http.StatusCreated)
}

func TestCreateGetListDelete(t *testing.T) {
	env := testenv.Start(t)
	tok := env.AdminToken
	createNamespace(t, env, tok, "demo")

	resp := env.Do(t, "POST", "/api/v1/namespaces/demo/pods", tok, pod("web", map[string]string{"app": "web"}))
	mustCode(t, resp, http.StatusCreated)
	var created v1.Pod
	resp.JSON(t, &created)
	if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() {
		t.Fatalf("server fields not set: %+v", created.ObjectMeta)
	}
	if created.Status.Phase != v1.PodPending {
		t.Errorf("phase = %q, want Pending", created.Status.Phase)
	}

	gen := pod("", nil)
	gen["metadata"] = map[string]any{"generateName": "worker-"}
	resp = env.Do(t, "POST", "/api/v1/namespaces/demo/pods", tok, gen)
	mustCode(t, resp, http.StatusCreated)
	var generated v1.Pod
	resp.JSON(t, &generated)
	if len(generated.Name) != len("worker-")+5 {
		t.Errorf("generated name %q", generated.Name)
	}

	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", tok, pod("web", nil)), http.StatusConflict)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/nowhere/pods", tok, pod("web", nil)), http.StatusNotFound)

	resp = env.Do(t, "GET", "/api/v1/namespaces/demo/pods/web", tok, nil)
	mustCode(t, resp, http.StatusOK)
	var got v1.Pod
	resp.JSON(t, &got)
	if got.Kind != "Pod" || got.APIVersion != "v1" || got.UID != created.UID {
		t.Errorf("get: %+v", got.TypeMeta)
	}

	var list v1.PodList
	resp = env.Do(t, "GET", "/api/v1/namespaces/demo/pods?labelSelector=app%3Dweb", tok, nil)
	mustCode(t, resp, http.StatusOK)
	resp.JSON(t, &list)
	if list.Kind != "PodList" || len(list.Items) != 1 || list.Items[0].Name != "web" {
		t.Fatalf("label selector list: %+v", list)
	}
	resp = env.Do(t, "GET", "/api/v1/namespaces/demo/pods?fieldSelector=metadata.name%3D"+generated.Name, tok, nil)
	resp.JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0].Name != generated.Name {
		t.Fatalf("field selector list: %d items", len(list.Items))
	}
	resp = env.Do(t, "GET", "/api/v1/namespaces/demo/pods?fieldSelector=status.phase%3DPending", tok, nil)
	resp.JSON(t, &list)
	if len(list.Items) != 2 {
		t.Fatalf("status.phase selector: %d items", len(list.Items))
	}
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/demo/pods?labelSelector=%3D%3D%3D", tok, nil), http.StatusBadRequest)

	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/demo/pods/web", tok, nil), http.StatusOK)
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/demo/pods/web", tok, nil), http.StatusNotFound)
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/demo/pods/web", tok, nil), http.StatusNotFound)

	// Deleting the namespace takes its objects with it.
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/demo", tok, nil), http.StatusOK)
	createNamespace(t, env, tok, "demo")
	resp = env.Do(t, "GET", "/api/v1/namespaces/demo/pods", tok, nil)
	resp.JSON(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("a recreated namespace holds %d old pods", len(list.Items))
	}
}

func TestPaging(t *testing.T) {
	env := testenv.Start(t)
	tok := env.AdminToken
	createNamespace(t, env, tok, "many")
	for i := range 25 {
		mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/many/pods", tok, pod(fmt.Sprintf("p%02d", i), map[string]string{"even": fmt.Sprint(i%2 == 0)})), http.StatusCreated)
	}
	seen := map[string]bool{}
	cont, pages := "", 0
	for {
		resp := env.Do(t, "GET", "/api/v1/namespaces/many/pods?limit=10&labelSelector=even%3Dtrue&continue="+cont, tok, nil)
		mustCode(t, resp, http.StatusOK)
		var list v1.PodList
		resp.JSON(t, &list)
		pages++
		for _, p := range list.Items {
			if seen[p.Name] {
				t.Fatalf("%s seen twice", p.Name)
			}
			seen[p.Name] = true
		}
		// A write between pages must not show: the list is pinned to a revision.
		env.Do(t, "POST", "/api/v1/namespaces/many/pods", tok, pod(fmt.Sprintf("late%d", pages), map[string]string{"even": "true"}))
		if cont = list.Continue; cont == "" {
			break
		}
	}
	if len(seen) != 13 || pages != 2 {
		t.Fatalf("saw %d pods in %d pages, want 13 in 2", len(seen), pages)
	}
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/many/pods?limit=10&continue=garbage", tok, nil), http.StatusBadRequest)
}

func TestUpdateConflict(t *testing.T) {
	env := testenv.Start(t)
	tok := env.AdminToken
	createNamespace(t, env, tok, "demo")
	resp := env.Do(t, "POST", "/api/v1/namespaces/demo/pods", tok, pod("web", nil))
	mustCode(t, resp, http.StatusCreated)
	var original v1.Pod
	resp.JSON(t, &original)

	// Two writers start from the same version; exactly one wins.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := original.DeepCopy()
			p.Labels = map[string]string{"writer": fmt.Sprint(i)}
			codes[i] = env.Do(t, "PUT", "/api/v1/namespaces/demo/pods/web", tok, p).Code
		}()
	}
	wg.Wait()
	if !(codes[0] == 200 && codes[1] == 409 || codes[0] == 409 && codes[1] == 200) {
		t.Fatalf("codes = %v, want one 200 and one 409", codes)
	}
	resp = env.Do(t, "PUT", "/api/v1/namespaces/demo/pods/web", tok, original)
	mustCode(t, resp, http.StatusConflict)
	var status metav1.Status
	resp.JSON(t, &status)
	if status.Reason != metav1.StatusReasonConflict || status.Details == nil || status.Details.Name != "web" {
		t.Errorf("conflict status: %+v", status)
	}

	// Spec is immutable beyond what Kubernetes allows; the name must match the URL.
	fresh := getPod(t, env, "demo", "web")
	fresh.Spec.RestartPolicy = v1.RestartPolicyNever
	mustCode(t, env.Do(t, "PUT", "/api/v1/namespaces/demo/pods/web", tok, fresh), http.StatusUnprocessableEntity)
	fresh = getPod(t, env, "demo", "web")
	fresh.Name = "other"
	mustCode(t, env.Do(t, "PUT", "/api/v1/namespaces/demo/pods/web", tok, fresh), http.StatusBadRequest)
}

func getPod(t *testing.T, env *testenv.Env, ns, name string) *v1.Pod {
	t.Helper()
	resp := env.Do(t, "GET", "/api/v1/namespaces/"+ns+"/pods/"+name, env.AdminToken, nil)
	mustCode(t, resp, http.StatusOK)
	var p v1.Pod
	resp.JSON(t, &p)
	return &p
}

func TestStatusSubresource(t *testing.T) {
	env := testenv.Start(t)
	tok := env.AdminToken
	createNamespace(t, env, tok, "demo")
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", tok, pod("web", nil)), http.StatusCreated)

	// A spec update cannot change status.
	p := getPod(t, env, "demo", "web")
	p.Status.Phase = v1.PodRunning
	p.Labels = map[string]string{"x": "y"}
	mustCode(t, env.Do(t, "PUT", "/api/v1/namespaces/demo/pods/web", tok, p), http.StatusOK)
	p = getPod(t, env, "demo", "web")
	if p.Status.Phase != v1.PodPending || p.Labels["x"] != "y" {
		t.Fatalf("spec update: phase %q labels %v", p.Status.Phase, p.Labels)
	}

	// A status update cannot change the spec.
	p.Status.Phase = v1.PodRunning
	p.Status.PodIP = "10.0.0.7"
	p.Spec.Containers[0].Image = "changed:2"
	mustCode(t, env.Do(t, "PUT", "/api/v1/namespaces/demo/pods/web/status", tok, p), http.StatusOK)
	p = getPod(t, env, "demo", "web")
	if p.Status.Phase != v1.PodRunning || p.Status.PodIP != "10.0.0.7" || p.Spec.Containers[0].Image != "registry.example/web:1" {
		t.Fatalf("status update: phase %q ip %q image %q", p.Status.Phase, p.Status.PodIP, p.Spec.Containers[0].Image)
	}
	mustCode(t, env.Do(t, "PATCH", "/api/v1/namespaces/demo/pods/web/status", tok, `{"status":{"phase":"Succeeded"}}`, "application/merge-patch+json"), http.StatusOK)
	if p = getPod(t, env, "demo", "web"); p.Status.Phase != v1.PodSucceeded {
		t.Fatalf("status patch: %q", p.Status.Phase)
	}
	mustCode(t, env.Do(t, "PUT", "/api/v1/namespaces/demo/events/e/status", tok, map[string]any{}), http.StatusNotFound)
}

func TestPatch(t *testing.T) {
	env := testenv.Start(t)
	tok := env.AdminToken
	createNamespace(t, env, tok, "demo")
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", tok, pod("web", map[string]string{"a": "1", "b": "2"})), http.StatusCreated)

	tests := []struct {
		name, contentType, body string
		code                    int
		check                   func(*v1.Pod) bool
	}{
		{"merge patch sets and removes labels", "application/merge-patch+json", `{"metadata":{"labels":{"a":null,"c":"3"}}}`, 200,
			func(p *v1.Pod) bool { return p.Labels["a"] == "" && p.Labels["b"] == "2" && p.Labels["c"] == "3" }},
		{"strategic merge patch merges containers by name", "application/strategic-merge-patch+json", `{"spec":{"containers":[{"name":"web","image":"registry.example/web:2"}]}}`, 200,
			func(p *v1.Pod) bool {
				return len(p.Spec.Containers) == 1 && p.Spec.Containers[0].Image == "registry.example/web:2" && len(p.Spec.Containers[0].Ports) == 1
			}},
		{"json patch", "application/json-patch+json", `[{"op":"add","path":"/metadata/annotations","value":{"note":"hi"}}]`, 200,
			func(p *v1.Pod) bool { return p.Annotations["note"] == "hi" }},
		{"stale resourceVersion", "application/merge-patch+json", `{"metadata":{"resourceVersion":"1","labels":{"z":"1"}}}`, 409, nil},
		{"unknown field", "application/merge-patch+json", `{"spec":{"bogus":1}}`, 400, nil},
		{"invalid result", "application/merge-patch+json", `{"metadata":{"labels":{"bad key!":"x"}}}`, 422, nil},
		{"unsupported type", "text/plain", `{}`, 415, nil},
		{"malformed", "application/merge-patch+json", `{"metadata":`, 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := env.Do(t, "PATCH", "/api/v1/namespaces/demo/pods/web", tok, tt.body, tt.contentType)
			mustCode(t, resp, tt.code)
			if tt.check != nil {
				var p v1.Pod
				resp.JSON(t, &p)
				if !tt.check(&p) {
					out, _ := json.Marshal(p)
					t.Fatalf("unexpected result: %s", out)
				}
			}
		})
	}
	mustCode(t, env.Do(t, "PATCH", "/api/v1/namespaces/demo/pods/nope", tok, `{}`, "application/merge-patch+json"), http.StatusNotFound)
}
