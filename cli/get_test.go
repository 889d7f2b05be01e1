package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/berthpaas/berth/cli"
	"github.com/berthpaas/berth/client"
	"github.com/berthpaas/berth/client/clienttest"
)

func seedPods(f *fixture) {
	f.srv.Seed(client.Pods, "dev", clienttest.Object{"metadata": map[string]any{"name": "web", "labels": map[string]any{"app": "web"}}})
	f.srv.Seed(client.Pods, "dev", clienttest.Object{"metadata": map[string]any{"name": "db-primary", "labels": map[string]any{"app": "db"}}})
	f.srv.Seed(client.Pods, "other", clienttest.Object{"metadata": map[string]any{"name": "cache"}})
}

func TestGetTable(t *testing.T) {
	f := newFixture(t)
	seedPods(f)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"default", []string{"get", "pods"}, "" +
			"NAME         AGE\n" +
			"db-primary   5m\n" +
			"web          5m\n"},
		{"wide shows priority columns", []string{"get", "po", "-o", "wide"}, "" +
			"NAME         AGE   LABELS\n" +
			"db-primary   5m    app=db\n" +
			"web          5m    app=web\n"},
		{"one by name", []string{"get", "pod", "web"}, "" +
			"NAME   AGE\n" +
			"web    5m\n"},
		{"kind/name", []string{"get", "pod/web"}, "" +
			"NAME   AGE\n" +
			"web    5m\n"},
		{"namespace flag", []string{"get", "pods", "-n", "other"}, "" +
			"NAME    AGE\n" +
			"cache   5m\n"},
		{"all namespaces", []string{"get", "pods", "-A"}, "" +
			"NAMESPACE   NAME         AGE\n" +
			"dev         db-primary   5m\n" +
			"dev         web          5m\n" +
			"other       cache        5m\n"},
		{"label selector", []string{"get", "pods", "-l", "app=web"}, "" +
			"NAME   AGE\n" +
			"web    5m\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustRun(t, "", tt.args...); got != tt.want {
				t.Errorf("output =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestGetNotFound(t *testing.T) {
	newFixture(t)
	_, stderr, err := run(t, "", "get", "pods")
	if err != nil || !strings.Contains(stderr, "No resources found in dev namespace.") {
		t.Errorf("empty list: err %v, stderr %q", err, stderr)
	}
	_, _, err = run(t, "", "get", "pod", "missing")
	if !apierrors.IsNotFound(err) || err.Error() != `pods "missing" not found` {
		t.Errorf("missing pod: err %v", err)
	}
	_, _, err = run(t, "", "get", "deployments")
	if err == nil || !strings.Contains(err.Error(), `unknown resource type "deployments"`) {
		t.Errorf("unknown kind: err %v", err)
	}
	_, _, err = run(t, "", "get", "pods", "-o", "xml")
	if err == nil || !strings.Contains(err.Error(), `unknown output format "xml"`) {
		t.Errorf("unknown format: err %v", err)
	}
}

func TestGetOutputFormats(t *testing.T) {
	f := newFixture(t)
	seedPods(f)

	out := mustRun(t, "", "get", "pods", "-o", "name")
	if out != "pod/db-primary\npod/web\n" {
		t.Errorf("-o name = %q", out)
	}
	if out := mustRun(t, "", "get", "pod", "web", "-o", "name"); out != "pod/web\n" {
		t.Errorf("-o name of one = %q", out)
	}

	out = mustRun(t, "", "get", "pod", "web", "-o", "json")
	var pod struct {
		Kind     string
		Metadata struct{ Name, Namespace string }
	}
	if err := json.Unmarshal([]byte(out), &pod); err != nil || pod.Kind != "Pod" || pod.Metadata.Name != "web" || pod.Metadata.Namespace != "dev" {
		t.Errorf("-o json = %s (%v)", out, err)
	}

	out = mustRun(t, "", "get", "pods", "-o", "json")
	var list struct {
		Kind  string
		Items []any
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || list.Kind != "PodList" || len(list.Items) != 2 {
		t.Errorf("-o json list = %s (%v)", out, err)
	}

	out = mustRun(t, "", "get", "pod", "web", "-o", "yaml")
	for _, want := range []string{"kind: Pod\n", "  name: web\n", "  namespace: dev\n", "    app: web\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("-o yaml lacks %q:\n%s", want, out)
		}
	}
}

func TestGetWatch(t *testing.T) {
	f := newFixture(t)
	seedPods(f)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	var out syncBuffer
	root := cli.NewRootCommand()
	root.SetArgs([]string{"get", "pods", "-w"})
	root.SetOut(&out)
	root.SetErr(&out)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	waitFor(t, &out, "web")
	f.srv.Seed(client.Pods, "dev", clienttest.Object{"metadata": map[string]any{"name": "late"}})
	waitFor(t, &out, "late")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("get -w: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[3], "late") {
		t.Errorf("output = %q, want one header and three rows", lines)
	}
	var watchQuery string
	for _, r := range f.srv.Requests() {
		if strings.Contains(r.Query, "watch=1") {
			watchQuery = r.Query
		}
	}
	if !strings.Contains(watchQuery, "resourceVersion=3") {
		t.Errorf("watch query = %q, want it to start at the list's resourceVersion", watchQuery)
	}
}

func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never showed %q:\n%s", want, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
