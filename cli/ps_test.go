package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/client"
	"github.com/berthpaas/berth/client/clienttest"
)

func seedRunningPods(f *fixture) {
	started := time.Now().Add(-5*time.Minute - 10*time.Second).UTC().Format(time.RFC3339)
	finished := time.Now().Add(-2*time.Minute - 10*time.Second).UTC().Format(time.RFC3339)
	f.srv.Seed(client.Pods, "dev", clienttest.Object{
		"metadata": map[string]any{"name": "web", "labels": map[string]any{"app": "web"}},
		"spec": map[string]any{"nodeName": "node-1", "containers": []any{
			map[string]any{"name": "web", "image": "hello:1"},
			map[string]any{"name": "sidecar", "image": "busybox"},
			map[string]any{"name": "init", "image": "busybox"},
		}},
		"status": map[string]any{"podIP": "10.1.0.5", "containerStatuses": []any{
			map[string]any{"name": "sidecar", "restartCount": 2, "state": map[string]any{"terminated": map[string]any{"exitCode": 1, "finishedAt": finished}}},
			map[string]any{"name": "web", "state": map[string]any{"running": map[string]any{"startedAt": started}}},
		}},
	})
	f.srv.Seed(client.Pods, "dev", clienttest.Object{
		"metadata": map[string]any{"name": "broken"},
		"spec":     map[string]any{"nodeName": "node-2", "containers": []any{map[string]any{"name": "broken", "image": "nope:1"}}},
		"status": map[string]any{"containerStatuses": []any{
			map[string]any{"name": "broken", "state": map[string]any{"waiting": map[string]any{"reason": "ImagePullBackOff"}}},
		}},
	})
	f.srv.Seed(client.Pods, "other", clienttest.Object{
		"metadata": map[string]any{"name": "queued"},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "queued", "image": "x"}}},
	})
}

func TestPs(t *testing.T) {
	f := newFixture(t)
	seedRunningPods(f)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"namespace", []string{"ps"}, "" +
			"POD      CONTAINER   IMAGE     STATUS                       RESTARTS   NODE     IP\n" +
			"broken   broken      nope:1    Waiting (ImagePullBackOff)   0          node-2   <none>\n" +
			"web      web         hello:1   Up 5 minutes                 0          node-1   10.1.0.5\n" +
			"web      sidecar     busybox   Exited (1) 2 minutes ago     2          node-1   10.1.0.5\n" +
			"web      init        busybox   Created                      0          node-1   10.1.0.5\n"},
		{"selector", []string{"ps", "-l", "app=web"}, "" +
			"POD   CONTAINER   IMAGE     STATUS                     RESTARTS   NODE     IP\n" +
			"web   web         hello:1   Up 5 minutes               0          node-1   10.1.0.5\n" +
			"web   sidecar     busybox   Exited (1) 2 minutes ago   2          node-1   10.1.0.5\n" +
			"web   init        busybox   Created                    0          node-1   10.1.0.5\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustRun(t, "", tt.args...); got != tt.want {
				t.Errorf("output =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestPsAllNamespaces(t *testing.T) {
	f := newFixture(t)
	seedRunningPods(f)
	out := mustRun(t, "", "ps", "-A")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "NAMESPACE   POD") {
		t.Fatalf("output =\n%s", out)
	}
	if fields := strings.Fields(lines[5]); strings.Join(fields, " ") != "other queued queued x Pending 0 <none> <none>" {
		t.Errorf("unscheduled pod line = %q", lines[5])
	}
}

func TestPsEmpty(t *testing.T) {
	newFixture(t)
	out, stderr, err := run(t, "", "ps")
	if err != nil || out != "" || !strings.Contains(stderr, "No resources found in dev namespace.") {
		t.Errorf("ps on nothing: out %q, stderr %q, err %v", out, stderr, err)
	}
}
