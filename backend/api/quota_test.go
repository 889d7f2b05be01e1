package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
)

func quotaBody(name string, hard map[string]string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "ResourceQuota", "metadata": map[string]any{"name": name},
		"spec": map[string]any{"hard": hard}}
}

func getQuota(t *testing.T, env *testenv.Env, ns, name string) *v1.ResourceQuota {
	t.Helper()
	resp := env.Do(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/resourcequotas/"+name, env.AdminToken, nil)
	mustCode(t, resp, http.StatusOK)
	var q v1.ResourceQuota
	resp.JSON(t, &q)
	return &q
}

// A project's quota: set by cluster admins only (a member who could
// write it could lift it), read by members, enforced on every create
// with Kubernetes' message, exact under a burst of concurrent creates,
// freed when a pod goes.
func TestResourceQuota(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Controllers: true})
	alice := env.CreateUser(t, "alice", false)
	createNamespace(t, env, alice, "shop")
	podsPath := "/api/v1/namespaces/shop/pods"

	// The attack: a project admin lifts, or makes, their own quota.
	mustCode(t, env.Do(t, http.MethodPost, "/api/v1/namespaces/shop/resourcequotas", alice, quotaBody("mine", map[string]string{"pods": "1000"})), http.StatusForbidden)
	mustCode(t, env.Do(t, http.MethodPost, "/api/v1/namespaces/shop/resourcequotas", env.AdminToken, quotaBody("pods", map[string]string{"pods": "2"})), http.StatusCreated)
	for _, req := range []struct{ method, body, ct string }{
		{http.MethodPut, `{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"pods"},"spec":{"hard":{"pods":"1000"}}}`, "application/json"},
		{http.MethodPatch, `{"spec":{"hard":{"pods":"1000"}}}`, "application/merge-patch+json"},
		{http.MethodPatch, `{"status":{"used":{"pods":"0"}}}`, "application/merge-patch+json"},
		{http.MethodDelete, "", ""},
	} {
		path := "/api/v1/namespaces/shop/resourcequotas/pods"
		if strings.Contains(req.body, "status") {
			path += "/status"
		}
		var body any
		if req.body != "" {
			body = req.body
		}
		mustCode(t, env.Do(t, req.method, path, alice, body, req.ct), http.StatusForbidden)
	}
	mustCode(t, env.Do(t, http.MethodGet, "/api/v1/namespaces/shop/resourcequotas/pods", alice, nil), http.StatusOK)

	mustCode(t, env.Do(t, http.MethodPost, podsPath, alice, pod("a", nil)), http.StatusCreated)
	mustCode(t, env.Do(t, http.MethodPost, podsPath, alice, pod("b", nil)), http.StatusCreated)
	// A dry run is checked, never charged.
	resp := env.Do(t, http.MethodPost, podsPath+"?dryRun=All", alice, pod("c", nil))
	mustCode(t, resp, http.StatusForbidden)
	resp = env.Do(t, http.MethodPost, podsPath, alice, pod("c", nil))
	mustCode(t, resp, http.StatusForbidden)
	if want := `pods \"c\" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2`; !strings.Contains(string(resp.Body), want) {
		t.Fatalf("refusal: %s, want %s", resp.Body, want)
	}
	// A create the store refuses (the name is taken) costs nothing.
	mustCode(t, env.Do(t, http.MethodPost, podsPath, alice, pod("a", nil)), http.StatusForbidden)
	if used := getQuota(t, env, "shop", "pods").Status.Used[v1.ResourcePods]; used.Value() != 2 {
		t.Fatalf("used pods = %s, want 2", used.String())
	}

	// Deleting a pod frees its share.
	mustCode(t, env.Do(t, http.MethodDelete, podsPath+"/a", alice, nil), http.StatusOK)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp = env.Do(t, http.MethodPost, podsPath, alice, pod("c", nil))
		if resp.Code == http.StatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deleted pod's share never came back: %d %s", resp.Code, resp.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	t.Run("a burst never overshoots", func(t *testing.T) {
		createNamespace(t, env, env.AdminToken, "burst")
		mustCode(t, env.Do(t, http.MethodPost, "/api/v1/namespaces/burst/resourcequotas", env.AdminToken, quotaBody("q", map[string]string{"pods": "5", "count/pods": "7"})), http.StatusCreated)
		var wg sync.WaitGroup
		codes := make(chan int, 30)
		for i := range 30 {
			wg.Go(func() {
				codes <- env.Do(t, http.MethodPost, "/api/v1/namespaces/burst/pods", env.AdminToken, pod(fmt.Sprintf("p%d", i), nil)).Code
			})
		}
		wg.Wait()
		close(codes)
		created := 0
		for c := range codes {
			if c == http.StatusCreated {
				created++
			} else if c != http.StatusForbidden {
				t.Errorf("create: %d", c)
			}
		}
		var list v1.PodList
		env.Do(t, http.MethodGet, "/api/v1/namespaces/burst/pods", env.AdminToken, nil).JSON(t, &list)
		used := getQuota(t, env, "burst", "q").Status.Used[v1.ResourcePods]
		if created != 5 || len(list.Items) != 5 || used.Value() != 5 {
			t.Fatalf("30 creates at once against pods=5: %d created, %d stored, used %s", created, len(list.Items), used.String())
		}
	})

	t.Run("compute resources", func(t *testing.T) {
		createNamespace(t, env, env.AdminToken, "compute")
		mustCode(t, env.Do(t, http.MethodPost, "/api/v1/namespaces/compute/resourcequotas", env.AdminToken,
			quotaBody("compute", map[string]string{"requests.cpu": "1", "limits.memory": "1Gi"})), http.StatusCreated)
		resp := env.Do(t, http.MethodPost, "/api/v1/namespaces/compute/pods", env.AdminToken, pod("bare", nil))
		mustCode(t, resp, http.StatusForbidden)
		if want := "failed quota: compute: must specify limits.memory,requests.cpu"; !strings.Contains(string(resp.Body), want) {
			t.Fatalf("a pod without requests: %s, want %s", resp.Body, want)
		}
		// A limit range gives containers their defaults.
		mustCode(t, env.Do(t, http.MethodPost, "/api/v1/namespaces/compute/limitranges", env.AdminToken, map[string]any{
			"apiVersion": "v1", "kind": "LimitRange", "metadata": map[string]any{"name": "defaults"},
			"spec": map[string]any{"limits": []any{map[string]any{"type": "Container",
				"defaultRequest": map[string]string{"cpu": "400m"}, "default": map[string]string{"memory": "256Mi", "cpu": "1"},
				"max": map[string]string{"memory": "2Gi"}}}},
		}), http.StatusCreated)
		resp = env.Do(t, http.MethodPost, "/api/v1/namespaces/compute/pods", env.AdminToken, pod("one", nil))
		mustCode(t, resp, http.StatusCreated)
		var got v1.Pod
		resp.JSON(t, &got)
		if r := got.Spec.Containers[0].Resources; r.Requests.Cpu().String() != "400m" || r.Limits.Memory().String() != "256Mi" {
			t.Fatalf("defaults: %+v", r)
		}
		mustCode(t, env.Do(t, http.MethodPost, "/api/v1/namespaces/compute/pods", env.AdminToken, pod("two", nil)), http.StatusCreated)
		resp = env.Do(t, http.MethodPost, "/api/v1/namespaces/compute/pods", env.AdminToken, pod("three", nil))
		mustCode(t, resp, http.StatusForbidden)
		if want := "exceeded quota: compute, requested: requests.cpu=400m, used: requests.cpu=800m, limited: requests.cpu=1"; !strings.Contains(string(resp.Body), want) {
			t.Fatalf("third pod: %s, want %s", resp.Body, want)
		}
		big := pod("big", nil)
		big["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["resources"] = map[string]any{"limits": map[string]string{"memory": "4Gi"}}
		resp = env.Do(t, http.MethodPost, "/api/v1/namespaces/compute/pods", env.AdminToken, big)
		mustCode(t, resp, http.StatusForbidden)
		if want := "maximum memory usage per Container is 2Gi, but limit is 4Gi"; !strings.Contains(string(resp.Body), want) {
			t.Fatalf("over the limit range: %s", resp.Body)
		}
		mustCode(t, env.Do(t, http.MethodPost, "/api/v1/namespaces/compute/resourcequotas", env.AdminToken,
			quotaBody("bad", map[string]string{"gpus": "1"})), http.StatusUnprocessableEntity)
	})

	t.Run("a controller that hits the quota records FailedCreate", func(t *testing.T) {
		rc := map[string]any{"apiVersion": "v1", "kind": "ReplicationController", "metadata": map[string]any{"name": "web"},
			"spec": map[string]any{"replicas": 3, "selector": map[string]string{"app": "web"},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]string{"app": "web"}},
					"spec": pod("", nil)["spec"]}}}
		mustCode(t, env.Do(t, http.MethodPost, "/api/v1/namespaces/shop/replicationcontrollers", alice, rc), http.StatusCreated)
		deadline := time.Now().Add(20 * time.Second)
		for {
			var events v1.EventList
			env.Do(t, http.MethodGet, "/api/v1/namespaces/shop/events", alice, nil).JSON(t, &events)
			for _, e := range events.Items {
				if e.Reason == "FailedCreate" && strings.Contains(e.Message, "exceeded quota: pods") {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no FailedCreate event naming the quota: %+v", events.Items)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}
