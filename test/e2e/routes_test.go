package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/node/runtime/imagetest"
	"github.com/berthpaas/berth/client"
	"github.com/gorilla/websocket"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestRoutesThroughRouter: routes made with the CLI answer through the
// master's router, which reaches the pods on the host's pod network: by
// Host header (any case, with a port), to every replica, with the
// router's own X-Forwarded-* headers, over websockets and over HTTPS with
// a certificate of the cluster CA; a route whose service has no ready
// endpoint answers 503 with the page naming it; a deleted route's host
// gets a 404.
func TestRoutesThroughRouter(t *testing.T) {
	t.Parallel()
	c := startPodCluster(t, "e2e-route")
	hello := imagetest.BuildHelloImage(t.Context(), t, c.docker)
	spec := newPod("hello", v1.Container{
		Name: "hello", Image: hello, ImagePullPolicy: v1.PullIfNotPresent,
		Env:   []v1.EnvVar{{Name: "POD_NAME", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
		Ports: []v1.ContainerPort{{Name: "http", ContainerPort: 8080}},
	}).Spec
	if err := c.api.Create(t.Context(), client.ReplicationControllers, c.ns, replicationController("hello", 2, spec), nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hello", "idle"} {
		svc := &v1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []v1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}}
		if err := c.api.Create(t.Context(), client.Services, c.ns, svc, nil); err != nil {
			t.Fatal(err)
		}
	}
	replicas := podNames(c.waitPods("app=hello", 2, podStartTimeout))
	c.waitEndpoints("hello", replicas)

	cli := func(args ...string) string {
		t.Helper()
		out, errOut, code := berthCLIProcess(t, c.url, c.env.AdminToken, c.ns, "", args...)
		if code != 0 {
			t.Fatalf("berth %s: exit %d: %s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	host := "hello." + c.ns + ".example.com"
	secureHost := "secure-" + c.ns + "." + berthv1.DefaultAppsDomain
	wantContains(t, "route create", cli("route", "create", "hello", "--service", "hello", "--hostname", host), "route/hello created: http://"+host+":")
	wantContains(t, "route create", cli("route", "create", "idle", "--service", "idle"), "route/idle created: http://idle-"+c.ns+"."+berthv1.DefaultAppsDomain+":")
	cli("route", "create", "secure", "--service", "hello", "--hostname", secureHost, "--tls")
	wantContains(t, "route list", cli("route", "list"), "HOST/PORT", host, "idle-"+c.ns, secureHost, "edge", "URL")
	wantContains(t, "get routes", cli("get", "routes"), "hello", "idle", "secure")

	var rt berthv1.Route
	if err := c.api.Get(t.Context(), client.Routes, c.ns, "hello", &rt); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(rt.Status.URL)
	if err != nil {
		t.Fatal(err)
	}
	router := "127.0.0.1:" + u.Port()
	get := func(host, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+router+path, nil)
		req.Host = host
		req.Header.Set("X-Forwarded-For", "6.6.6.6")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	t.Run("by host, to every replica", func(t *testing.T) {
		var code int
		var body string
		// The router follows the route and the endpoints by watch.
		if !waitFor(10*time.Second, func() bool { code, body = get(host, "/headers"); return code == http.StatusOK }) {
			t.Fatalf("the route never answered: %d %s", code, body)
		}
		wantContains(t, "the pod's view", body, "host="+host+"\n", "x-forwarded-for=127.0.0.1\n", "x-forwarded-host="+host+"\n",
			"x-forwarded-proto=http\n", "x-forwarded-port="+u.Port()+"\n")
		seen := map[string]int{}
		for range 20 {
			code, body := get(strings.ToUpper(host)+":"+u.Port(), "/")
			if code != http.StatusOK {
				t.Fatalf("%d %s", code, body)
			}
			seen[answers(body)[0]]++
		}
		for _, r := range replicas {
			if seen[r] == 0 {
				t.Errorf("replica %s never answered: %v", r, seen)
			}
		}
	})
	t.Run("no ready endpoint", func(t *testing.T) {
		code, body := get("idle-"+c.ns+"."+berthv1.DefaultAppsDomain, "/")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, c.ns+"/idle") || !strings.Contains(body, "no ready endpoint") {
			t.Fatalf("%d %s", code, body)
		}
		// The default host's *.localhost name reaches the router with no
		// DNS set-up where clients resolve it so (curl does).
		if _, err := exec.LookPath("curl"); err == nil {
			var idle berthv1.Route
			if err := c.api.Get(t.Context(), client.Routes, c.ns, "idle", &idle); err != nil {
				t.Fatal(err)
			}
			out, err := exec.CommandContext(t.Context(), "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", idle.Status.URL).Output()
			if err != nil || string(out) != "503" {
				t.Errorf("curl %s: %s %v", idle.Status.URL, out, err)
			}
		}
	})
	t.Run("websocket", func(t *testing.T) {
		conn, resp, err := websocket.DefaultDialer.DialContext(t.Context(), "ws://"+router+"/ws", http.Header{"Host": {host}})
		if err != nil {
			t.Fatalf("dial through the router: %v %v", resp, err)
		}
		defer conn.Close()
		for _, msg := range []string{"hello", "again"} {
			if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			_, got, err := conn.ReadMessage()
			if err != nil || !slices.ContainsFunc(replicas, func(r string) bool { return string(got) == r+": "+msg }) {
				t.Fatalf("echo %q %v", got, err)
			}
		}
	})
	t.Run("TLS with the cluster CA", func(t *testing.T) {
		var secure berthv1.Route
		if err := c.api.Get(t.Context(), client.Routes, c.ns, "secure", &secure); err != nil {
			t.Fatal(err)
		}
		su, err := url.Parse(secure.Status.URL)
		if err != nil || su.Scheme != "https" {
			t.Fatalf("url %q %v", secure.Status.URL, err)
		}
		caPEM, err := os.ReadFile(filepath.Join(c.up.dataDir, "tls", "ca.crt"))
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		dialer := &net.Dialer{}
		client := &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, "127.0.0.1:"+su.Port())
			},
		}}
		resp, err := client.Get(secure.Status.URL + "headers")
		if err != nil {
			t.Fatalf("https through the router, verified against the cluster CA: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		wantContains(t, "over TLS", fmt.Sprintf("%d %s", resp.StatusCode, body), "200 ", "x-forwarded-proto=https\n", "host="+secureHost)
	})
	t.Run("kubectl", func(t *testing.T) {
		k := newKubectl(t, c.env, c.env.AdminToken)
		out, errOut, code := k.run("-n", c.ns, "get", "routes")
		if code != 0 {
			t.Fatalf("kubectl get routes: exit %d: %s", code, errOut)
		}
		wantContains(t, "kubectl get routes", out, "HOST/PORT", "SERVICES", host, "idle-"+c.ns, "edge")
		out, errOut, code = k.run("-n", c.ns, "get", "route", "hello", "-o", "jsonpath={.spec.host} {.status.url}")
		if code != 0 || out != host+" "+rt.Status.URL {
			t.Fatalf("kubectl get route -o jsonpath: exit %d: %q %s", code, out, errOut)
		}
	})
	t.Run("deleted", func(t *testing.T) {
		cli("route", "delete", "hello")
		if !waitFor(10*time.Second, func() bool { code, _ := get(host, "/"); return code == http.StatusNotFound }) {
			t.Fatal("a deleted route still answers")
		}
	})
}
