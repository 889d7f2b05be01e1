package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/client"
	"github.com/berthpaas/berth/client/clienttest"
)

func TestDescribePod(t *testing.T) {
	f := newFixture(t)
	seedRunningPods(f)
	ts := func(d time.Duration) string { return time.Now().Add(-d).UTC().Format(time.RFC3339) }
	event := func(name, pod, kind, reason, message string, age time.Duration) clienttest.Object {
		return clienttest.Object{
			"metadata":       map[string]any{"name": name},
			"involvedObject": map[string]any{"kind": kind, "name": pod, "namespace": "dev"},
			"type":           "Normal", "reason": reason, "message": message,
			"source":        map[string]any{"component": "scheduler"},
			"lastTimestamp": ts(age),
		}
	}
	f.srv.Seed(client.Events, "dev", event("e2", "web", "Pod", "Started", "Started container web", 5*time.Minute))
	f.srv.Seed(client.Events, "dev", event("e1", "web", "Pod", "Scheduled", "Successfully assigned dev/web to node-1", 6*time.Minute))
	f.srv.Seed(client.Events, "dev", event("e3", "broken", "Pod", "Failed", "about another pod", time.Minute))
	f.srv.Seed(client.Events, "dev", event("e4", "web", "ReplicationController", "Created", "about an RC named like the pod", time.Minute))

	for _, args := range [][]string{{"describe", "pod", "web"}, {"describe", "po/web"}} {
		out := mustRun(t, "", args...)
		for _, want := range []string{
			"Name:", "web\n", "Namespace:", "dev\n", "node-1", "10.1.0.5", "app=web",
			"Containers:\n  web:\n", "Image:", "hello:1", "State:", "Running",
			"  sidecar:\n", "Terminated", "Exit Code:", "Restart Count:", "  init:\n", "Not reported yet",
			"Events:\n", "Type", "Reason", "From", "Message",
			"Successfully assigned dev/web to node-1", "Started container web", "scheduler",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("berth %s lacks %q:\n%s", strings.Join(args, " "), want, out)
			}
		}
		if strings.Contains(out, "about another pod") || strings.Contains(out, "about an RC") {
			t.Errorf("events of other objects shown:\n%s", out)
		}
		if strings.Index(out, "Scheduled") > strings.Index(out, "Started container") {
			t.Errorf("events not oldest first:\n%s", out)
		}
	}
	var query string
	for _, r := range f.srv.Requests() {
		if strings.HasSuffix(r.Path, "/events") {
			query = r.Query
		}
	}
	if !strings.Contains(query, "fieldSelector=involvedObject.name%3Dweb%2CinvolvedObject.kind%3DPod") {
		t.Errorf("events query = %q", query)
	}
}

func TestDescribeErrors(t *testing.T) {
	newFixture(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"describe", "pod", "missing"}, `"missing" not found`},
		{[]string{"describe", "rc", "web"}, "pods, services and quotas"},
		{[]string{"describe", "svc", "web"}, `"web" not found`},
		{[]string{"describe", "pod"}, "a name is required"},
	} {
		if _, _, err := run(t, "", tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("berth %s: error %v, want %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
}
