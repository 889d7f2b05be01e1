package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/server"
	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type savedCredentials struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func readCredentials(t *testing.T, dataDir string) savedCredentials {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, "node", "credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c savedCredentials
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitReady waits until the node heartbeats after since.
func waitReady(t *testing.T, env *testenv.Env, name string, since time.Time) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp := env.Do(t, http.MethodGet, "/api/v1/nodes/"+name, env.AdminToken, nil)
		if resp.Code == http.StatusOK {
			var n v1.Node
			resp.JSON(t, &n)
			for _, c := range n.Status.Conditions {
				if c.Type == v1.NodeReady && c.Status == v1.ConditionTrue && c.LastHeartbeatTime.After(since) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %q not Ready after %v: %d %s", name, since, resp.Code, resp.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLocalNodeRejoinsAfterItsCredentialExpired: berth up's own agent gets a
// fresh bootstrap token naming its node on every start, so that after a
// downtime longer than its credential's life it joins again by itself.
func TestLocalNodeRejoinsAfterItsCredentialExpired(t *testing.T) {
	const ttl = 3 * time.Second
	dataDir := t.TempDir()
	configure := func(c *server.Config) { c.RunNode, c.NodeRuntime, c.NodeCredentialTTL = true, "fake", ttl }
	env := testenv.Start(t, testenv.Options{DataDir: dataDir, Configure: configure})
	name, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	name = strings.ToLower(name)
	waitReady(t, env, name, time.Time{})
	env.Stop()

	expired := readCredentials(t, dataDir)
	for time.Now().Before(expired.ExpiresAt) {
		time.Sleep(100 * time.Millisecond)
	}
	restarted := time.Now()
	env = testenv.Start(t, testenv.Options{DataDir: dataDir, DatabaseURL: env.DatabaseURL, Configure: configure})
	waitReady(t, env, name, restarted)
	if now := readCredentials(t, dataDir); now.Token == expired.Token || !now.ExpiresAt.After(expired.ExpiresAt) {
		t.Fatalf("the agent runs on the credential that expired at %v", expired.ExpiresAt)
	}
	// The token it joined with is used up.
	resp := env.Do(t, http.MethodGet, "/apis/berth.dev/v1/tokens", env.AdminToken, nil)
	if strings.Contains(string(resp.Body), `"local-node-bootstrap"`) {
		t.Errorf("the local node's bootstrap token is still live after its join: %s", resp.Body)
	}
}
