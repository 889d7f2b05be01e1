package cli_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/berthpaas/berth/cli"
	"github.com/berthpaas/berth/client"
	"github.com/berthpaas/berth/client/clienttest"
)

func TestNodeTokenCreate(t *testing.T) {
	f := newFixture(t)
	stdout, stderr, err := run(t, "", "node", "token", "create", "rack1-join", "--node", "rack1", "--ttl", "24h")
	if err != nil {
		t.Fatal(err)
	}
	if secret := strings.TrimSpace(stdout); !f.srv.TokenValid(secret) || strings.Count(stdout, "\n") != 1 {
		t.Errorf("stdout = %q, want only the secret", stdout)
	}
	if !strings.Contains(stderr, `bootstrap token "rack1-join" for node "rack1" created`) || !strings.Contains(stderr, "--token-file") {
		t.Errorf("stderr = %q", stderr)
	}
	var sent struct {
		Spec struct{ Kind, TTL, NodeName string }
	}
	if err := json.Unmarshal(lastRequest(t, f.srv, http.MethodPost).Body, &sent); err != nil ||
		sent.Spec.Kind != "bootstrap" || sent.Spec.NodeName != "rack1" || sent.Spec.TTL != "24h0m0s" {
		t.Errorf("sent spec = %+v (%v)", sent.Spec, err)
	}

	// A bootstrap token names its node.
	if _, _, err := run(t, "", "node", "token", "create", "anywhere"); err == nil || !strings.Contains(err.Error(), "--node") {
		t.Errorf("a token for no node: %v", err)
	}
}

func TestNodeTokenList(t *testing.T) {
	f := newFixture(t)
	_, stderr, err := run(t, "", "node", "token", "list")
	if err != nil || !strings.Contains(stderr, "No bootstrap tokens found.") {
		t.Errorf("empty list: stderr %q, err %v", stderr, err)
	}
	f.srv.Seed(client.Tokens, "", clienttest.Object{"metadata": map[string]any{"name": "ci"}, "spec": map[string]any{"kind": "api"}})
	f.srv.Seed(client.Tokens, "", clienttest.Object{"metadata": map[string]any{"name": "system:node:rack0"}, "spec": map[string]any{"kind": "node", "nodeName": "rack0"}})
	f.srv.Seed(client.Tokens, "", clienttest.Object{"metadata": map[string]any{"name": "rack1-join"}, "spec": map[string]any{"kind": "bootstrap", "nodeName": "rack1"},
		"status": map[string]any{"expiresAt": "2999-01-01T00:00:00Z"}})
	out := mustRun(t, "", "node", "token", "ls")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME NODE EXPIRES AGE" {
		t.Fatalf("list =\n%s", out)
	}
	if fields := strings.Fields(lines[1]); fields[0] != "rack1-join" || fields[1] != "rack1" || fields[2] != "in" {
		t.Errorf("row = %q", lines[1])
	}
}

// When main passes the node agent's command, the token commands go under
// it instead of a node command of their own.
func TestNodeTokenUnderAgentCommand(t *testing.T) {
	f := newFixture(t)
	agentRan := false
	agent := &cobra.Command{Use: "node", RunE: func(*cobra.Command, []string) error { agentRan = true; return nil }}
	root := cli.NewRootCommand(agent)
	var nodes int
	for _, c := range root.Commands() {
		if c.Name() == "node" {
			nodes++
		}
	}
	if nodes != 1 {
		t.Fatalf("%d node commands, want 1", nodes)
	}
	var out syncBuffer
	root.SetArgs([]string{"node", "token", "create", "rack2", "--node", "rack2"})
	root.SetOut(&out)
	root.SetErr(&out)
	if err := root.ExecuteContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	if agentRan || f.srv.Object(client.Tokens, "", "rack2") == nil {
		t.Errorf("agent ran: %t; output %q", agentRan, out.String())
	}
}
