package core

import (
	"testing"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var testRouter = Router{AppsDomain: "apps.example.com", HTTPPort: 8081, HTTPSPort: 8443}

func TestRouteValidate(t *testing.T) {
	s := RouteStrategy{Router: testRouter}
	tests := []struct {
		name   string
		mutate func(*berthv1.Route)
		want   []string
	}{
		{"valid", func(*berthv1.Route) {}, nil},
		{"host not a subdomain", func(r *berthv1.Route) { r.Spec.Host = "shop_1.example.com" }, []string{"spec.host"}},
		{"host without a dot", func(r *berthv1.Route) { r.Spec.Host = "shop" }, []string{"spec.host"}},
		{"host an IP address", func(r *berthv1.Route) { r.Spec.Host = "10.0.0.1" }, []string{"spec.host"}},
		{"host too long", func(r *berthv1.Route) { r.Spec.Host = string(make([]byte, 254)) }, []string{"spec.host"}},
		{"path without slash", func(r *berthv1.Route) { r.Spec.Path = "api" }, []string{"spec.path"}},
		{"path with a query", func(r *berthv1.Route) { r.Spec.Path = "/api?x=1" }, []string{"spec.path"}},
		{"path with dot-dot", func(r *berthv1.Route) { r.Spec.Path = "/api/../admin" }, []string{"spec.path"}},
		{"no service", func(r *berthv1.Route) { r.Spec.To.Name = "" }, []string{"spec.to.name"}},
		{"service name invalid", func(r *berthv1.Route) { r.Spec.To.Name = "Web" }, []string{"spec.to.name"}},
		{"target a pod", func(r *berthv1.Route) { r.Spec.To.Kind = "Pod" }, []string{"spec.to.kind"}},
		{"port number out of range", func(r *berthv1.Route) { r.Spec.Port.TargetPort = intstr.FromInt32(70000) }, []string{"spec.port.targetPort"}},
		{"port name invalid", func(r *berthv1.Route) { r.Spec.Port.TargetPort = intstr.FromString("not_a_name") }, []string{"spec.port.targetPort"}},
		{"port by name", func(r *berthv1.Route) { r.Spec.Port.TargetPort = intstr.FromString("http") }, nil},
		{"no port", func(r *berthv1.Route) { r.Spec.Port = nil }, nil},
		{"tls from a secret", func(r *berthv1.Route) { r.Spec.TLS = &berthv1.RouteTLS{SecretName: "shop-cert"} }, nil},
		{"tls secret name invalid", func(r *berthv1.Route) { r.Spec.TLS = &berthv1.RouteTLS{SecretName: "Shop"} }, []string{"spec.tls.secretName"}},
		{"cluster CA under the apps domain", func(r *berthv1.Route) {
			r.Spec.Host, r.Spec.TLS = "web-shop.apps.example.com", &berthv1.RouteTLS{}
		}, nil},
		// Under the apps domain a project has its own names: another's
		// default host is not to be squatted.
		{"another project's apps-domain name", func(r *berthv1.Route) { r.Spec.Host = "web-bank.apps.example.com" }, []string{"spec.host"}},
		{"an apps-domain name of no project", func(r *berthv1.Route) { r.Spec.Host = "login.apps.example.com" }, []string{"spec.host"}},
		{"a deeper apps-domain name", func(r *berthv1.Route) { r.Spec.Host = "x.web-shop.apps.example.com" }, []string{"spec.host"}},
		{"the project's own apps-domain name", func(r *berthv1.Route) { r.Spec.Host = "api-v2-shop.apps.example.com" }, nil},
		// The cluster CA is what API clients trust: no certificate of it
		// for a name outside the apps domain (the master's own, say).
		{"cluster CA outside the apps domain", func(r *berthv1.Route) { r.Spec.TLS = &berthv1.RouteTLS{} }, []string{"spec.tls.secretName"}},
		{"cluster CA for the apps domain's look-alike", func(r *berthv1.Route) {
			r.Spec.Host, r.Spec.TLS = "web-shopapps.example.com", &berthv1.RouteTLS{}
		}, []string{"spec.tls.secretName"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &berthv1.Route{
				ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "shop"},
				Spec: berthv1.RouteSpec{Host: "shop.example.com", To: berthv1.RouteTarget{Name: "web"},
					Port: &berthv1.RoutePort{TargetPort: intstr.FromInt32(80)}},
			}
			tt.mutate(r)
			s.PrepareForCreate(r)
			assertPaths(t, s.Validate(r), tt.want...)
		})
	}
}

