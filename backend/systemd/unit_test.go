package systemd_test

import (
	"os"
	"slices"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
)

// TestNodeUnit checks the node agent's unit in ostree-compose parses and
// says what the agent relies on.
func TestNodeUnit(t *testing.T) {
	f, err := os.Open("../../ostree-compose/berth-node.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opts, err := unit.DeserializeOptions(f)
	if err != nil {
		t.Fatalf("berth-node.service does not parse: %v", err)
	}
	values := func(section, name string) []string {
		var vs []string
		for _, o := range opts {
			if o.Section == section && o.Name == name {
				vs = append(vs, o.Value)
			}
		}
		return vs
	}
	tests := []struct {
		section, name, want string
	}{
		{"Unit", "After", "docker.service network-online.target"},
		{"Unit", "Requires", "docker.service"},
		{"Service", "Type", "notify"},
		{"Service", "NotifyAccess", "main"},
		{"Service", "ExecStart", "/usr/bin/berth node --master ${BERTH_MASTER} --token-file /etc/berth/node-token --state-dir /var/lib/berth-node $BERTH_NODE_ARGS"},
		{"Unit", "ConditionPathExists", "/etc/berth/node-token"},
		{"Service", "EnvironmentFile", "-/etc/berth/node.env"},
		{"Service", "WatchdogSec", "30s"},
		{"Service", "Restart", "always"},
		{"Service", "RestartSec", "2s"},
		{"Install", "WantedBy", "multi-user.target"},
	}
	for _, tt := range tests {
		t.Run(tt.section+"/"+tt.name, func(t *testing.T) {
			if got := values(tt.section, tt.name); !slices.Contains(got, tt.want) {
				t.Errorf("[%s] %s = %q, want %q", tt.section, tt.name, got, tt.want)
			}
		})
	}
}
