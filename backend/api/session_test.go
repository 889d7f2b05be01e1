package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/testenv"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	v1 "k8s.io/api/core/v1"
)

// sessionCookies signs in like the console and returns its cookies.
func sessionCookies(t *testing.T, env *testenv.Env) (session, csrf *http.Cookie) {
	t.Helper()
	resp, err := http.Post(env.URL+"/auth/login", "application/json",
		strings.NewReader(`{"username":"admin","password":"`+env.AdminPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		switch c.Name {
		case "berth_session":
			session = c
		case "berth_csrf":
			csrf = c
			if c.HttpOnly {
				t.Error("the CSRF cookie must be readable by the console's script")
			}
		}
	}
	if session == nil || csrf == nil {
		t.Fatalf("login set cookies %v", resp.Cookies())
	}
	return session, csrf
}

func TestSessionCSRFAndWebsocketOrigin(t *testing.T) {
	env := testenv.Start(t)
	session, csrf := sessionCookies(t, env)
	send := func(method, path, body string, header map[string]string) int {
		req, _ := http.NewRequest(method, env.URL+path, strings.NewReader(body))
		req.AddCookie(session)
		req.AddCookie(csrf)
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ns := `{"metadata":{"name":"%s"}}`
	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		code                     int
	}{
		{"read needs no token", "GET", "/api/v1/namespaces", "", nil, 200},
		{"change without token", "POST", "/api/v1/namespaces", strings.Replace(ns, "%s", "a", 1), nil, 403},
		{"change with a wrong token", "POST", "/api/v1/namespaces", strings.Replace(ns, "%s", "b", 1), map[string]string{"X-CSRF-Token": "nope"}, 403},
		{"change with the token", "POST", "/api/v1/namespaces", strings.Replace(ns, "%s", "c", 1), map[string]string{"X-CSRF-Token": csrf.Value}, 201},
		{"websocket from another site", "GET", "/api/v1/namespaces/c/pods/x/exec?command=sh", "", map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Origin": "https://evil.example"}, 403},
		{"websocket from this site reaches the handler", "GET", "/api/v1/namespaces/c/pods/x/exec?command=sh", "", map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Origin": env.URL}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := send(tt.method, tt.path, tt.body, tt.header); got != tt.code {
				t.Fatalf("got %d, want %d", got, tt.code)
			}
		})
	}
	// Bearer tokens need no CSRF token: no browser sends them on its own.
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces", env.AdminToken, map[string]any{"metadata": map[string]string{"name": "d"}}), 201)
}

func TestScaleSubresourceAndAudit(t *testing.T) {
	env := testenv.Start(t)
	tok := env.AdminToken
	createNamespace(t, env, tok, "demo")
	rc := `{"metadata":{"name":"web"},"spec":{"replicas":1,"selector":{"run":"web"},"template":{"metadata":{"labels":{"run":"web"}},"spec":{"containers":[{"name":"web","image":"i"}]}}}}`
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/replicationcontrollers", tok, rc), 201)

	var scale autoscalingv1.Scale
	resp := env.Do(t, "GET", "/api/v1/namespaces/demo/replicationcontrollers/web/scale", tok, nil)
	mustCode(t, resp, 200)
	resp.JSON(t, &scale)
	if scale.Kind != "Scale" || scale.Spec.Replicas != 1 || scale.Status.Selector != "run=web" {
		t.Fatalf("scale: %+v", scale)
	}
	mustCode(t, env.Do(t, "PATCH", "/api/v1/namespaces/demo/replicationcontrollers/web/scale", tok, `{"spec":{"replicas":3}}`, "application/merge-patch+json"), 200)
	scale.Spec.Replicas = 5
	mustCode(t, env.Do(t, "PUT", "/api/v1/namespaces/demo/replicationcontrollers/web/scale", tok, scale), 409) // stale version
	var current v1.ReplicationController
	env.Do(t, "GET", "/api/v1/namespaces/demo/replicationcontrollers/web", tok, nil).JSON(t, &current)
	if *current.Spec.Replicas != 3 {
		t.Fatalf("replicas = %d after the patch, want 3", *current.Spec.Replicas)
	}

	viewer := env.CreateUser(t, "vera", false)
	mustCode(t, env.Do(t, "GET", "/apis/berth.dev/v1/auditentries", viewer, nil), 403)
	var audit struct {
		Kind  string `json:"kind"`
		Items []struct {
			User, Verb, Resource, Namespace, Name string
			Code                                  int
		} `json:"items"`
	}
	// The audit writer is asynchronous: poll.
	waitFor(t, 5*time.Second, "the audit entries", func() bool {
		env.Do(t, "GET", "/apis/berth.dev/v1/auditentries?namespace=demo&resource=replicationcontrollers/scale", tok, nil).JSON(t, &audit)
		return len(audit.Items) >= 2
	})
	if audit.Kind != "AuditEntryList" || len(audit.Items) < 2 || audit.Items[0].Code != 409 || audit.Items[1].Code != 200 || audit.Items[0].User != "admin" {
		t.Fatalf("audit: %+v", audit)
	}
}

func TestCACertificateIsServed(t *testing.T) {
	env := testenv.Start(t)
	resp := env.Do(t, "GET", "/ca.crt", "", nil)
	mustCode(t, resp, 200)
	if !strings.HasPrefix(string(resp.Body), "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("/ca.crt: %.60s", resp.Body)
	}
	// It is the CA that signed what the TLS side of the port serves.
	if _, err := env.TLSClient(t).Get(env.HTTPSURL + "/healthz"); err != nil {
		t.Fatalf("TLS with the served CA: %v", err)
	}
}