func TestRouteDefaults(t *testing.T) {
	tests := []struct {
		name              string
		router            Router
		spec              berthv1.RouteSpec
		wantHost, wantURL string
	}{
		{"default host", testRouter, berthv1.RouteSpec{To: berthv1.RouteTarget{Name: "web"}},
			"web-shop.apps.example.com", "http://web-shop.apps.example.com:8081/"},
		{"default domain", Router{HTTPPort: 8081}, berthv1.RouteSpec{To: berthv1.RouteTarget{Name: "web"}},
			"web-shop." + berthv1.DefaultAppsDomain, "http://web-shop." + berthv1.DefaultAppsDomain + ":8081/"},
		{"host lowered", testRouter, berthv1.RouteSpec{Host: "Shop.Example.COM", Path: "/api", To: berthv1.RouteTarget{Name: "web"}},
			"shop.example.com", "http://shop.example.com:8081/api"},
		{"tls", testRouter, berthv1.RouteSpec{Host: "s-shop.apps.example.com", To: berthv1.RouteTarget{Name: "web"}, TLS: &berthv1.RouteTLS{}},
			"s-shop.apps.example.com", "https://s-shop.apps.example.com:8443/"},
		{"standard port", Router{HTTPPort: 80}, berthv1.RouteSpec{Host: "s.example.com", To: berthv1.RouteTarget{Name: "web"}},
			"s.example.com", "http://s.example.com/"},
		{"no router", Router{}, berthv1.RouteSpec{Host: "s.example.com", To: berthv1.RouteTarget{Name: "web"}},
			"s.example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &berthv1.Route{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "shop"}, Spec: tt.spec}
			RouteStrategy{Router: tt.router}.PrepareForCreate(r)
			if r.Spec.Host != tt.wantHost || r.Status.URL != tt.wantURL || r.Spec.To.Kind != "Service" {
				t.Errorf("host %q url %q kind %q, want %q %q Service", r.Spec.Host, r.Status.URL, r.Spec.To.Kind, tt.wantHost, tt.wantURL)
			}
		})
	}
}

// TestRouteUpdateKeepsHost: a replace without a host keeps the route's;
// a new host is taken as asked.
func TestRouteUpdateKeepsHost(t *testing.T) {
	s := RouteStrategy{Router: testRouter}
	old := &berthv1.Route{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "shop", UID: "u1", ResourceVersion: "5"},
		Spec: berthv1.RouteSpec{Host: "a.example.com", To: berthv1.RouteTarget{Name: "web"}}}
	s.PrepareForCreate(old)
	upd := &berthv1.Route{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "shop", ResourceVersion: "5"}, Spec: berthv1.RouteSpec{To: berthv1.RouteTarget{Name: "api"}}}
	s.PrepareForUpdate(upd, old)
	if upd.Spec.Host != "a.example.com" || upd.UID != "u1" {
		t.Errorf("host %q uid %q, want the old ones", upd.Spec.Host, upd.UID)
	}
	if errs := s.ValidateUpdate(upd, old); len(errs) != 0 {
		t.Errorf("update: %v", errs)
	}
	claims := routeHosts{}.Claims(upd)
	if len(claims) != 1 || claims[0].Key != routeHostClaims+"a.example.com" {
		t.Errorf("claims %v", claims)
	}
}
