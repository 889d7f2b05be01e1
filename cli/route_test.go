package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/client"
	"github.com/berthpaas/berth/client/clienttest"
)

func TestRouteCommands(t *testing.T) {
	f := newFixture(t)
	f.srv.Seed(client.ReplicationControllers, "dev", clienttest.Object{
		"metadata": map[string]any{"name": "web", "labels": map[string]any{"app": "web"}},
		"spec":     map[string]any{"selector": map[string]any{"app": "web"}},
	})
	routeSpec := func(t *testing.T, name string) berthv1.RouteSpec {
		t.Helper()
		data, _ := json.Marshal(f.srv.Object(client.Routes, "dev", name))
		var r berthv1.Route
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		return r.Spec
	}
	out := mustRun(t, "", "expose", "rc", "web", "--port", "80", "--target-port", "8080", "--route", "--hostname", "shop.example.com")
	if !strings.Contains(out, "service/web exposed\n") || !strings.Contains(out, "route/web created") {
		t.Fatalf("expose --route: %q", out)
	}
	if got := routeSpec(t, "web"); got.Host != "shop.example.com" || got.To.Name != "web" || got.TLS != nil {
		t.Fatalf("the route of expose --route: %+v", got)
	}
	mustRun(t, "", "route", "create", "api", "--service", "web", "--path", "/api", "--route-port", "http", "--tls")
	if got := routeSpec(t, "api"); got.Path != "/api" || got.Port == nil || got.Port.TargetPort.StrVal != "http" || got.TLS == nil || got.TLS.SecretName != "" {
		t.Fatalf("route create: %+v", got)
	}
	mustRun(t, "", "route", "delete", "api")
	if f.srv.Object(client.Routes, "dev", "api") != nil {
		t.Fatal("route delete left the route")
	}
	for _, bad := range [][]string{
		{"route", "create", "x"},
		{"expose", "rc", "web", "--port", "80", "--name", "w2", "--hostname", "x.example.com"},
	} {
		if _, _, err := run(t, "", bad...); err == nil {
			t.Errorf("berth %s: no error", strings.Join(bad, " "))
		}
	}
}
