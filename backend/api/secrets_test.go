package api_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const secretValue = "hunter2-the-secret-value"

func secretBody(name string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{
		"name": name,
		// What kubectl apply leaves: the secret again, in an annotation.
		"annotations": map[string]string{v1.LastAppliedConfigAnnotation: `{"stringData":{"password":"` + secretValue + `"}}`},
	}, "stringData": map[string]string{"password": secretValue}}
}

// getAs reads path with an Accept header.
func getAs(t *testing.T, env *testenv.Env, token, path, accept string) testenv.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", env.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return testenv.Response{Code: resp.StatusCode, Body: body, Header: resp.Header}
}

const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

// A viewer of a project tries every way to read a secret's value: get,
// list (JSON, Table, YAML), watch (from now and with the initial
// objects), an all-namespace list. Each is refused or carries the names
// only, as OpenShift shows secrets to viewers; editors read them whole.
func TestViewerSeesSecretNamesOnly(t *testing.T) {
	env := testenv.Start(t)
	ed := env.CreateUser(t, "ed", false)
	vic := env.CreateUser(t, "vic", false)
	createNamespace(t, env, ed, "shop")
	authzAddMember(t, env, ed, "shop", "vic", "view")
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/shop/secrets", ed, secretBody("db")), http.StatusCreated)
	encoded := base64.StdEncoding.EncodeToString([]byte(secretValue))
	leaks := func(t *testing.T, what string, body []byte) {
		t.Helper()
		if bytes.Contains(body, []byte(secretValue)) || bytes.Contains(body, []byte(encoded)) {
			t.Fatalf("%s shows the secret to a viewer: %s", what, body)
		}
	}

	_, events := watchAs(t, env, vic, "/api/v1/namespaces/shop/secrets?watch=1&resourceVersion=0")
	_, streaming := watchAs(t, env, vic, "/api/v1/namespaces/shop/secrets?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan")
	mustCode(t, env.Do(t, "PATCH", "/api/v1/namespaces/shop/secrets/db", ed, `{"stringData":{"token":"`+secretValue+`"}}`, "application/merge-patch+json"), http.StatusOK)

	t.Run("get", func(t *testing.T) {
		resp := env.Do(t, "GET", "/api/v1/namespaces/shop/secrets/db", vic, nil)
		leaks(t, "get", resp.Body)
		mustCode(t, resp, http.StatusForbidden)
	})
	t.Run("list", func(t *testing.T) {
		resp := env.Do(t, "GET", "/api/v1/namespaces/shop/secrets", vic, nil)
		mustCode(t, resp, http.StatusOK)
		leaks(t, "list", resp.Body)
		var list v1.SecretList
		resp.JSON(t, &list)
		if len(list.Items) != 1 || list.Items[0].Name != "db" || list.Items[0].Type != v1.SecretTypeOpaque {
			t.Fatalf("the viewer's list: %s", resp.Body)
		}
	})
	t.Run("table", func(t *testing.T) {
		resp := getAs(t, env, vic, "/api/v1/namespaces/shop/secrets", tableAccept)
		mustCode(t, resp, http.StatusOK)
		leaks(t, "table", resp.Body)
		var table metav1.Table
		resp.JSON(t, &table)
		if len(table.Rows) != 1 || table.Rows[0].Cells[0] != "db" {
			t.Fatalf("table: %s", resp.Body)
		}
	})
	t.Run("yaml", func(t *testing.T) {
		resp := getAs(t, env, vic, "/api/v1/namespaces/shop/secrets", "application/yaml")
		mustCode(t, resp, http.StatusOK)
		leaks(t, "yaml", resp.Body)
	})
	t.Run("all namespaces", func(t *testing.T) {
		resp := env.Do(t, "GET", "/api/v1/secrets", vic, nil)
		leaks(t, "all-namespace list", resp.Body)
		mustCode(t, resp, http.StatusForbidden)
	})
	for name, ch := range map[string]<-chan watchEvent{"watch": events, "streaming list": streaming} {
		t.Run(name, func(t *testing.T) {
			seen := map[string]bool{}
			timeout := time.After(10 * time.Second)
			for !seen["ADDED"] || !seen["MODIFIED"] {
				select {
				case ev := <-ch:
					leaks(t, name+" event "+ev.Type, ev.Object)
					seen[ev.Type] = true
				case <-timeout:
					t.Fatalf("events seen: %v", seen)
				}
			}
		})
	}
	t.Run("editor reads it whole", func(t *testing.T) {
		var s v1.Secret
		resp := env.Do(t, "GET", "/api/v1/namespaces/shop/secrets/db", ed, nil)
		mustCode(t, resp, http.StatusOK)
		resp.JSON(t, &s)
		if string(s.Data["password"]) != secretValue || string(s.Data["token"]) != secretValue || s.StringData != nil {
			t.Fatalf("the editor's secret: %s", resp.Body)
		}
		if resp := env.Do(t, "GET", "/api/v1/namespaces/shop/secrets", ed, nil); !bytes.Contains(resp.Body, []byte(encoded)) {
			t.Fatalf("the editor's list: %s", resp.Body)
		}
	})
	t.Run("viewer writes nothing", func(t *testing.T) {
		mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/shop/secrets", vic, secretBody("planted")), http.StatusForbidden)
		mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/shop/secrets/db", vic, nil), http.StatusForbidden)
	})
	t.Run("etcd holds it encrypted", func(t *testing.T) {
		resp, err := env.Etcd.Get(t.Context(), "/registry/secrets/shop/db")
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("raw get: %v", err)
		}
		raw := resp.Kvs[0].Value
		if !bytes.HasPrefix(raw, []byte("k8s:enc:aesgcm:v1:key1:")) || bytes.Contains(raw, []byte(secretValue)) || bytes.Contains(raw, []byte(encoded)) {
			t.Fatalf("etcd holds %q", raw)
		}
	})
	t.Run("audit holds the name only", func(t *testing.T) {
		var body []byte
		waitFor(t, 10*time.Second, "the secret's audit entries", func() bool {
			body = env.Do(t, "GET", "/apis/berth.dev/v1/auditentries?namespace=shop&resource=secrets", env.AdminToken, nil).Body
			return bytes.Count(body, []byte(`"db"`)) >= 2
		})
		if bytes.Contains(body, []byte(secretValue)) || bytes.Contains(body, []byte(encoded)) {
			t.Fatalf("the audit log holds the secret: %s", body)
		}
	})
}

