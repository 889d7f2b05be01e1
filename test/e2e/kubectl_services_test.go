package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
)

// TestKubectlServices: kubectl expose makes services of a replication
// controller and of a pod; kubectl get svc shows their cluster IPs and
// ports as on Kubernetes, kubectl get endpoints the addresses of the pods
// behind them.
func TestKubectlServices(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with kubectl and a real master; skipped in -short mode")
	}
	t.Parallel()
	env := testenv.Start(t, testenv.Options{Controllers: true})
	k := newKubectl(t, env, env.AdminToken)
	k.mustRun("create", "namespace", "svcs")
	k.mustRun("-n", "svcs", "create", "-f", testdata("rc-web.yaml"))
	if out := k.mustRun("-n", "svcs", "expose", "rc", "web", "--port", "80", "--target-port", "http"); !strings.Contains(out, "service/web exposed") {
		t.Errorf("kubectl expose rc printed %q", out)
	}
	k.mustRun("-n", "svcs", "run", "db", "--image", "registry.example/db:1", "--port", "5432")
	k.mustRun("-n", "svcs", "expose", "pod", "db", "--type", "NodePort")

	out := k.mustRun("-n", "svcs", "get", "svc")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$`),
		regexp.MustCompile(`(?m)^web\s+ClusterIP\s+10\.\d+\.\d+\.\d+\s+<none>\s+80/TCP\s+\S+$`),
		regexp.MustCompile(`(?m)^db\s+NodePort\s+10\.\d+\.\d+\.\d+\s+<none>\s+5432:3\d{4}/TCP\s+\S+$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("kubectl get svc:\n%s\nlacks %s", out, want)
		}
	}

	// The RC's pod (no node runs it here) reported running, as its node
	// would report it.
	var pods v1.PodList
	if !waitFor(podStartTimeout, func() bool {
		env.Do(t, http.MethodGet, "/api/v1/namespaces/svcs/pods?labelSelector=app%3Dweb", env.AdminToken, nil).JSON(t, &pods)
		return len(pods.Items) == 1
	}) {
		t.Fatalf("the RC made %d pods", len(pods.Items))
	}
	mustCode(t, env.Do(t, http.MethodPatch, "/api/v1/namespaces/svcs/pods/"+pods.Items[0].Name+"/status", env.AdminToken,
		`{"status":{"phase":"Running","podIP":"10.244.3.7","conditions":[{"type":"Ready","status":"True"}]}}`, "application/merge-patch+json"), http.StatusOK)
	endpoints := regexp.MustCompile(`(?m)^web\s+10\.244\.3\.7:8080\s+\S+$`)
	if !waitFor(podStartTimeout, func() bool {
		out, _, _ = k.run("-n", "svcs", "get", "endpoints")
		return endpoints.MatchString(out)
	}) {
		t.Errorf("kubectl get endpoints:\n%s\nlacks %s", out, endpoints)
	}
	// kubectl 1.32 describes a service's endpoints from EndpointSlices
	// (discovery.k8s.io), which Berth does not serve: it shows the rest.
	out = k.mustRun("-n", "svcs", "describe", "svc", "web")
	for _, want := range []string{"Selector:", "app=web", "TargetPort:", "http/TCP", "IP:"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl describe svc web:\n%s\nlacks %q", out, want)
		}
	}
	if out := k.mustRun("-n", "svcs", "get", "svc,ep", "-o", "name"); !strings.Contains(out, "service/web") || !strings.Contains(out, "endpoints/web") {
		t.Errorf("kubectl get svc,ep -o name: %q", out)
	}
}
