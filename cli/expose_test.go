package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	corev1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/client"
	"github.com/berthpaas/berth/client/clienttest"
)

func TestExpose(t *testing.T) {
	f := newFixture(t)
	f.srv.Seed(client.ReplicationControllers, "dev", clienttest.Object{
		"metadata": map[string]any{"name": "web", "labels": map[string]any{"app": "web"}},
		"spec": map[string]any{"selector": map[string]any{"app": "web"}, "template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "web", "image": "hello",
				"ports": []any{map[string]any{"containerPort": 8080}, map[string]any{"containerPort": 9090, "protocol": "UDP"}}}}},
		}},
	})
	f.srv.Seed(client.Pods, "dev", clienttest.Object{
		"metadata": map[string]any{"name": "db", "labels": map[string]any{"run": "db", "tier": "back"}},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "db", "image": "pg"}}},
	})
	tests := []struct {
		name string
		args []string
		want corev1.ServiceSpec
		svc  string
	}{
		{"an rc with its container ports", []string{"expose", "rc", "web"}, corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{
				{Name: "port-1", Port: 8080, Protocol: "TCP", TargetPort: intOrString(8080)},
				{Name: "port-2", Port: 9090, Protocol: "UDP", TargetPort: intOrString(9090)},
			},
		}, "web"},
		{"a pod, with a port and a type", []string{"expose", "pod/db", "--port", "5432", "--target-port", "pg", "--name", "database", "--type", "NodePort"}, corev1.ServiceSpec{
			Selector: map[string]string{"run": "db", "tier": "back"},
			Type:     corev1.ServiceTypeNodePort,
			Ports:    []corev1.ServicePort{{Port: 5432, Protocol: "TCP", TargetPort: intOrStringName("pg")}},
		}, "database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := mustRun(t, "", tt.args...)
			if out != "service/"+tt.svc+" exposed\n" {
				t.Errorf("output %q", out)
			}
			data, _ := json.Marshal(f.srv.Object(client.Services, "dev", tt.svc))
			var got corev1.Service
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := json.Marshal(tt.want)
			gotJSON, _ := json.Marshal(got.Spec)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("spec\n%s\nwant\n%s", gotJSON, wantJSON)
			}
		})
	}
	for _, bad := range [][]string{
		{"expose", "pod", "db"},
		{"expose", "svc", "web"},
		{"expose", "rc", "missing", "--port", "80"},
		{"expose", "rc", "web", "--port", "http"},
	} {
		if _, _, err := run(t, "", bad...); err == nil {
			t.Errorf("berth %s: no error", strings.Join(bad, " "))
		}
	}
}

func TestGetSeveralKinds(t *testing.T) {
	f := newFixture(t)
	f.srv.Seed(client.Services, "dev", clienttest.Object{"metadata": map[string]any{"name": "web"}})
	f.srv.Seed(client.Endpoints, "dev", clienttest.Object{"metadata": map[string]any{"name": "web"}})
	want := "" +
		"NAME          AGE\n" +
		"service/web   5m\n" +
		"\n" +
		"NAME            AGE\n" +
		"endpoints/web   5m\n"
	if got := mustRun(t, "", "get", "svc,endpoints"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := mustRun(t, "", "get", "svc,ep", "-o", "name"); got != "service/web\nendpoints/web\n" {
		t.Errorf("-o name: %q", got)
	}
	var list struct {
		Kind  string
		Items []struct{ Kind string }
	}
	if err := json.Unmarshal([]byte(mustRun(t, "", "get", "svc,ep", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "List" || len(list.Items) != 2 || list.Items[0].Kind != "Service" || list.Items[1].Kind != "Endpoints" {
		t.Errorf("-o json: %+v", list)
	}
}

func intOrString(n int32) intstr.IntOrString      { return intstr.FromInt32(n) }
func intOrStringName(s string) intstr.IntOrString { return intstr.FromString(s) }
