package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
)

// With one node's credential, an attacker tries everything a stolen node
// credential was once good for: reading every tenant's pods (and their
// env), changing pods of other nodes, registering or heartbeating other
// nodes, writing events anywhere, and redirecting services (writing a
// service or its endpoints). Kubernetes' Node authorizer and
// NodeRestriction allow none of it; neither does Berth. What its proxy
// and DNS need, reading every service and endpoints, it may.
func TestNodeCredentialIsLimitedToItsNode(t *testing.T) {
	env := testenv.Start(t)
	admin := env.AdminToken
	n1 := joinNode(t, env, "n1").Token
	n2 := joinNode(t, env, "n2").Token
	for _, tok := range []struct{ token, name string }{{n1, "n1"}, {n2, "n2"}} {
		mustCode(t, env.Do(t, "POST", "/api/v1/nodes", tok.token, map[string]any{"metadata": map[string]string{"name": tok.name}}), http.StatusCreated)
	}
	createNamespace(t, env, admin, "tenant")
	for _, p := range []struct{ name, node string }{{"mine", "n1"}, {"theirs", "n2"}} {
		body := secretPod(p.name, "secret-of-"+p.name)
		body["spec"].(map[string]any)["nodeName"] = p.node
		mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/tenant/pods", admin, body), http.StatusCreated)
	}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/tenant/services", admin, service("web")), http.StatusCreated)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/tenant/endpoints", admin, map[string]any{
		"metadata": map[string]string{"name": "web"},
		"subsets":  []any{map[string]any{"addresses": []any{map[string]string{"ip": "10.0.0.8"}}, "ports": []any{map[string]int{"port": 8080}}}},
	}), http.StatusCreated)
	event := func(ns, kind, name string) map[string]any {
		return map[string]any{
			"metadata":       map[string]string{"generateName": "e-"},
			"involvedObject": map[string]string{"kind": kind, "name": name, "namespace": ns},
			"reason":         "Tested", "message": "m", "type": "Normal",
		}
	}
	merge := "application/merge-patch+json"
	tests := []struct {
		name, method, path string
		body               any
		contentType        string
		code               int
	}{
		{"list every pod", "GET", "/api/v1/pods", nil, "", 403},
		{"list a project's pods", "GET", "/api/v1/namespaces/tenant/pods", nil, "", 403},
		{"watch every pod", "GET", "/api/v1/pods?watch=1&timeoutSeconds=2", nil, "", 403},
		{"list another node's pods", "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn2", nil, "", 403},
		{"list pods not on it", "GET", "/api/v1/pods?fieldSelector=spec.nodeName!%3Dn1", nil, "", 403},
		{"get another node's pod", "GET", "/api/v1/namespaces/tenant/pods/theirs", nil, "", 403},
		{"patch another node's pod's status", "PATCH", "/api/v1/namespaces/tenant/pods/theirs/status", `{"status":{"phase":"Failed"}}`, merge, 403},
		{"delete another node's pod", "DELETE", "/api/v1/namespaces/tenant/pods/theirs?gracePeriodSeconds=0", nil, "", 403},
		{"change its own pod's spec", "PATCH", "/api/v1/namespaces/tenant/pods/mine", `{"metadata":{"labels":{"x":"y"}}}`, merge, 403},
		{"create a pod", "POST", "/api/v1/namespaces/tenant/pods", pod("planted", nil), "", 403},
		{"register another node", "POST", "/api/v1/nodes", map[string]any{"metadata": map[string]string{"name": "n3"}}, "", 403},
		{"heartbeat another node", "PATCH", "/api/v1/nodes/n2/status", `{"status":{"phase":"Running"}}`, merge, 403},
		{"delete another node", "DELETE", "/api/v1/nodes/n2", nil, "", 403},
		{"event about another node's pod", "POST", "/api/v1/namespaces/tenant/events", event("tenant", "Pod", "theirs"), "", 403},
		{"event about another node", "POST", "/api/v1/namespaces/default/events", event("default", "Node", "n2"), "", 403},
		{"event in a project about nothing of its own", "POST", "/api/v1/namespaces/tenant/events", event("tenant", "Service", "web"), "", 403},
		{"change a project", "PATCH", "/api/v1/namespaces/tenant", `{"metadata":{"labels":{"x":"y"}}}`, merge, 403},
		{"join a project to a global network", "PATCH", "/api/v1/namespaces/tenant", `{"metadata":{"annotations":{"berth.dev/netid":"global"}}}`, merge, 403},
		{"delete a project", "DELETE", "/api/v1/namespaces/tenant", nil, "", 403},
		{"create a project", "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]string{"name": "planted"}}, "", 403},
		{"change a project's network", "PUT", "/apis/berth.dev/v1/projects/tenant/network", map[string]any{"netID": "global"}, "", 403},
		{"read a project's members", "GET", "/apis/berth.dev/v1/namespaces/tenant/members", nil, "", 403},
		{"give itself a pod subnet", "PATCH", "/api/v1/nodes/n1", `{"spec":{"podCIDR":"10.99.0.0/24"}}`, merge, 422},
		{"read a pod's log", "GET", "/api/v1/namespaces/tenant/pods/mine/log", nil, "", 403},
		{"read replication controllers", "GET", "/api/v1/namespaces/tenant/replicationcontrollers", nil, "", 403},
		{"create a service", "POST", "/api/v1/namespaces/tenant/services", service("planted"), "", 403},
		{"change a service", "PATCH", "/api/v1/namespaces/tenant/services/web", `{"spec":{"selector":{"app":"other"}}}`, merge, 403},
		{"write a service's status", "PATCH", "/api/v1/namespaces/tenant/services/web/status", `{"status":{}}`, merge, 403},
		{"delete a service", "DELETE", "/api/v1/namespaces/tenant/services/web", nil, "", 403},
		{"point endpoints elsewhere", "PATCH", "/api/v1/namespaces/tenant/endpoints/web", `{"subsets":[{"addresses":[{"ip":"10.0.0.9"}],"ports":[{"port":80}]}]}`, merge, 403},
		{"create endpoints", "POST", "/api/v1/namespaces/tenant/endpoints", map[string]any{"metadata": map[string]string{"name": "planted"}}, "", 403},
		{"delete endpoints", "DELETE", "/api/v1/namespaces/tenant/endpoints/web", nil, "", 403},

		{"list every service", "GET", "/api/v1/services", nil, "", 200},
		{"watch every service", "GET", "/api/v1/services?watch=1&timeoutSeconds=1", nil, "", 200},
		{"read a project's services", "GET", "/api/v1/namespaces/tenant/services", nil, "", 200},
		{"list every endpoints", "GET", "/api/v1/endpoints", nil, "", 200},
		{"get endpoints", "GET", "/api/v1/namespaces/tenant/endpoints/web", nil, "", 200},
		{"list its own pods", "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1", nil, "", 200},
		{"get its own pod", "GET", "/api/v1/namespaces/tenant/pods/mine", nil, "", 200},
		{"patch its own pod's status", "PATCH", "/api/v1/namespaces/tenant/pods/mine/status", `{"status":{"phase":"Running"}}`, merge, 200},
		{"heartbeat itself", "PATCH", "/api/v1/nodes/n1/status", `{"status":{"phase":"Running"}}`, merge, 200},
		// The pod network: every node's subnet and pod IPs, the projects'
		// NetIDs and the cluster's network, read only.
		{"read a project", "GET", "/api/v1/namespaces/tenant", nil, "", 200},
		{"list the projects", "GET", "/api/v1/namespaces", nil, "", 200},
		{"read another node", "GET", "/api/v1/nodes/n2", nil, "", 200},
		{"read the cluster network", "GET", "/apis/berth.dev/v1/clusternetworks/default", nil, "", 200},
		{"event about its own pod", "POST", "/api/v1/namespaces/tenant/events", event("tenant", "Pod", "mine"), "", 201},
		{"event about itself", "POST", "/api/v1/namespaces/default/events", event("default", "Node", "n1"), "", 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ct []string
			if tt.contentType != "" {
				ct = append(ct, tt.contentType)
			}
			resp := env.Do(t, tt.method, tt.path, n1, tt.body, ct...)
			mustCode(t, resp, tt.code)
			if strings.Contains(string(resp.Body), "secret-of-theirs") {
				t.Fatalf("the answer carries another node's pod: %s", resp.Body)
			}
		})
	}
	// What it read of its own node holds only its own pods.
	var list v1.PodList
	env.Do(t, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1", n1, nil).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "mine" {
		t.Fatalf("n1 lists %v", names(list.Items))
	}
	// It acts, and is audited, as itself, not as the admin who let it join.
	waitFor(t, 10*time.Second, "the node's audit entries", func() bool {
		resp := env.Do(t, "GET", "/apis/berth.dev/v1/auditentries?user=system:node:n1", admin, nil)
		return strings.Contains(string(resp.Body), `"pods/status"`)
	})
	theirs := getPod(t, env, "tenant", "theirs")
	if theirs.Status.Phase != v1.PodPending || theirs.DeletionTimestamp != nil {
		t.Fatalf("another node's pod changed: %s %v", theirs.Status.Phase, theirs.DeletionTimestamp)
	}
}

func names(pods []v1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, fmt.Sprintf("%s@%s", p.Name, p.Spec.NodeName))
	}
	return out
}