// A node's credential reads a secret or a config map only while a pod
// bound to it uses it. The attacker holds n1's credential and tries the
// rest: the secrets of n2's pods, secrets no pod uses (existing or not:
// the answer must not tell), lists and watches, a config map of the same
// name in another project, and writes.
func TestNodeReadsOnlyItsPodsSecrets(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken
	n1 := joinNode(t, env, "n1").Token
	n2 := joinNode(t, env, "n2").Token
	for _, n := range []struct{ token, name string }{{n1, "n1"}, {n2, "n2"}} {
		mustCode(t, env.Do(t, "POST", "/api/v1/nodes", n.token, map[string]any{"metadata": map[string]string{"name": n.name}}), http.StatusCreated)
	}
	for _, ns := range []string{"tenant", "other"} {
		createNamespace(t, env, admin, ns)
		for _, s := range []string{"mine", "theirs", "unused", "pull"} {
			mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/"+ns+"/secrets", admin, secretBody(s)), http.StatusCreated)
			mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/"+ns+"/configmaps", admin,
				map[string]any{"metadata": map[string]string{"name": s}, "data": map[string]string{"k": secretValue}}), http.StatusCreated)
		}
	}
	usePod := func(name, node, secret string) map[string]any {
		p := pod(name, nil)
		spec := p["spec"].(map[string]any)
		spec["nodeName"] = node
		c := spec["containers"].([]any)[0].(map[string]any)
		c["env"] = []any{map[string]any{"name": "S", "valueFrom": map[string]any{"secretKeyRef": map[string]string{"name": secret, "key": "password"}}}}
		c["envFrom"] = []any{map[string]any{"configMapRef": map[string]string{"name": secret}}}
		if secret == "mine" {
			spec["imagePullSecrets"] = []any{map[string]string{"name": "pull"}}
		}
		return p
	}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/tenant/pods", admin, usePod("web", "n1", "mine")), http.StatusCreated)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/tenant/pods", admin, usePod("db", "n2", "theirs")), http.StatusCreated)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/tenant/pods", admin, usePod("pending", "", "unused")), http.StatusCreated)

	tests := []struct {
		name, method, path string
		code               int
	}{
		{"get the secret its pod uses", "GET", "/api/v1/namespaces/tenant/secrets/mine", 200},
		{"get its pod's pull secret", "GET", "/api/v1/namespaces/tenant/secrets/pull", 200},
		{"get the config map its pod uses", "GET", "/api/v1/namespaces/tenant/configmaps/mine", 200},

		{"get another node's pod's secret", "GET", "/api/v1/namespaces/tenant/secrets/theirs", 403},
		{"get another node's pod's config map", "GET", "/api/v1/namespaces/tenant/configmaps/theirs", 403},
		{"get a secret only an unscheduled pod uses", "GET", "/api/v1/namespaces/tenant/secrets/unused", 403},
		{"get a secret that does not exist", "GET", "/api/v1/namespaces/tenant/secrets/nothing", 403},
		{"get the same name in another project", "GET", "/api/v1/namespaces/other/secrets/mine", 403},
		{"get the same config map in another project", "GET", "/api/v1/namespaces/other/configmaps/mine", 403},
		{"list a project's secrets", "GET", "/api/v1/namespaces/tenant/secrets", 403},
		{"list every secret", "GET", "/api/v1/secrets", 403},
		{"list secrets by field", "GET", "/api/v1/namespaces/tenant/secrets?fieldSelector=metadata.name%3Dmine", 403},
		{"list config maps", "GET", "/api/v1/namespaces/tenant/configmaps", 403},
		{"watch a project's secrets", "GET", "/api/v1/namespaces/tenant/secrets?watch=1&timeoutSeconds=2", 403},
		{"watch the secret its pod uses", "GET", "/api/v1/namespaces/tenant/secrets?watch=1&fieldSelector=metadata.name%3Dmine&timeoutSeconds=2", 403},
		{"delete the secret its pod uses", "DELETE", "/api/v1/namespaces/tenant/secrets/mine", 403},
		{"create a secret", "POST", "/api/v1/namespaces/tenant/secrets", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.method == "POST" {
				body = secretBody("planted")
			}
			resp := env.Do(t, tt.method, tt.path, n1, body)
			mustCode(t, resp, tt.code)
			if tt.code != 200 && strings.Contains(string(resp.Body), base64.StdEncoding.EncodeToString([]byte(secretValue))) {
				t.Fatalf("a refusal carries the secret: %s", resp.Body)
			}
		})
	}
	// Once the pod goes, so does the node's right to its secret.
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/tenant/pods/web?gracePeriodSeconds=0", admin, nil), http.StatusOK)
	waitFor(t, 10*time.Second, "the pod's deletion", func() bool {
		return env.Do(t, "GET", "/api/v1/namespaces/tenant/pods/web", admin, nil).Code == http.StatusNotFound
	})
	mustCode(t, env.Do(t, "GET", "/api/v1/namespaces/tenant/secrets/mine", n1, nil), 403)
	_ = n2
}
