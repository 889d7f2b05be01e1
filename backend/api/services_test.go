//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

package api_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/server"
	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// service is a ClusterIP service of app=NAME on port 80 → 8080.
func service(name string) map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"selector": map[string]string{"app": name},
			"ports":    []any{map[string]any{"port": 80, "targetPort": 8080}},
		},
	}
}

func createService(t *testing.T, env *testenv.Env, ns string, body map[string]any) *v1.Service {
	t.Helper()
	resp := env.Do(t, "POST", "/api/v1/namespaces/"+ns+"/services", env.AdminToken, body)
	mustCode(t, resp, http.StatusCreated)
	var svc v1.Service
	resp.JSON(t, &svc)
	return &svc
}

// invalidFields returns the fields a 422 Status names.
func invalidFields(t *testing.T, resp testenv.Response) []string {
	t.Helper()
	mustCode(t, resp, http.StatusUnprocessableEntity)
	var st metav1.Status
	resp.JSON(t, &st)
	var fields []string
	if st.Details != nil {
		for _, c := range st.Details.Causes {
			fields = append(fields, c.Field)
		}
	}
	return fields
}

// TestServiceAllocation: services get cluster IPs from the range and node
// ports from 30000-32767, never one twice, even when created at once; a
// value asked for is honoured when free and a 422 naming the field when
// taken or out of range, with nothing stored; values come free when their
// service goes, changes type or its namespace goes; and they outlive a
// master restart.
func TestServiceAllocation(t *testing.T) {
	dataDir, db := t.TempDir(), ""
	cidr := netip.MustParsePrefix("10.97.0.0/24")
	configure := func(cfg *server.Config) { cfg.ServiceCIDR = cidr }
	env := testenv.Start(t, testenv.Options{DataDir: dataDir, Configure: configure})
	db = env.DatabaseURL
	createNamespace(t, env, env.AdminToken, "alloc")
	const path = "/api/v1/namespaces/alloc/services"

	// Forty services at once: forty different addresses in the range.
	var wg sync.WaitGroup
	ips := make([]string, 40)
	for i := range ips {
		wg.Go(func() {
			resp := env.Do(t, "POST", path, env.AdminToken, service(fmt.Sprintf("s%d", i)))
			if resp.Code != http.StatusCreated {
				t.Errorf("create s%d: %d %s", i, resp.Code, resp.Body)
				return
			}
			var svc v1.Service
			resp.JSON(t, &svc)
			ips[i] = svc.Spec.ClusterIP
			if len(svc.Spec.ClusterIPs) != 1 || svc.Spec.ClusterIPs[0] != svc.Spec.ClusterIP {
				t.Errorf("s%d: clusterIPs %v, clusterIP %s", i, svc.Spec.ClusterIPs, svc.Spec.ClusterIP)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, ip := range ips {
		addr, err := netip.ParseAddr(ip)
		if err != nil || !cidr.Contains(addr) || addr == cidr.Addr() {
			t.Errorf("s%d: cluster IP %q outside %s", i, ip, cidr)
		}
		if seen[ip] {
			t.Errorf("cluster IP %s handed out twice", ip)
		}
		seen[ip] = true
	}
	// The lower band (16 addresses of a /24) is for addresses asked for
	// by number, while the rest of the range has room.
	for ip := range seen {
		if last := netip.MustParseAddr(ip).As4()[3]; last <= 16 {
			t.Errorf("%s handed out from the static band", ip)
		}
	}

	// Nodes learn the range and the domain from the cluster network.
	var network berthv1.ClusterNetwork
	env.Do(t, "GET", "/apis/berth.dev/v1/clusternetworks/default", env.AdminToken, nil).JSON(t, &network)
	if network.ServiceNetwork != cidr.String() || network.ClusterDomain != "cluster.local" {
		t.Errorf("cluster network %+v", network)
	}

	asked := service("asked")
	asked["spec"].(map[string]any)["clusterIP"] = "10.97.0.5"
	if got := createService(t, env, "alloc", asked); got.Spec.ClusterIP != "10.97.0.5" {
		t.Errorf("asked for 10.97.0.5, got %s", got.Spec.ClusterIP)
	}
	headless := service("headless")
	headless["spec"].(map[string]any)["clusterIP"] = "None"
	if got := createService(t, env, "alloc", headless); got.Spec.ClusterIP != "None" {
		t.Errorf("headless service got %q", got.Spec.ClusterIP)
	}
	np := service("np")
	np["spec"].(map[string]any)["type"] = "NodePort"
	nodePort := createService(t, env, "alloc", np).Spec.Ports[0].NodePort
	if nodePort < 30000 || nodePort > 32767 {
		t.Errorf("node port %d outside 30000-32767", nodePort)
	}

	bad := []struct {
		name  string
		edit  func(spec map[string]any)
		field string
	}{
		{"a taken cluster IP", func(s map[string]any) { s["clusterIP"] = "10.97.0.5" }, "spec.clusterIP"},
		{"an IP outside the range", func(s map[string]any) { s["clusterIP"] = "10.98.0.5" }, "spec.clusterIP"},
		{"the range's broadcast address", func(s map[string]any) { s["clusterIP"] = "10.97.0.255" }, "spec.clusterIP"},
		{"a taken node port", func(s map[string]any) {
			s["type"] = "NodePort"
			s["ports"] = []any{map[string]any{"port": 80, "nodePort": nodePort}}
		}, "spec.ports[0].nodePort"},
		{"a node port out of range", func(s map[string]any) {
			s["type"] = "NodePort"
			s["ports"] = []any{map[string]any{"port": 80, "nodePort": 8080}}
		}, "spec.ports[0].nodePort"},
		{"a port out of range", func(s map[string]any) { s["ports"] = []any{map[string]any{"port": 70000}} }, "spec.ports[0].port"},
		{"a headless NodePort", func(s map[string]any) { s["type"] = "NodePort"; s["clusterIP"] = "None" }, "spec.clusterIP"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			body := service("refused")
			tt.edit(body["spec"].(map[string]any))
			if fields := invalidFields(t, env.Do(t, "POST", path, env.AdminToken, body)); !slices.Contains(fields, tt.field) {
				t.Errorf("the 422 names %q, want %s", fields, tt.field)
			}
			mustCode(t, env.Do(t, "GET", path+"/refused", env.AdminToken, nil), http.StatusNotFound)
		})
	}

	// A dry run claims nothing.
	dry := service("dry")
	dry["spec"].(map[string]any)["clusterIP"] = "10.97.0.6"
	mustCode(t, env.Do(t, "POST", path+"?dryRun=All", env.AdminToken, dry), http.StatusCreated)
	createService(t, env, "alloc", dry)

	// Deleting a service frees its address; NodePort → ClusterIP frees the port.
	mustCode(t, env.Do(t, "DELETE", path+"/asked", env.AdminToken, nil), http.StatusOK)
	asked["metadata"] = map[string]any{"name": "asked-again"}
	createService(t, env, "alloc", asked)
	mustCode(t, env.Do(t, "PATCH", path+"/np", env.AdminToken, `{"spec":{"type":"ClusterIP"}}`, "application/merge-patch+json"), http.StatusOK)
	reuse := service("reuse")
	reuse["spec"].(map[string]any)["type"] = "NodePort"
	reuse["spec"].(map[string]any)["ports"] = []any{map[string]any{"port": 80, "nodePort": nodePort}}
	createService(t, env, "alloc", reuse)

	// ClusterIP → ExternalName frees the address.
	mustCode(t, env.Do(t, "PATCH", path+"/asked-again", env.AdminToken, `{"spec":{"type":"ExternalName","externalName":"example.com"}}`, "application/merge-patch+json"), http.StatusOK)
	asked["metadata"] = map[string]any{"name": "asked-third"}
	createService(t, env, "alloc", asked)

	// A namespace's deletion frees its services' addresses.
	createNamespace(t, env, env.AdminToken, "doomed")
	doomed := service("doomed")
	doomed["spec"].(map[string]any)["clusterIP"] = "10.97.0.7"
	createService(t, env, "doomed", doomed)
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/doomed", env.AdminToken, nil), http.StatusOK)
	waitFor(t, 30*time.Second, "namespace doomed gone", func() bool {
		return env.Do(t, "GET", "/api/v1/namespaces/doomed", env.AdminToken, nil).Code == http.StatusNotFound
	})
	doomed["metadata"] = map[string]any{"name": "after-doomed"}
	createService(t, env, "alloc", doomed)

	// After a restart the claims hold.
	env.Stop()
	env = testenv.Start(t, testenv.Options{DataDir: dataDir, DatabaseURL: db, Configure: configure})
	asked["metadata"] = map[string]any{"name": "after-restart"}
	if fields := invalidFields(t, env.Do(t, "POST", path, env.AdminToken, asked)); !slices.Contains(fields, "spec.clusterIP") {
		t.Errorf("after a restart, a taken address: 422 names %q", fields)
	}
}

// A project editor tries to point a NodePort at another tenant's pod: a
// selector-less service whose endpoints they write themselves, naming
// the other pod's address. The proxy forwards a NodePort to whatever its
// endpoints say, so this would publish the other tenant's pod on every
// node. Endpoints are the endpoints controller's (and cluster admins') to
// write: the editor may read them and write none.
func TestTenantsCannotWriteEndpoints(t *testing.T) {
	env := testenv.Start(t)
	ed := env.CreateUser(t, "ed", false)
	createNamespace(t, env, env.AdminToken, "mine")
	mustCode(t, env.Do(t, "POST", "/apis/berth.dev/v1/namespaces/mine/members", env.AdminToken, authzMember("ed", "edit")), http.StatusCreated)
	trap := service("trap")
	delete(trap["spec"].(map[string]any), "selector")
	trap["spec"].(map[string]any)["type"] = "NodePort"
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/mine/services", ed, trap), http.StatusCreated)
	const theirPodIP = "172.17.0.99"
	endpoints := map[string]any{
		"metadata": map[string]string{"name": "trap"},
		"subsets":  []any{map[string]any{"addresses": []any{map[string]string{"ip": theirPodIP}}, "ports": []any{map[string]int{"port": 8080}}}},
	}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/mine/endpoints", ed, endpoints), http.StatusForbidden)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/mine/endpoints", env.AdminToken, map[string]any{"metadata": map[string]string{"name": "trap"}}), http.StatusCreated)
	for _, write := range []struct{ method, path, body, contentType string }{
		{"PATCH", "/api/v1/namespaces/mine/endpoints/trap", `{"subsets":[{"addresses":[{"ip":"` + theirPodIP + `"}],"ports":[{"port":8080}]}]}`, "application/merge-patch+json"},
		{"PUT", "/api/v1/namespaces/mine/endpoints/trap", `{"metadata":{"name":"trap"},"subsets":[{"addresses":[{"ip":"` + theirPodIP + `"}],"ports":[{"port":8080}]}]}`, "application/json"},
		{"DELETE", "/api/v1/namespaces/mine/endpoints/trap", "", ""},
	} {
		var body any
		var ct []string
		if write.body != "" {
			body, ct = write.body, []string{write.contentType}
		}
		mustCode(t, env.Do(t, write.method, write.path, ed, body, ct...), http.StatusForbidden)
	}
	var got v1.Endpoints
	resp := env.Do(t, "GET", "/api/v1/namespaces/mine/endpoints/trap", ed, nil)
	mustCode(t, resp, http.StatusOK)
	resp.JSON(t, &got)
	if len(got.Subsets) != 0 {
		t.Fatalf("the endpoints changed: %+v", got.Subsets)
	}
	// Nor can an admin's endpoints name the node itself.
	loop := map[string]any{
		"metadata": map[string]string{"name": "loop"},
		"subsets":  []any{map[string]any{"addresses": []any{map[string]string{"ip": "127.0.0.1"}}, "ports": []any{map[string]int{"port": 10250}}}},
	}
	if fields := invalidFields(t, env.Do(t, "POST", "/api/v1/namespaces/mine/endpoints", env.AdminToken, loop)); !slices.Contains(fields, "subsets[0].addresses[0].ip") {
		t.Errorf("endpoints at 127.0.0.1: 422 names %q", fields)
	}
}

// A targetPort that names no port of the containers the service selects
// is refused; before any pod or controller is selected it cannot be
// judged and is kept.
func TestServiceTargetPortNames(t *testing.T) {
	env := testenv.Start(t)
	createNamespace(t, env, env.AdminToken, "tp")
	early := service("early")
	early["spec"].(map[string]any)["ports"] = []any{map[string]any{"port": 80, "targetPort": "http"}}
	createService(t, env, "tp", early)

	rc := map[string]any{
		"metadata": map[string]any{"name": "web"},
		"spec": map[string]any{
			"replicas": 0, "selector": map[string]string{"app": "web"},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]string{"app": "web"}},
				"spec": map[string]any{"containers": []any{map[string]any{
					"name": "web", "image": "registry.example/web:1",
					"ports": []any{map[string]any{"name": "http", "containerPort": 8080}},
				}}},
			},
		},
	}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/tp/replicationcontrollers", env.AdminToken, rc), http.StatusCreated)
	named := func(name, port string) map[string]any {
		s := service(name)
		s["spec"].(map[string]any)["selector"] = map[string]string{"app": "web"}
		s["spec"].(map[string]any)["ports"] = []any{map[string]any{"port": 80, "targetPort": port}}
		return s
	}
	createService(t, env, "tp", named("good", "http"))
	if fields := invalidFields(t, env.Do(t, "POST", "/api/v1/namespaces/tp/services", env.AdminToken, named("bad", "htpp"))); !slices.Contains(fields, "spec.ports[0].targetPort") {
		t.Errorf("a targetPort no container has: 422 names %q", fields)
	}
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/tp/services/bad", env.AdminToken, nil), http.StatusNotFound)
	resp := env.Do(t, "PATCH", "/api/v1/namespaces/tp/services/good", env.AdminToken,
		`{"spec":{"ports":[{"port":80,"targetPort":"metrics"}]}}`, "application/merge-patch+json")
	if fields := invalidFields(t, resp); !slices.Contains(fields, "spec.ports[0].targetPort") {
		t.Errorf("an update to a targetPort no container has: 422 names %q", fields)
	}
}
