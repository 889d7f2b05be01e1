package node_test

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/server"

	"github.com/berthpaas/berth/backend/node"
	"github.com/berthpaas/berth/backend/node/runtime/fake"
	"github.com/berthpaas/berth/backend/pki"
	"github.com/berthpaas/berth/backend/testenv"
)

// saved is what the agent keeps in its state directory.
type saved struct {
	Token         string    `json:"token"`
	ExpiresAt     time.Time `json:"expiresAt"`
	Certificate   string    `json:"certificate"`
	Key           string    `json:"key"`
	CACertificate string    `json:"caCertificate"`
}

func savedCredentials(t *testing.T, stateDir string) saved {
	t.Helper()
	path := filepath.Join(stateDir, "credentials.json")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, %v", fi, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s saved
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// endpointRefusesAllButTheMaster performs what a pod, a node or a stranger
// on the network would try against the agent's endpoint: every client
// without the master's certificate of the cluster CA is refused at TLS,
// before a byte of HTTP.
func endpointRefusesAllButTheMaster(t *testing.T, env *testenv.Env, ag *agent, creds saved) {
	t.Helper()
	clusterCA, err := pki.LoadCA(filepath.Join(env.DataDir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := pki.NewCA("Berth cluster CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ca *pki.CA, tmpl pki.Template) []tls.Certificate {
		pair, err := ca.Issue(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := pair.TLSCertificate()
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{cert}
	}
	nodeCert, err := tls.X509KeyPair([]byte(creds.Certificate), []byte(creds.Key))
	if err != nil {
		t.Fatal(err)
	}
	someClient := pki.MasterClient(time.Hour)
	someClient.CommonName = "system:node:n1"
	tests := []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{"no client certificate", nil, false},
		{"the node's own serving certificate", []tls.Certificate{nodeCert}, false},
		{"the master's name from another CA", issue(otherCA, pki.MasterClient(time.Hour)), false},
		{"a client certificate of the cluster CA naming a node", issue(clusterCA, someClient), false},
		{"the master's client certificate", issue(clusterCA, pki.MasterClient(time.Hour)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
				RootCAs: clusterCA.Pool(), Certificates: tt.certs,
			}}}
			defer hc.CloseIdleConnections()
			resp, err := hc.Get("https://" + ag.addr.String() + "/healthz")
			if !tt.ok {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("answered %s", resp.Status)
				}
				if !strings.Contains(err.Error(), "tls") {
					t.Errorf("refused, but not at TLS: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("healthz: %s", resp.Status)
			}
		})
	}
	// Nothing is served in the clear.
	if resp, err := http.Get("http://" + ag.addr.String() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered")
		}
	}
}

// TestAgentRotatesItsCredential: with credentials that live seconds, the
// agent rotates credential and certificate before each expires, and goes on
// working past the first one's end; the rotated-away credential is revoked.
func TestAgentRotatesItsCredential(t *testing.T) {
	const ttl = 6 * time.Second
	env := testenv.Start(t, testenv.Options{Configure: func(c *server.Config) { c.NodeCredentialTTL = ttl }})
	stateDir := t.TempDir()
	startAgent(t, node.Config{
		Master: env.URL, BootstrapTokenFile: bootstrapToken(t, env, "n1"), Name: "n1",
		StateDir: stateDir, Runtime: fake.New(fake.Options{}),
	})
	first := savedCredentials(t, stateDir)
	if life := time.Until(first.ExpiresAt); life > ttl {
		t.Fatalf("the credential lives %v, want at most %v", life, ttl)
	}
	var second saved
	eventually(t, 2*ttl, "a rotation", func() (bool, string) {
		second = savedCredentials(t, stateDir)
		return second.Token != first.Token, "token unchanged"
	})
	if !time.Now().Before(first.ExpiresAt) {
		t.Errorf("rotated at %v, after the expiry %v", time.Now(), first.ExpiresAt)
	}
	if second.Certificate == first.Certificate || second.Key == first.Key {
		t.Error("the serving certificate and key were not renewed with the credential")
	}
	mustCode(t, env.Do(t, "GET", "/api/v1/nodes/n1", first.Token, nil), http.StatusUnauthorized)

	// Past the first credential's end, the node still heartbeats and the
	// master still reaches it (with its new certificate).
	eventually(t, 3*ttl, "a heartbeat after the first credential expired", func() (bool, string) {
		renewed := leaseRenewed(t, env, "n1")
		return renewed.After(first.ExpiresAt), renewed.String()
	})
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces", env.AdminToken, map[string]any{"metadata": map[string]string{"name": "demo"}}), http.StatusCreated)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", env.AdminToken, boundPod("web", "n1")), http.StatusCreated)
	eventually(t, 10*time.Second, "pod running", func() (bool, string) {
		p, _ := getPod(t, env, "demo", "web")
		return podRunning(p)
	})
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/demo/pods/web/log", env.AdminToken, nil), http.StatusOK)
}

// TestAgentWhoseCredentialExpiredWhileDown: a stopped agent's credential
// ends; started again, it cannot rotate it, its used bootstrap token does
// not join twice, and it says that it needs a new one; with one, it joins.
func TestAgentWhoseCredentialExpiredWhileDown(t *testing.T) {
	const ttl = 3 * time.Second
	env := testenv.Start(t, testenv.Options{Configure: func(c *server.Config) { c.NodeCredentialTTL = ttl }})
	stateDir := t.TempDir()
	cfg := node.Config{
		Master: env.URL, BootstrapTokenFile: bootstrapToken(t, env, "n1"), Name: "n1",
		StateDir: stateDir, Runtime: fake.New(fake.Options{}), Listen: "127.0.0.1:0",
	}
	ag := startAgent(t, cfg)
	ag.stop(t)
	expired := savedCredentials(t, stateDir).ExpiresAt
	eventually(t, 2*ttl, "the saved credential's end", func() (bool, string) {
		return time.Now().After(expired), expired.String()
	})

	err := node.Run(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "berth node token create NAME --node n1") {
		t.Fatalf("Run with an expired credential and a used bootstrap token = %v", err)
	}
	writeBootstrapToken(t, env, "n1", cfg.BootstrapTokenFile)
	startAgent(t, cfg)
	if now := savedCredentials(t, stateDir); !now.ExpiresAt.After(expired) {
		t.Fatalf("no new credential: expires %v", now.ExpiresAt)
	}
}
