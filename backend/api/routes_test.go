package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/testenv"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// routeBody is a route of host to service web, port 80.
func routeBody(name, host string) map[string]any {
	spec := map[string]any{"to": map[string]any{"name": "web"}, "port": map[string]any{"targetPort": 80}}
	if host != "" {
		spec["host"] = host
	}
	return map[string]any{"apiVersion": "berth.dev/v1", "kind": "Route", "metadata": map[string]any{"name": name}, "spec": spec}
}

func routesPath(ns string) string { return "/apis/berth.dev/v1/namespaces/" + ns + "/routes" }

func tlsSecretBody(name string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "metadata": map[string]any{"name": name},
		"stringData": map[string]string{"tls.crt": "cert", "tls.key": "key"}}
}

// TestRoutes: a route gets its default host and its URL through the
// router; a host is held by one route of the cluster — another tenant
// asking for it (in any case), or many at once, get a 422 naming
// spec.host with nothing stored, and no project takes another's names
// under the apps domain; a host comes free when its route moves
// to another or goes; what a route names (its service's port, its TLS
// secret) is looked up in its own project only; viewers do not write
// routes and strangers do not read them.
func TestRoutes(t *testing.T) {
	env := testenv.Start(t)
	alice := env.CreateUser(t, "alice", false)
	bob := env.CreateUser(t, "bob", false)
	vic := env.CreateUser(t, "vic", false)
	createNamespace(t, env, alice, "a")
	createNamespace(t, env, bob, "b")
	authzAddMember(t, env, alice, "a", "vic", "view")
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/a/services", alice, service("web")), http.StatusCreated)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/a/secrets", alice, tlsSecretBody("a-cert")), http.StatusCreated)

	t.Run("default host and URL", func(t *testing.T) {
		resp := env.Do(t, "POST", routesPath("a"), alice, routeBody("web", ""))
		mustCode(t, resp, http.StatusCreated)
		var r berthv1.Route
		resp.JSON(t, &r)
		if r.Spec.Host != "web-a."+berthv1.DefaultAppsDomain || r.Spec.Path != "/" || r.Spec.To.Kind != "Service" {
			t.Fatalf("defaults: %+v", r.Spec)
		}
		if !strings.HasPrefix(r.Status.URL, "http://web-a."+berthv1.DefaultAppsDomain+":") || r.APIVersion != "berth.dev/v1" || r.Kind != "Route" {
			t.Fatalf("url %q, %s %s", r.Status.URL, r.APIVersion, r.Kind)
		}
	})

	t.Run("squatting another project's default host", func(t *testing.T) {
		// alice's project a will want api-a.<apps domain>; bob asks first.
		resp := env.Do(t, "POST", routesPath("b"), bob, routeBody("squat", "api-a."+berthv1.DefaultAppsDomain))
		if got := invalidFields(t, resp); !slices.Equal(got, []string{"spec.host"}) {
			t.Fatalf("causes %v, want spec.host: %s", got, resp.Body)
		}
		mustCode(t, env.Do(t, "POST", routesPath("b"), bob, routeBody("own", "api-b."+berthv1.DefaultAppsDomain)), http.StatusCreated)
		// web-z-a ends with -a, but names bob's project z-a: alice may
		// not take it for project a.
		createNamespace(t, env, bob, "z-a")
		resp = env.Do(t, "POST", routesPath("a"), alice, routeBody("squat", "web-z-a."+berthv1.DefaultAppsDomain))
		if got := invalidFields(t, resp); !slices.Equal(got, []string{"spec.host"}) || !strings.Contains(string(resp.Body), `names project \"z-a\"`) {
			t.Fatalf("causes %v, want spec.host naming z-a: %s", got, resp.Body)
		}
		mustCode(t, env.Do(t, "POST", routesPath("z-a"), bob, routeBody("web", "web-z-a."+berthv1.DefaultAppsDomain)), http.StatusCreated)
	})

	t.Run("another tenant claims a taken host", func(t *testing.T) {
		mustCode(t, env.Do(t, "POST", routesPath("a"), alice, routeBody("shop", "shop.example.com")), http.StatusCreated)
		for _, host := range []string{"shop.example.com", "SHOP.Example.com"} {
			resp := env.Do(t, "POST", routesPath("b"), bob, routeBody("steal", host))
			if got := invalidFields(t, resp); !slices.Equal(got, []string{"spec.host"}) {
				t.Fatalf("%s: causes %v, want spec.host: %s", host, got, resp.Body)
			}
			if strings.Contains(string(resp.Body), `"shop"`) || strings.Contains(string(resp.Body), `"a/`) {
				t.Errorf("the refusal names the holder: %s", resp.Body)
			}
			mustCode(t, env.Do(t, "GET", routesPath("b")+"/steal", bob, nil), http.StatusNotFound)
		}
		// Taking it over by an update is refused the same way.
		mustCode(t, env.Do(t, "POST", routesPath("b"), bob, routeBody("mine", "mine.example.com")), http.StatusCreated)
		resp := env.Do(t, "PATCH", routesPath("b")+"/mine", bob, `{"spec":{"host":"shop.example.com"}}`, "application/merge-patch+json")
		if got := invalidFields(t, resp); !slices.Equal(got, []string{"spec.host"}) {
			t.Fatalf("update to a taken host: %v", got)
		}
	})

	t.Run("one of many concurrent claims wins", func(t *testing.T) {
		var wg sync.WaitGroup
		codes := make([]int, 12)
		for i := range codes {
			ns, token := "a", alice
			if i%2 == 1 {
				ns, token = "b", bob
			}
			wg.Go(func() {
				codes[i] = env.Do(t, "POST", routesPath(ns), token, routeBody(fmt.Sprintf("race%d", i), "race.example.com")).Code
			})
		}
		wg.Wait()
		created := 0
		for _, c := range codes {
			switch c {
			case http.StatusCreated:
				created++
			case http.StatusUnprocessableEntity:
			default:
				t.Errorf("code %d", c)
			}
		}
		if created != 1 {
			t.Fatalf("%d creates of one host succeeded (%v), want 1", created, codes)
		}
	})

	t.Run("moving and deleting release the host", func(t *testing.T) {
		resp := env.Do(t, "PATCH", routesPath("a")+"/shop", alice, `{"spec":{"host":"shop2.example.com"}}`, "application/merge-patch+json")
		mustCode(t, resp, http.StatusOK)
		mustCode(t, env.Do(t, "POST", routesPath("b"), bob, routeBody("old", "shop.example.com")), http.StatusCreated)
		if got := invalidFields(t, env.Do(t, "POST", routesPath("b"), bob, routeBody("new", "shop2.example.com"))); !slices.Equal(got, []string{"spec.host"}) {
			t.Fatalf("the moved-to host: %v", got)
		}
		mustCode(t, env.Do(t, "DELETE", routesPath("a")+"/shop", alice, nil), http.StatusOK)
		mustCode(t, env.Do(t, "POST", routesPath("b"), bob, routeBody("new", "shop2.example.com")), http.StatusCreated)
		// A project's deletion frees its routes' hosts.
		createNamespace(t, env, bob, "c")
		mustCode(t, env.Do(t, "POST", routesPath("c"), bob, routeBody("c", "c.example.com")), http.StatusCreated)
		mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/c", bob, nil), http.StatusOK)
		waitFor(t, 10e9, "project c gone", func() bool {
			return env.Do(t, "GET", "/api/v1/namespaces/c", env.AdminToken, nil).Code == http.StatusNotFound
		})
		mustCode(t, env.Do(t, "POST", routesPath("a"), alice, routeBody("c", "c.example.com")), http.StatusCreated)
	})

	t.Run("invalid", func(t *testing.T) {
		tests := []struct {
			name string
			ns   string
			spec string
			want string
		}{
			{"host not DNS-1123", "a", `{"host":"bad_host.example.com","to":{"name":"web"}}`, "spec.host"},
			{"path without slash", "a", `{"host":"p.example.com","path":"api","to":{"name":"web"}}`, "spec.path"},
			{"port out of range", "a", `{"host":"p.example.com","to":{"name":"web"},"port":{"targetPort":70000}}`, "spec.port.targetPort"},
			{"port the service lacks", "a", `{"host":"p.example.com","to":{"name":"web"},"port":{"targetPort":8080}}`, "spec.port.targetPort"},
			{"port name the service lacks", "a", `{"host":"p.example.com","to":{"name":"web"},"port":{"targetPort":"https"}}`, "spec.port.targetPort"},
			// Another project's TLS key: the secret is looked up in the
			// route's own project, where it is not.
			{"TLS key of another project", "b", `{"host":"p.example.com","to":{"name":"web"},"tls":{"secretName":"a-cert"}}`, "spec.tls.secretName"},
			{"cluster CA for a foreign host", "a", `{"host":"p.example.com","to":{"name":"web"},"tls":{}}`, "spec.tls.secretName"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				token := alice
				if tt.ns == "b" {
					token = bob
				}
				body := `{"apiVersion":"berth.dev/v1","kind":"Route","metadata":{"name":"bad"},"spec":` + tt.spec + `}`
				resp := env.Do(t, "POST", routesPath(tt.ns), token, body)
				if got := invalidFields(t, resp); !slices.Equal(got, []string{tt.want}) {
					t.Fatalf("causes %v, want %s: %s", got, tt.want, resp.Body)
				}
				mustCode(t, env.Do(t, "GET", routesPath(tt.ns)+"/bad", token, nil), http.StatusNotFound)
			})
		}
		// A route to a service not made yet is taken, as on OpenShift.
		mustCode(t, env.Do(t, "POST", routesPath("a"), alice, `{"metadata":{"name":"later"},"spec":{"host":"later.example.com","to":{"name":"later"},"port":{"targetPort":80}}}`), http.StatusCreated)
		mustCode(t, env.Do(t, "POST", routesPath("a"), alice, `{"metadata":{"name":"tls"},"spec":{"host":"tls.example.com","to":{"name":"web"},"tls":{"secretName":"a-cert"}}}`), http.StatusCreated)
	})

	t.Run("who may", func(t *testing.T) {
		mustCode(t, env.Do(t, "POST", routesPath("a"), vic, routeBody("v", "v.example.com")), http.StatusForbidden)
		mustCode(t, env.Do(t, "GET", routesPath("a")+"/web", vic, nil), http.StatusOK)
		mustCode(t, env.Do(t, "GET", routesPath("a"), bob, nil), http.StatusForbidden)
		mustCode(t, env.Do(t, "DELETE", routesPath("a")+"/web", bob, nil), http.StatusForbidden)
		mustCode(t, env.Do(t, "GET", "/apis/berth.dev/v1/routes", bob, nil), http.StatusForbidden)
		mustCode(t, env.Do(t, "GET", "/apis/berth.dev/v1/routes", env.AdminToken, nil), http.StatusOK)
	})

	t.Run("table", func(t *testing.T) {
		resp := getAs(t, env, alice, routesPath("a"), tableAccept)
		mustCode(t, resp, http.StatusOK)
		var table metav1.Table
		resp.JSON(t, &table)
		var cols []string
		for _, c := range table.ColumnDefinitions {
			cols = append(cols, c.Name)
		}
		if !slices.Equal(cols, []string{"Name", "Host/Port", "Path", "Services", "Port", "Termination", "Age", "URL"}) {
			t.Fatalf("columns %v", cols)
		}
		found := false
		for _, row := range table.Rows {
			if row.Cells[0] == "tls" && row.Cells[1] == "tls.example.com" && row.Cells[5] == "edge" {
				found = true
			}
		}
		if !found {
			t.Fatalf("no row of route tls: %s", resp.Body)
		}
	})
}
