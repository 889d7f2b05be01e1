package api_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/server"

	"github.com/berthpaas/berth/backend/pki"
	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
)

// nodeAnswer is the master's answer to node-join and node-rotate.
type nodeAnswer struct {
	Token         string    `json:"token"`
	ExpiresAt     time.Time `json:"expiresAt"`
	Certificate   string    `json:"certificate"`
	CACertificate string    `json:"caCertificate"`
	key           []byte
}

// serving is the answer's certificate with its key.
func (a nodeAnswer) serving(t *testing.T) tls.Certificate {
	t.Helper()
	cert, err := tls.X509KeyPair([]byte(a.Certificate), a.key)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func (a nodeAnswer) caPool(t *testing.T) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(a.CACertificate)) {
		t.Fatalf("no CA certificate in %q", a.CACertificate)
	}
	return pool
}

// askCredentials posts to node-join or node-rotate with token, a fresh key
// whose request asks for csrName, and addrs.
func askCredentials(t *testing.T, env *testenv.Env, path, token, node, csrName string, addrs ...string) (testenv.Response, nodeAnswer) {
	t.Helper()
	key, csr, err := pki.NewCSR(csrName)
	if err != nil {
		t.Fatal(err)
	}
	if addrs == nil {
		addrs = []string{"127.0.0.1"}
	}
	body := map[string]any{"csr": string(csr), "addresses": addrs}
	if node != "" {
		body["nodeName"] = node
	}
	resp := env.Do(t, "POST", path, token, body)
	var a nodeAnswer
	if resp.Code == http.StatusOK {
		resp.JSON(t, &a)
		a.key = key
	}
	return resp, a
}

// joinNode joins node with a fresh bootstrap token and returns the answer.
func joinNode(t *testing.T, env *testenv.Env, node string) nodeAnswer {
	t.Helper()
	resp, a := askCredentials(t, env, "/auth/node-join", env.BootstrapToken(t, node), node, pki.NodeCommonName(node))
	mustCode(t, resp, http.StatusOK)
	if a.Token == "" || a.Certificate == "" || a.CACertificate == "" || a.ExpiresAt.IsZero() {
		t.Fatalf("join answer: %s", resp.Body)
	}
	return a
}

// TestNodeJoin performs the joins a node's credential, a used or expired
// bootstrap token, or a bootstrap token for another node would try.
func TestNodeJoin(t *testing.T) {
	env := testenv.Start(t)
	bootstrap := env.BootstrapToken(t, "n1")
	// The request asks to be another node, with other names: the master
	// takes only its key.
	resp, n1 := askCredentials(t, env, "/auth/node-join", bootstrap, "n1", "system:node:victim", "127.0.0.1", "10.0.0.1")
	mustCode(t, resp, http.StatusOK)
	leaf := n1.serving(t).Leaf
	if leaf.Subject.CommonName != "system:node:n1" || !slices.Equal(leaf.Subject.Organization, []string{pki.NodesGroup}) {
		t.Errorf("subject %v", leaf.Subject)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || leaf.IsCA {
		t.Errorf("usages %v, CA %v: want serverAuth only", leaf.ExtKeyUsage, leaf.IsCA)
	}
	if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[1].Equal(net.ParseIP("10.0.0.1")) {
		t.Errorf("addresses %v", leaf.IPAddresses)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: n1.caPool(t), DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("the certificate does not chain to the cluster CA: %v", err)
	}
	if life := time.Until(n1.ExpiresAt); life < 23*time.Hour || life > 25*time.Hour {
		t.Errorf("the credential expires in %v, want about a day", life)
	}
	mustCode(t, env.Do(t, "GET", "/api/v1/nodes", n1.Token, nil), http.StatusOK)

	expired := env.Do(t, "POST", "/apis/berth.dev/v1/tokens", env.AdminToken, map[string]any{
		"metadata": map[string]string{"name": "join-late"}, "spec": map[string]string{"kind": "bootstrap", "nodeName": "n2", "ttl": "1us"},
	})
	mustCode(t, expired, http.StatusCreated)
	var expiredTok struct {
		Status struct{ Secret string } `json:"status"`
	}
	expired.JSON(t, &expiredTok)
	forN3 := env.BootstrapToken(t, "n3")

	tests := []struct {
		name, token, node string
		addrs             []string
		code              int
	}{
		{"a node's credential, for another node", n1.Token, "n2", nil, http.StatusForbidden},
		{"a node's credential, for itself", n1.Token, "n1", nil, http.StatusForbidden},
		{"the used bootstrap token again", bootstrap, "n1", nil, http.StatusUnauthorized},
		{"an expired bootstrap token", expiredTok.Status.Secret, "n2", nil, http.StatusUnauthorized},
		{"another node's bootstrap token", forN3, "n2", nil, http.StatusForbidden},
		{"a cluster admin's session", env.AdminToken, "n2", nil, http.StatusForbidden},
		{"no credential", "", "n2", nil, http.StatusUnauthorized},
		{"an unspecified address", forN3, "n3", []string{"0.0.0.0"}, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := askCredentials(t, env, "/auth/node-join", tt.token, tt.node, "x", tt.addrs...)
			mustCode(t, resp, tt.code)
		})
	}
	// No refused join consumed a token or touched n1's credential.
	mustCode(t, env.Do(t, "GET", "/api/v1/nodes", n1.Token, nil), http.StatusOK)
	joined, _ := askCredentials(t, env, "/auth/node-join", forN3, "n3", "x")
	mustCode(t, joined, http.StatusOK)

	// A node's credential, nor a bootstrap token, makes bootstrap tokens.
	for _, token := range []string{n1.Token, env.BootstrapToken(t, "n4")} {
		mustCode(t, env.Do(t, "POST", "/apis/berth.dev/v1/tokens", token, map[string]any{
			"metadata": map[string]string{"name": "mine"}, "spec": map[string]string{"kind": "bootstrap", "nodeName": "n5"},
		}), http.StatusForbidden)
	}

	// Joining again (a new token) replaces the node's credential.
	again := joinNode(t, env, "n1")
	mustCode(t, env.Do(t, "GET", "/api/v1/nodes", n1.Token, nil), http.StatusUnauthorized)
	mustCode(t, env.Do(t, "GET", "/api/v1/nodes", again.Token, nil), http.StatusOK)
}

