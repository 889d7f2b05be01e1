package api_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/server"
	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// startWithNode runs a master with a node agent on the fake runtime (berth
// up --node-runtime fake), configured further by configure, and returns it
// with the node's name once the node has registered.
func startWithNode(t *testing.T, configure func(*server.Config)) (*testenv.Env, string) {
	t.Helper()
	env := testenv.Start(t, testenv.Options{Configure: func(cfg *server.Config) {
		cfg.RunNode, cfg.NodeRuntime = true, "fake"
		if configure != nil {
			configure(cfg)
		}
	}})
	name, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	name = strings.ToLower(name)
	waitUntil(t, 30*time.Second, "the fake node registers", func() bool {
		return env.Do(t, http.MethodGet, "/api/v1/nodes/"+name, env.AdminToken, nil).Code == http.StatusOK
	})
	return env, name
}

// runningPod creates a pod bound to node in ns and waits until the agent
// runs it.
func runningPod(t *testing.T, env *testenv.Env, token, ns, name, node string) {
	t.Helper()
	p := pod(name, nil)
	p["spec"].(map[string]any)["nodeName"] = node
	mustCode(t, env.Do(t, http.MethodPost, "/api/v1/namespaces/"+ns+"/pods", token, p), http.StatusCreated)
	waitUntil(t, 30*time.Second, "pod "+name+" runs", func() bool {
		return getPod(t, env, ns, name).Status.Phase == v1.PodRunning
	})
}

// waitUntil polls cond until it holds, failing t after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sinceSeconds=9223372036854775807 reached the node, whose arithmetic
// overflowed into a 500; every typed parameter of the pod subresources is
// checked at the API now, and a bad one is a 400 that names it.
func TestPodSubresourceParameters(t *testing.T) {
	t.Parallel()
	env, node := startWithNode(t, nil)
	createNamespace(t, env, env.AdminToken, "params")
	runningPod(t, env, env.AdminToken, "params", "web", node)
	base := "/api/v1/namespaces/params/pods/web/"
	tests := []struct {
		query string
		code  int
		param string // named in the 400's message
	}{
		{"log?sinceSeconds=9223372036854775807", 400, "sinceSeconds"},
		{"log?sinceSeconds=0", 400, "sinceSeconds"},
		{"log?sinceSeconds=-5", 400, "sinceSeconds"},
		{"log?sinceSeconds=1e3", 400, "sinceSeconds"},
		{"log?sinceSeconds=60&sinceSeconds=x", 400, "sinceSeconds"},
		{"log?tailLines=-1", 400, "tailLines"},
		{"log?tailLines=99999999999999999999", 400, "tailLines"},
		{"log?limitBytes=0", 400, "limitBytes"},
		{"log?limitBytes=abc", 400, "limitBytes"},
		{"log?sinceTime=yesterday", 400, "sinceTime"},
		{"log?sinceTime=2025-01-01T00:00:00Z&sinceSeconds=10", 400, "sinceTime"},
		{"log?follow=maybe", 400, "follow"},
		{"log?timestamps=2", 400, "timestamps"},
		{"log?previous=yes", 400, "previous"},
		{"exec?command=true&stdin=perhaps", 400, "stdin"},
		{"attach?tty=nope", 400, "tty"},
		{"log?sinceSeconds=9223372036&tailLines=9223372036854775807&limitBytes=1&timestamps=true", 200, ""},
		{"log?sinceSeconds=3600&tailLines=0&follow=false", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp := env.Do(t, http.MethodGet, base+tt.query, env.AdminToken, nil)
			if tt.code == http.StatusOK {
				mustCode(t, resp, http.StatusOK)
				return
			}
			status := authnStatus(t, resp, tt.code, metav1.StatusReasonBadRequest)
			if !strings.Contains(status.Message, tt.param) {
				t.Errorf("the 400 does not name %s: %q", tt.param, status.Message)
			}
		})
	}
}
