package api_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
)

// joinNode creates a bootstrap token as the admin and joins a node with it.
func joinNode(t *testing.T, env *testenv.Env, name string) (token, proxySecret string) {
	t.Helper()
	resp := env.Do(t, "POST", "/apis/berth.dev/v1/tokens", env.AdminToken, map[string]any{
		"metadata": map[string]string{"name": "bootstrap-" + name}, "spec": map[string]string{"kind": "node"},
	})
	mustCode(t, resp, http.StatusCreated)
	var tok struct {
		Status struct{ Secret string } `json:"status"`
	}
	resp.JSON(t, &tok)
	resp = env.Do(t, "POST", "/auth/node-join", tok.Status.Secret, map[string]string{"nodeName": name})
	mustCode(t, resp, http.StatusOK)
	var joined struct{ Token, ProxySecret string }
	resp.JSON(t, &joined)
	if joined.Token == "" || joined.ProxySecret == "" {
		t.Fatalf("join answer: %s", resp.Body)
	}
	return joined.Token, joined.ProxySecret
}

func TestNodeCredentialsAndPodProxy(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken
	nodeToken, secret := joinNode(t, env, "n1")

	// A user's API token cannot join nodes.
	mustCode(t, env.Do(t, "POST", "/auth/node-join", admin, map[string]string{"nodeName": "n2"}), http.StatusForbidden)

	var seen *http.Request
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		if r.Header.Get("Authorization") != "Bearer "+secret {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "line one\rstill one\nline two\n")
	}))
	defer agent.Close()
	host, portStr, _ := net.SplitHostPort(agent.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)

	node := map[string]any{
		"metadata": map[string]any{"name": "n1"},
		"status": map[string]any{
			"addresses":       []any{map[string]string{"type": "InternalIP", "address": host}},
			"daemonEndpoints": map[string]any{"kubeletEndpoint": map[string]int{"Port": port}},
		},
	}
	mustCode(t, env.Do(t, "POST", "/api/v1/nodes", nodeToken, node), http.StatusCreated)

	createNamespace(t, env, admin, "demo")
	bound := pod("web", nil)
	bound["spec"].(map[string]any)["nodeName"] = "n1"
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", admin, bound), http.StatusCreated)
	p := getPod(t, env, "demo", "web")

	resp := env.Do(t, "GET", "/api/v1/namespaces/demo/pods/web/log?follow=true", admin, nil)
	mustCode(t, resp, http.StatusOK)
	if string(resp.Body) != "line one\rstill one\nline two\n" {
		t.Errorf("log body %q", resp.Body)
	}
	if seen.URL.Path != "/pods/"+string(p.UID)+"/log" || seen.URL.Query().Get("container") != "web" || seen.URL.Query().Get("follow") != "true" {
		t.Errorf("agent saw %s", seen.URL)
	}

	// What a node credential may and may not do.
	tests := []struct {
		method, path string
		body         any
		code         int
	}{
		{"GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1", nil, 200},
		{"PATCH", "/api/v1/namespaces/demo/pods/web/status", `{"status":{"phase":"Running"}}`, 200},
		{"POST", "/api/v1/namespaces/demo/pods", pod("sneaky", nil), 403},
		{"GET", "/apis/berth.dev/v1/projects", nil, 403},
		{"GET", "/api/v1/namespaces/demo/pods/web/log", nil, 403},
		{"DELETE", "/api/v1/nodes/n1", nil, 403},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("node %s %s", tt.method, tt.path), func(t *testing.T) {
			ct := []string{}
			if tt.method == "PATCH" {
				ct = append(ct, "application/merge-patch+json")
			}
			mustCode(t, env.Do(t, tt.method, tt.path, nodeToken, tt.body, ct...), tt.code)
		})
	}

	// Deleting a bound pod marks it; the node's zero-grace delete removes it.
	resp = env.Do(t, "DELETE", "/api/v1/namespaces/demo/pods/web", admin, nil)
	mustCode(t, resp, http.StatusOK)
	var marked v1.Pod
	resp.JSON(t, &marked)
	if marked.DeletionTimestamp == nil || marked.DeletionGracePeriodSeconds == nil || *marked.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("pod not marked for deletion: %+v", marked.ObjectMeta)
	}
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/demo/pods/web", admin, nil), http.StatusOK)
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/demo/pods/web?gracePeriodSeconds=0", nodeToken, nil), http.StatusOK)
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/demo/pods/web", admin, nil), http.StatusNotFound)

	// An unbound pod goes at once.
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", admin, pod("free", nil)), http.StatusCreated)
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/demo/pods/free", admin, nil), http.StatusOK)
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/demo/pods/free", admin, nil), http.StatusNotFound)
}