func TestNodeJoinRaceWithOneToken(t *testing.T) {
	env := testenv.Start(t)
	bootstrap := env.BootstrapToken(t, "n1")
	var wg sync.WaitGroup
	codes := make(chan int, 6)
	for range cap(codes) {
		wg.Go(func() {
			resp, _ := askCredentials(t, env, "/auth/node-join", bootstrap, "n1", "x")
			codes <- resp.Code
		})
	}
	wg.Wait()
	close(codes)
	ok := 0
	for code := range codes {
		switch code {
		case http.StatusOK:
			ok++
		case http.StatusUnauthorized:
		default:
			t.Errorf("a join answered %d", code)
		}
	}
	if ok != 1 {
		t.Fatalf("%d joins succeeded with one bootstrap token, want 1", ok)
	}
}

func TestNodeRotate(t *testing.T) {
	env := testenv.Start(t)
	n1 := joinNode(t, env, "n1")
	joinNode(t, env, "n2")

	refused := []struct {
		name, token, node string
		code              int
	}{
		{"for another node", n1.Token, "n2", http.StatusForbidden},
		{"with a bootstrap token", env.BootstrapToken(t, "n1"), "", http.StatusForbidden},
		{"with a cluster admin's session", env.AdminToken, "", http.StatusForbidden},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := askCredentials(t, env, "/auth/node-rotate", tt.token, tt.node, "x")
			mustCode(t, resp, tt.code)
		})
	}

	resp, next := askCredentials(t, env, "/auth/node-rotate", n1.Token, "", "system:node:n2")
	mustCode(t, resp, http.StatusOK)
	if cn := next.serving(t).Leaf.Subject.CommonName; cn != "system:node:n1" {
		t.Errorf("rotated certificate for %q", cn)
	}
	if next.Token == n1.Token || next.ExpiresAt.Before(n1.ExpiresAt) {
		t.Errorf("rotation answered %+v after %+v", next.ExpiresAt, n1.ExpiresAt)
	}
	mustCode(t, env.Do(t, "GET", "/api/v1/nodes", n1.Token, nil), http.StatusUnauthorized)
	mustCode(t, env.Do(t, "GET", "/api/v1/nodes", next.Token, nil), http.StatusOK)
	again, _ := askCredentials(t, env, "/auth/node-rotate", n1.Token, "", "x")
	mustCode(t, again, http.StatusUnauthorized)
}

// TestExpiredNodeCredential: an expired credential neither works nor
// rotates; the node needs a new bootstrap token.
func TestExpiredNodeCredential(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Configure: func(c *server.Config) { c.NodeCredentialTTL = 2 * time.Second }})
	n1 := joinNode(t, env, "n1")
	if life := time.Until(n1.ExpiresAt); life > 3*time.Second {
		t.Fatalf("the credential lives %v, want 2s", life)
	}
	deadline := time.Now().Add(30 * time.Second)
	for env.Do(t, "GET", "/api/v1/nodes", n1.Token, nil).Code != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatalf("the credential that expired at %v still works", n1.ExpiresAt)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if time.Now().Before(n1.ExpiresAt) {
		t.Errorf("refused before its expiry %v", n1.ExpiresAt)
	}
	resp, _ := askCredentials(t, env, "/auth/node-rotate", n1.Token, "", "x")
	mustCode(t, resp, http.StatusUnauthorized)
	joinNode(t, env, "n1")
}

// fakeAgent serves as a node's agent does: TLS with cert, answering only
// clients with a certificate of the CA in pool. It records the requests.
type fakeAgent struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []*http.Request // guarded by mu
}

