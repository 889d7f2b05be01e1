package api_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// watchAs opens a watch with token and returns its HTTP status and events.
func watchAs(t *testing.T, env *testenv.Env, token, path string) (int, <-chan watchEvent) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", env.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan watchEvent, 100)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			var ev watchEvent
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				out <- ev
			}
		}
	}()
	return resp.StatusCode, out
}

func secretPod(name, secret string) map[string]any {
	p := pod(name, nil)
	c := p["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	c["env"] = []any{map[string]string{"name": "DB_PASSWORD", "value": secret}}
	return p
}

// Bob deletes project x, with a secret in a pod's env; Alice creates x.
// Nothing of Bob's may reach Alice, or Bob's members: not through a watch
// or a continue token from before, not through a watch Bob left open,
// not through a membership left behind.
func TestReusedProjectNameLeaksNothing(t *testing.T) {
	env := testenv.Start(t)
	bob := env.CreateUser(t, "bob", false)
	alice := env.CreateUser(t, "alice", false)
	carol := env.CreateUser(t, "carol", false)
	const secret = "hunter2-of-bob"

	createNamespace(t, env, bob, "x")
	mustCode(t, env.Do(t, "POST", "/apis/berth.dev/v1/namespaces/x/members", bob, authzMember("carol", "view")), http.StatusCreated)
	for _, name := range []string{"a-db", "b-db", "c-db"} {
		mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/x/pods", bob, secretPod(name, secret)), http.StatusCreated)
	}
	resp := env.Do(t, "GET", "/api/v1/namespaces/x/pods?limit=1", bob, nil)
	mustCode(t, resp, http.StatusOK)
	var page v1.PodList
	resp.JSON(t, &page)
	bobsContinue, bobsRV := page.Continue, page.ResourceVersion
	if bobsContinue == "" {
		t.Fatal("no continue token from a limited list")
	}
	code, bobsWatch := watchAs(t, env, bob, "/api/v1/namespaces/x/pods?watch=1&resourceVersion="+bobsRV)
	if code != http.StatusOK {
		t.Fatalf("bob's watch: %d", code)
	}

	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/x", bob, nil), http.StatusOK)
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/x", env.AdminToken, nil), http.StatusNotFound)
	createNamespace(t, env, alice, "x")
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/x/pods", alice, secretPod("alices", "alices-own")), http.StatusCreated)

	leaks := func(t *testing.T, what string, body []byte) {
		t.Helper()
		if strings.Contains(string(body), secret) {
			t.Fatalf("%s leaks bob's secret: %s", what, body)
		}
	}
	t.Run("watch from before the project", func(t *testing.T) {
		// timeoutSeconds: were the watch served, it would end and show it.
		resp := env.Do(t, "GET", "/api/v1/namespaces/x/pods?watch=1&timeoutSeconds=2&resourceVersion="+bobsRV, alice, nil)
		leaks(t, "the watch", resp.Body)
		mustCode(t, resp, http.StatusGone)
	})
	t.Run("continue token from before the project", func(t *testing.T) {
		resp := env.Do(t, "GET", "/api/v1/namespaces/x/pods?limit=1&continue="+url.QueryEscape(bobsContinue), alice, nil)
		leaks(t, "the list", resp.Body)
		if resp.Code != http.StatusGone {
			t.Fatalf("got %d, want 410: %s", resp.Code, resp.Body)
		}
	})
	t.Run("hand-made continue token", func(t *testing.T) {
		forged := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"rv":%s,"start":"/registry/pods/x/"}`, bobsRV)))
		for _, tok := range []string{forged, forged + "." + base64.RawURLEncoding.EncodeToString([]byte("not-a-mac"))} {
			resp := env.Do(t, "GET", "/api/v1/namespaces/x/pods?limit=1&continue="+url.QueryEscape(tok), alice, nil)
			leaks(t, "the list", resp.Body)
			mustCode(t, resp, http.StatusBadRequest)
		}
	})
	t.Run("bob's open watch", func(t *testing.T) {
		deadline := time.After(10 * time.Second)
		for {
			select {
			case ev, ok := <-bobsWatch:
				if !ok {
					return
				}
				if strings.Contains(string(ev.Object), "alices-own") {
					t.Fatalf("bob's old watch carried alice's pod: %s", ev.Object)
				}
				if ev.Type == "ERROR" {
					return
				}
			case <-deadline:
				t.Fatal("bob's watch neither ended nor reported an error after alice's first pod")
			}
		}
	})
	t.Run("memberships left behind", func(t *testing.T) {
		mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/x/pods", carol, nil), http.StatusForbidden)
		mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/x/pods", bob, nil), http.StatusForbidden)
		resp := env.Do(t, "GET", "/apis/berth.dev/v1/namespaces/x/members", alice, nil)
		mustCode(t, resp, http.StatusOK)
		if strings.Contains(string(resp.Body), "carol") || strings.Contains(string(resp.Body), "bob") {
			t.Fatalf("alice's new project has bob's members: %s", resp.Body)
		}
	})
}

// A namespace being deleted takes no new objects, and stays until its
// contents are gone; a dry-run delete changes nothing.
func TestNamespaceDeletion(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken
	createNamespace(t, env, admin, "doomed")
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/doomed/pods", admin, pod("web", nil)), http.StatusCreated)

	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/doomed?dryRun=All", admin, nil), http.StatusOK)
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/doomed/pods/web", admin, nil), http.StatusOK)

	// A finalization that stopped half-way leaves the mark: creates are
	// refused as Kubernetes refuses them in a terminating namespace.
	if _, err := env.Etcd.Put(t.Context(), "/registry/namespaces-terminating/doomed", "x"); err != nil {
		t.Fatal(err)
	}
	resp := env.Do(t, "POST", "/api/v1/namespaces/doomed/pods", admin, pod("late", nil))
	mustCode(t, resp, http.StatusForbidden)
	if !strings.Contains(string(resp.Body), "being terminated") {
		t.Fatalf("refusal: %s", resp.Body)
	}
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/doomed", admin, nil), http.StatusOK)
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/doomed", admin, nil), http.StatusNotFound)
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/doomed/pods/web", admin, nil), http.StatusNotFound)
	got, err := env.Etcd.Get(t.Context(), "/registry/namespaces-terminating/doomed")
	if err != nil || len(got.Kvs) != 0 {
		t.Fatalf("the termination mark stays: %v %v", got, err)
	}
	createNamespace(t, env, admin, "doomed")
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/doomed/pods", admin, pod("again", nil)), http.StatusCreated)
}

// The namespace list a member pages through never names a project they
// do not belong to, not even inside a continue token.
func TestNamespaceListPagesOnlyVisible(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken
	uma := env.CreateUser(t, "uma", false)
	for _, ns := range []string{"a-mine", "b-secret-merger", "c-mine", "d-secret-layoffs", "e-mine"} {
		createNamespace(t, env, admin, ns)
		if strings.HasSuffix(ns, "mine") {
			mustCode(t, env.Do(t, "POST", "/apis/berth.dev/v1/namespaces/"+ns+"/members", admin, authzMember("uma", "view")), http.StatusCreated)
		}
	}
	var seen []string
	cont := ""
	for range 10 {
		resp := env.Do(t, "GET", "/api/v1/namespaces?limit=1&continue="+url.QueryEscape(cont), uma, nil)
		mustCode(t, resp, http.StatusOK)
		if strings.Contains(string(resp.Body), "secret") {
			t.Fatalf("page names a hidden project: %s", resp.Body)
		}
		var list v1.NamespaceList
		resp.JSON(t, &list)
		for _, ns := range list.Items {
			seen = append(seen, ns.Name)
		}
		cont = list.Continue
		if cont == "" {
			break
		}
		payload, _, _ := strings.Cut(cont, ".")
		raw, _ := base64.RawURLEncoding.DecodeString(payload)
		if strings.Contains(string(raw), "secret") {
			t.Fatalf("continue token names a hidden project: %s", raw)
		}
	}
	if strings.Join(seen, ",") != "a-mine,c-mine,e-mine" {
		t.Fatalf("pages = %v", seen)
	}
}

// A copy bomb: each operation copies the document into itself, doubling
// it; two dozen would exhaust the master's memory.
func copyBomb(ops int) string {
	var b strings.Builder
	b.WriteString(`[`)
	for i := range ops {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"op":"copy","from":"/metadata","path":"/metadata/c%d"}`, i)
	}
	b.WriteString(`]`)
	return b.String()
}

func TestPatchBounds(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken
	createNamespace(t, env, admin, "p")
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/p/pods", admin, pod("web", nil)), http.StatusCreated)
	rc := map[string]any{"metadata": map[string]any{"name": "rc"}, "spec": map[string]any{
		"replicas": 1, "selector": map[string]string{"a": "b"},
		"template": map[string]any{"metadata": map[string]any{"labels": map[string]string{"a": "b"}}, "spec": pod("x", nil)["spec"]},
	}}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/p/replicationcontrollers", admin, rc), http.StatusCreated)
	before := getPod(t, env, "p", "web")
	big := strings.Repeat("x", 1<<20)
	tests := []struct {
		name, path, body string
	}{
		{"copy bomb", "/api/v1/namespaces/p/pods/web", copyBomb(40)},
		{"copy bomb on scale", "/api/v1/namespaces/p/replicationcontrollers/rc/scale", copyBomb(40)},
		{"too many operations", "/api/v1/namespaces/p/pods/web", "[" + strings.Repeat(`{"op":"test","path":"/kind","value":"Pod"},`, 10000) + `{"op":"test","path":"/kind","value":"Pod"}]`},
		{"result too large", "/api/v1/namespaces/p/pods/web",
			`[{"op":"add","path":"/metadata/labels","value":{}},{"op":"add","path":"/metadata/x","value":"` + big + `"},` +
				`{"op":"copy","from":"/metadata/x","path":"/metadata/y"},{"op":"copy","from":"/metadata/x","path":"/metadata/z"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := env.Do(t, "PATCH", tt.path, admin, tt.body, "application/json-patch+json")
			mustCode(t, resp, http.StatusRequestEntityTooLarge)
		})
	}
	if after := getPod(t, env, "p", "web"); after.ResourceVersion != before.ResourceVersion {
		t.Fatal("a refused patch changed the pod")
	}
}

// Status is the nodes' and the controllers' to write: a member who could
// write it could mark a pod Failed for good.
func TestStatusWritesForNodesAndControllersOnly(t *testing.T) {
	env := testenv.Start(t)
	ed := env.CreateUser(t, "ed", false)
	createNamespace(t, env, env.AdminToken, "s")
	mustCode(t, env.Do(t, "POST", "/apis/berth.dev/v1/namespaces/s/members", env.AdminToken, authzMember("ed", "edit")), http.StatusCreated)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/s/pods", ed, pod("web", nil)), http.StatusCreated)
	mustCode(t, env.Do(t, "PATCH", "/api/v1/namespaces/s/pods/web/status", ed, `{"status":{"phase":"Failed"}}`, "application/merge-patch+json"), http.StatusForbidden)
	mustCode(t, env.Do(t, "PUT", "/api/v1/namespaces/s/pods/web/status", ed, getPod(t, env, "s", "web")), http.StatusForbidden)
	if p := getPod(t, env, "s", "web"); p.Status.Phase != v1.PodPending {
		t.Fatalf("phase = %s", p.Status.Phase)
	}
}

// One controller cannot ask for pods until etcd is full.
func TestReplicaCap(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken
	createNamespace(t, env, admin, "r")
	rc := func(replicas int) map[string]any {
		return map[string]any{"metadata": map[string]any{"name": "rc"}, "spec": map[string]any{
			"replicas": replicas, "selector": map[string]string{"a": "b"},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]string{"a": "b"}}, "spec": pod("x", nil)["spec"]},
		}}
	}
	resp := env.Do(t, "POST", "/api/v1/namespaces/r/replicationcontrollers", admin, rc(2147483647))
	mustCode(t, resp, http.StatusUnprocessableEntity)
	if !containsField(t, resp, "spec.replicas") {
		t.Fatalf("refusal does not name spec.replicas: %s", resp.Body)
	}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/r/replicationcontrollers", admin, rc(3)), http.StatusCreated)
	for _, body := range []string{`{"spec":{"replicas":2147483647}}`} {
		mustCode(t, env.Do(t, "PATCH", "/api/v1/namespaces/r/replicationcontrollers/rc/scale", admin, body, "application/merge-patch+json"), http.StatusUnprocessableEntity)
		mustCode(t, env.Do(t, "PATCH", "/api/v1/namespaces/r/replicationcontrollers/rc", admin, body, "application/merge-patch+json"), http.StatusUnprocessableEntity)
	}
}

// A tenant's host ports stay in the cluster's range and never pick the
// host address (127.0.0.1 would reach what trusts the host's loopback).
func TestTenantHostPorts(t *testing.T) {
	env := testenv.Start(t)
	ed := env.CreateUser(t, "ed", false)
	createNamespace(t, env, ed, "h")
	withPort := func(name string, port int, ip string) map[string]any {
		p := pod(name, nil)
		c := p["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
		pm := map[string]any{"containerPort": 8080, "hostPort": port}
		if ip != "" {
			pm["hostIP"] = ip
		}
		c["ports"] = []any{pm}
		return p
	}
	tests := []struct {
		name  string
		token string
		pod   map[string]any
		code  int
		field string
	}{
		{"low port", ed, withPort("low", 22, ""), 422, "spec.containers[0].ports[0].hostPort"},
		{"etcd's port", ed, withPort("etcd", 2379, ""), 422, "spec.containers[0].ports[0].hostPort"},
		{"loopback", ed, withPort("lo", 30080, "127.0.0.1"), 422, "spec.containers[0].ports[0].hostIP"},
		{"in range", ed, withPort("ok", 30080, ""), 201, ""},
		{"cluster admin", env.AdminToken, withPort("admins", 8080, "127.0.0.1"), 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := env.Do(t, "POST", "/api/v1/namespaces/h/pods", tt.token, tt.pod)
			mustCode(t, resp, tt.code)
			if tt.field != "" && !containsField(t, resp, tt.field) {
				t.Fatalf("refusal does not name %s: %s", tt.field, resp.Body)
			}
		})
	}
}

// dryRun=All runs every rule of every verb and writes nothing.
func TestDryRun(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken
	createNamespace(t, env, admin, "d")
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/d/pods", admin, pod("kept", map[string]string{"v": "1"})), http.StatusCreated)
	kept := getPod(t, env, "d", "kept")

	resp := env.Do(t, "POST", "/api/v1/namespaces/d/pods?dryRun=All", admin, pod("dry", nil))
	mustCode(t, resp, http.StatusCreated)
	var dry v1.Pod
	resp.JSON(t, &dry)
	if dry.UID == "" || dry.Spec.RestartPolicy == "" || dry.Status.Phase != v1.PodPending {
		t.Fatalf("a dry-run create skipped defaulting: %+v", dry)
	}
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/d/pods/dry", admin, nil), http.StatusNotFound)

	noImage := pod("bad", nil)
	delete(noImage["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any), "image")
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/d/pods?dryRun=All", admin, noImage), http.StatusUnprocessableEntity)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/nowhere/pods?dryRun=All", admin, pod("dry", nil)), http.StatusNotFound)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/d/pods?dryRun=All", admin, pod("kept", nil)), http.StatusConflict)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/d/pods?dryRun=Sometimes", admin, pod("dry", nil)), http.StatusUnprocessableEntity)

	put := getPod(t, env, "d", "kept")
	put.Labels["v"] = "2"
	resp = env.Do(t, "PUT", "/api/v1/namespaces/d/pods/kept?dryRun=All", admin, put)
	mustCode(t, resp, http.StatusOK)
	resp.JSON(t, &dry)
	if dry.Labels["v"] != "2" {
		t.Fatalf("dry-run update answered %v", dry.Labels)
	}
	mustCode(t, env.Do(t, "PATCH", "/api/v1/namespaces/d/pods/kept?dryRun=All", admin, `{"metadata":{"labels":{"v":"3"}}}`, "application/merge-patch+json"), http.StatusOK)
	mustCode(t, env.Do(t, "PATCH", "/api/v1/namespaces/d/pods/kept?dryRun=All", admin, `{"spec":{"containers":[{"name":"web","image":"x","ports":[{"containerPort":1}]}]}}`, "application/strategic-merge-patch+json"), http.StatusUnprocessableEntity)
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/d/pods/kept?dryRun=All", admin, nil), http.StatusOK)
	if after := getPod(t, env, "d", "kept"); after.ResourceVersion != kept.ResourceVersion || after.Labels["v"] != "1" {
		t.Fatalf("dry runs changed the pod: %+v", after.ObjectMeta)
	}
}

// Every integer parameter is checked: a huge or malformed one is a 400
// naming it, never a 500.
func TestIntegerParameters(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken
	createNamespace(t, env, admin, "i")
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/i/pods", admin, pod("web", nil)), http.StatusCreated)
	tests := []struct {
		method, path, param string
	}{
		{"GET", "/api/v1/namespaces/i/pods?limit=-1", "limit"},
		{"GET", "/api/v1/namespaces/i/pods?limit=ten", "limit"},
		{"GET", "/api/v1/namespaces/i/pods?limit=99999999999999999999", "limit"},
		{"GET", "/api/v1/namespaces/i/pods?watch=1&timeoutSeconds=soon", "timeoutSeconds"},
		{"GET", "/api/v1/namespaces/i/pods?watch=1&timeoutSeconds=-3", "timeoutSeconds"},
		{"GET", "/api/v1/namespaces/i/pods?watch=1&resourceVersion=yesterday", "resourceVersion"},
		{"DELETE", "/api/v1/namespaces/i/pods/web?gracePeriodSeconds=9223372036854775807", "gracePeriodSeconds"},
		{"DELETE", "/api/v1/namespaces/i/pods/web?gracePeriodSeconds=-1", "gracePeriodSeconds"},
		{"GET", "/apis/berth.dev/v1/auditentries?limit=99999999999", "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp := env.Do(t, tt.method, tt.path, admin, nil)
			mustCode(t, resp, http.StatusBadRequest)
			if !strings.Contains(string(resp.Body), tt.param) {
				t.Fatalf("the error does not name %s: %s", tt.param, resp.Body)
			}
		})
	}
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/i/pods/web", admin, nil), http.StatusOK)
}

// Kubernetes' delete preconditions: a delete aimed at another incarnation
// of the name (another uid) or an older version deletes nothing.
func TestDeletePreconditions(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken
	createNamespace(t, env, admin, "pc")
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/pc/pods", admin, pod("web", nil)), http.StatusCreated)
	p := getPod(t, env, "pc", "web")
	for _, pre := range []map[string]string{{"uid": "not-this-one"}, {"resourceVersion": "1"}} {
		body := map[string]any{"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": pre}
		mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/pc/pods/web", admin, body), http.StatusConflict)
	}
	body := map[string]any{"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": map[string]string{"uid": string(p.UID)}}
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/pc/pods/web", admin, body), http.StatusOK)
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/pc/pods/web", admin, nil), http.StatusNotFound)
}

// Events live an hour (kube-apiserver's --event-ttl), then etcd drops them.
func TestEventsExpire(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken
	ev := map[string]any{
		"metadata":       map[string]string{"name": "e1"},
		"involvedObject": map[string]string{"kind": "Pod", "name": "web", "namespace": "default"},
		"reason":         "Tested", "message": "hello", "type": "Normal",
	}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/default/events", admin, ev), http.StatusCreated)
	mustCode(t, env.Do(t, "PATCH", "/api/v1/namespaces/default/events/e1", admin, `{"count":2}`, "application/merge-patch+json"), http.StatusOK)
	got, err := env.Etcd.Get(t.Context(), "/registry/events/default/e1")
	if err != nil || len(got.Kvs) != 1 {
		t.Fatalf("event in etcd: %v %v", got, err)
	}
	lease := got.Kvs[0].Lease
	if lease == 0 {
		t.Fatal("the event has no lease after an update: it would never expire")
	}
	ttl, err := env.Etcd.TimeToLive(t.Context(), clientv3.LeaseID(lease))
	if err != nil {
		t.Fatal(err)
	}
	if ttl.TTL < 3500 || ttl.TTL > 3700 {
		t.Fatalf("event TTL = %ds, want about an hour", ttl.TTL)
	}
}

// The controllers write as themselves, through the same admission as API
// requests, and are audited.
func TestControllerWritesPassAdmissionAndAudit(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Controllers: true})
	admin := env.AdminToken
	createNamespace(t, env, admin, "c")
	// A controller stored before the rules (or written to etcd by hand)
	// carries a forged host-path mark in its template; the pods the
	// controller makes from it must not.
	rc := &v1.ReplicationController{
		TypeMeta:   metav1.TypeMeta{Kind: "ReplicationController", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "legacy", Namespace: "c", UID: "legacy-uid", CreationTimestamp: metav1.Now()},
		Spec: v1.ReplicationControllerSpec{
			Replicas: ptr(int32(1)), Selector: map[string]string{"app": "legacy"},
			Template: &v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "legacy"}, Annotations: map[string]string{"berth.dev/host-path-allowed": "true"}},
				Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "registry.example/c:1"}}},
			},
		},
	}
	data, _ := json.Marshal(rc)
	if _, err := env.Etcd.Put(t.Context(), "/registry/replicationcontrollers/c/legacy", string(data)); err != nil {
		t.Fatal(err)
	}
	var made v1.Pod
	waitFor(t, 20*time.Second, "the controller's pod", func() bool {
		var list v1.PodList
		env.Do(t, "GET", "/api/v1/namespaces/c/pods", admin, nil).JSON(t, &list)
		if len(list.Items) == 0 {
			return false
		}
		made = list.Items[0]
		return true
	})
	if made.Annotations["berth.dev/host-path-allowed"] != "" {
		t.Fatalf("the controller's pod kept a forged mark: %v", made.Annotations)
	}
	waitFor(t, 20*time.Second, "the controller's audit entries", func() bool {
		resp := env.Do(t, "GET", "/apis/berth.dev/v1/auditentries?user=system:replication-controller", admin, nil)
		return resp.Code == http.StatusOK && strings.Contains(string(resp.Body), made.Name)
	})
}

func ptr[T any](v T) *T { return &v }

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
