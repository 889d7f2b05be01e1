package node_test

import (
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/backend/node"
	"github.com/berthpaas/berth/backend/node/runtime/fake"
	"github.com/berthpaas/berth/backend/testenv"
)

// TestServiceProxyUnsupportedHost: an agent whose host cannot run the
// service proxy (no iptables) says so in its node's
// ServiceProxyUnavailable condition, and stays Ready.
func TestServiceProxyUnsupportedHost(t *testing.T) {
	env := testenv.Start(t)
	t.Setenv("PATH", t.TempDir()) // no iptables
	startAgent(t, node.Config{
		Master: env.URL, BootstrapTokenFile: bootstrapToken(t, env, "no-proxy"), Name: "no-proxy",
		StateDir: t.TempDir(), Runtime: fake.New(fake.Options{}),
		Services: true, ServiceProxy: true, ProxyLockDir: t.TempDir(),
	})
	eventually(t, 30*time.Second, "ServiceProxyUnavailable says why", func() (bool, string) {
		n := getNode(t, env, "no-proxy")
		if n == nil {
			return false, "no node"
		}
		for _, c := range n.Status.Conditions {
			if c.Type == "ServiceProxyUnavailable" {
				return c.Status == v1.ConditionTrue && c.Reason == "HostUnsupported" && strings.Contains(c.Message, "iptables is not installed"), c.Reason + ": " + c.Message
			}
		}
		return false, "no ServiceProxyUnavailable condition"
	})
	if rc := readyCondition(getNode(t, env, "no-proxy")); rc == nil || rc.Status != v1.ConditionTrue {
		t.Fatalf("the node should stay Ready (its runtime works): %+v", rc)
	}
}