func startFakeAgent(t *testing.T, cert tls.Certificate, pool *x509.CertPool) *fakeAgent {
	t.Helper()
	return startFakeAgentOn(t, "127.0.0.1:0", cert, pool)
}

// startFakeAgentOn starts a fake agent listening on addr.
func startFakeAgentOn(t *testing.T, addr string, cert tls.Certificate, pool *x509.CertPool) *fakeAgent {
	t.Helper()
	return startFakeAgentServing(t, addr, cert, pool, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "line one\rstill one\nline two\n")
	})
}

// startFakeAgentServing starts a fake agent listening on addr that
// answers every request with serve.
func startFakeAgentServing(t *testing.T, addr string, cert tls.Certificate, pool *x509.CertPool, serve http.HandlerFunc) *fakeAgent {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAgent{}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, r)
		f.mu.Unlock()
		serve(w, r)
	}))
	f.srv.Listener.Close()
	f.srv.Listener = ln
	f.srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
		VerifyConnection: pki.RequirePeer(pki.MasterClientName),
	}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAgent) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.seen)
}

// publish writes the Node as its agent would, pointing at f.
func (f *fakeAgent) publish(t *testing.T, env *testenv.Env, nodeToken, name string) {
	t.Helper()
	host, portStr, _ := net.SplitHostPort(f.srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	node := map[string]any{
		"metadata": map[string]any{"name": name},
		"status": map[string]any{
			"addresses":       []any{map[string]string{"type": "InternalIP", "address": host}},
			"daemonEndpoints": map[string]any{"kubeletEndpoint": map[string]int{"Port": port}},
		},
	}
	mustCode(t, env.Do(t, "POST", "/api/v1/nodes", nodeToken, node), http.StatusCreated)
}

func bindPod(t *testing.T, env *testenv.Env, ns, name, node string) {
	t.Helper()
	bound := pod(name, nil)
	bound["spec"].(map[string]any)["nodeName"] = node
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/"+ns+"/pods", env.AdminToken, bound), http.StatusCreated)
}

func TestNodeCredentialsAndPodProxy(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken
	n1 := joinNode(t, env, "n1")
	nodeToken := n1.Token
	agent := startFakeAgent(t, n1.serving(t), n1.caPool(t))
	agent.publish(t, env, nodeToken, "n1")

	createNamespace(t, env, admin, "demo")
	bindPod(t, env, "demo", "web", "n1")
	p := getPod(t, env, "demo", "web")

	resp := env.Do(t, "GET", "/api/v1/namespaces/demo/pods/web/log?follow=true", admin, nil)
	mustCode(t, resp, http.StatusOK)
	if string(resp.Body) != "line one\rstill one\nline two\n" {
		t.Errorf("log body %q", resp.Body)
	}
	seen := agent.requests()
	if len(seen) != 1 {
		t.Fatalf("the agent saw %d requests", len(seen))
	}
	got := seen[0]
	if got.URL.Path != "/pods/"+string(p.UID)+"/log" || got.URL.Query().Get("container") != "web" || got.URL.Query().Get("follow") != "true" {
		t.Errorf("agent saw %s", got.URL)
	}
	if got.Header.Get("Authorization") != "" || got.Header.Get("Cookie") != "" {
		t.Errorf("the caller's credential reached the node: %q %q", got.Header.Get("Authorization"), got.Header.Get("Cookie"))
	}
	if cn := got.TLS.PeerCertificates[0].Subject.CommonName; cn != pki.MasterClientName {
		t.Errorf("the master presented %q", cn)
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

// TestMasterRefusesAnImpostorAgent performs what a node that took another
// node's address would try: answer, with a certificate of its own or of
// another CA, for pods of the node it is not.
func TestMasterRefusesAnImpostorAgent(t *testing.T) {
	// The master waits for the real agent a moment; not ten seconds here.
	env := testenv.Start(t, testenv.Options{Configure: func(cfg *server.Config) { cfg.AgentWait = time.Second }})
	createNamespace(t, env, env.AdminToken, "demo")
	n1 := joinNode(t, env, "n1")
	other, err := pki.NewCA("Berth cluster CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.Issue(pki.NodeServing("n3", []net.IP{net.ParseIP("127.0.0.1")}, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	forgedCert, _ := forged.TLSCertificate()
	tests := []struct {
		name string
		node string
		cert tls.Certificate
	}{
		{"n1's certificate answering for n2", "n2", n1.serving(t)},
		{"another CA's certificate for n3", "n3", forgedCert},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			victim := joinNode(t, env, tt.node)
			impostor := startFakeAgent(t, tt.cert, n1.caPool(t))
			impostor.publish(t, env, victim.Token, tt.node)
			bindPod(t, env, "demo", "pod-of-"+tt.node, tt.node)
			resp := env.Do(t, "GET", "/api/v1/namespaces/demo/pods/pod-of-"+tt.node+"/log", env.AdminToken, nil)
			mustCode(t, resp, http.StatusServiceUnavailable)
			if n := len(impostor.requests()); n != 0 {
				t.Errorf("the impostor received %d requests", n)
			}
		})
	}
}
