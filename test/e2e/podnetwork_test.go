package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/backend/node/network"
	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/imagetest"
	"github.com/berthpaas/berth/backend/remotecommand"
	"github.com/berthpaas/berth/client"
)

// TestPodNetworkAcrossAgents runs three `berth node` agents (processes
// with their own names, state dirs and pod networks) under one master on
// the one Docker engine: a pod on node-a reaches a pod of its project on
// node-c by its IP; a pod of another project reaches neither it nor the
// host's other ports, until `berth project network join` puts the two
// projects on one network, after which each reaches the other's pods on
// any node; `isolate` parts them again. A node deleted leaves the other
// agents' rules. The agents stopped, nothing of theirs (rules, routes,
// bridges, Docker networks) is left on the host.
func TestPodNetworkAcrossAgents(t *testing.T) {
	t.Parallel()
	c := startPodCluster(t, "e2e-pn", "--no-node")
	other := uniqueName("e2e-pn-other")
	// Registered before the agents start, so that it runs once they stopped.
	imagetest.RemoveContainers(t, c.docker, runtime.LabelPodNamespace+"="+other)
	createNamespace(t, c.env, c.env.AdminToken, other)

	stateDir := t.TempDir()
	agents := map[string]*nodeProcess{}
	bridges := map[string]string{}
	for _, name := range []string{"node-a", "node-b", "node-c"} {
		dir := filepath.Join(stateDir, name)
		agents[name] = startNode(t, c.url, nodeToken(t, c.env, name), name, dir)
		// The names the agent's network takes on the host (nothing is changed).
		n, err := network.New(network.Options{Engine: c.docker, StateDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		bridges[name] = n.Bridge()
	}
	for name, n := range agents {
		c.waitNodeReady(name, time.Time{}, n)
	}

	web := c.netPod(c.ns, "web", "node-c", "mkdir -p /tmp/www && echo hello from web > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www")
	otherWeb := c.netPod(other, "web", "node-b", "mkdir -p /tmp/www && echo hello from other web > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www")
	mine := c.netPod(c.ns, "client", "node-a", "exec sleep 3600")
	otherClient := c.netPod(other, "client", "node-a", "exec sleep 3600")
	for _, p := range []*v1.Pod{web, otherWeb, mine, otherClient} {
		var n v1.Node
		if err := c.api.Get(t.Context(), client.Nodes, "", p.Spec.NodeName, &n); err != nil {
			t.Fatal(err)
		}
		if _, subnet, err := net.ParseCIDR(n.Spec.PodCIDR); err != nil || !subnet.Contains(net.ParseIP(p.Status.PodIP)) {
			t.Fatalf("%s/%s on %s has %s, outside the node's subnet %q (%v)", p.Namespace, p.Name, p.Spec.NodeName, p.Status.PodIP, n.Spec.PodCIDR, err)
		}
	}
	webURL, otherWebURL := podURL(web), podURL(otherWeb)

	c.reaches(c.ns, "client", webURL, "hello from web")
	c.cannotReach(other, "client", webURL)
	c.cannotReach(c.ns, "client", otherWebURL)
	// The host's ports but the DNS one are closed to pods: on the pod
	// network's gateway and on the node's own address.
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "host says hi") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	var nodeA v1.Node
	if err := c.api.Get(t.Context(), client.Nodes, "", "node-a", &nodeA); err != nil {
		t.Fatal(err)
	}
	_, subnetA, _ := net.ParseCIDR(nodeA.Spec.PodCIDR)
	gateway := subnetA.IP.To4()
	gateway[3]++
	c.cannotReach(other, "client", "http://"+net.JoinHostPort(gateway.String(), port)+"/")
	c.cannotReach(other, "client", "http://"+net.JoinHostPort(nodeA.Status.Addresses[0].Address, port)+"/")

	// Joined by the CLI: each reaches the other's pods, on any node.
	out, errOut, code := berthCLIProcess(t, c.url, c.env.AdminToken, c.ns, "", "project", "network", "join", c.ns, other)
	if code != 0 || !strings.Contains(out, "project "+other+": joined with "+c.ns) {
		t.Fatalf("berth project network join: exit %d\n%s%s", code, out, errOut)
	}
	joined := time.Now()
	c.reaches(other, "client", webURL, "hello from web")
	t.Logf("a join let the other project's pod through %v after the CLI answered", time.Since(joined).Round(time.Millisecond))
	c.reaches(c.ns, "client", otherWebURL, "hello from other web")

	// Isolated again: cut off.
	out, errOut, code = berthCLIProcess(t, c.url, c.env.AdminToken, c.ns, "", "project", "network", "isolate", other)
	if code != 0 || !strings.Contains(out, "project "+other+": a network of its own") {
		t.Fatalf("berth project network isolate: exit %d\n%s%s", code, out, errOut)
	}
	if !waitFor(10*time.Second, func() bool { ok, _ := c.fetchFrom(other, "client", webURL); return !ok }) {
		t.Fatalf("%s/client still reaches %s 10s after isolate", other, webURL)
	}
	c.reaches(c.ns, "client", webURL, "hello from web")

	// A node that goes (its agent stopped, its Node deleted) takes its
	// pods' addresses out of the other agents' rules.
	inRulesOf := func(node, addr string) bool {
		out, err := exec.Command("iptables", "-w", "5", "-S").Output()
		if err != nil {
			t.Fatalf("iptables -S: %v", err)
		}
		chains := "-A BERTH-" + strings.ToUpper(strings.TrimPrefix(bridges[node], network.BridgePrefix))
		for line := range strings.Lines(string(out)) {
			if strings.HasPrefix(line, chains) && strings.Contains(line, " "+addr+"/32 ") {
				return true
			}
		}
		return false
	}
	if !inRulesOf("node-a", otherWeb.Status.PodIP) {
		t.Fatalf("node-a's rules do not name %s/web's address %s, which its pods' project may reach", other, otherWeb.Status.PodIP)
	}
	agents["node-b"].stop()
	if err := c.api.Delete(t.Context(), client.Nodes, "", "node-b"); err != nil {
		t.Fatalf("delete node-b: %v", err)
	}
	if !waitFor(10*time.Second, func() bool {
		return !inRulesOf("node-a", otherWeb.Status.PodIP) && !inRulesOf("node-c", otherWeb.Status.PodIP)
	}) {
		t.Errorf("10s after node-b's deletion, the rules still let %s in (node-a %v, node-c %v)", otherWeb.Status.PodIP,
			inRulesOf("node-a", otherWeb.Status.PodIP), inRulesOf("node-c", otherWeb.Status.PodIP))
	}

	// Stopped, the agents leave nothing on the host; their containers run on.
	for name, n := range agents {
		n.stop()
		if left := onHost(t, bridges[name]); left != "" {
			t.Errorf("after %s stopped, the host keeps:\n%s", name, left)
		}
	}
	for _, p := range []*v1.Pod{web, mine} {
		ctrs := podContainers(t, c.docker, string(p.UID))
		if len(ctrs) == 0 {
			t.Errorf("%s has no containers after its agent stopped", p.Name)
		}
		for _, ctr := range ctrs {
			if ctr.State != "running" {
				t.Errorf("%s's container %s is %s after its agent stopped", p.Name, ctr.Names, ctr.State)
			}
		}
	}
}

// netPod runs a pod of the shell image with script in namespace ns on
// node and returns it running, with its address.
func (c *podCluster) netPod(ns, name, node, script string) *v1.Pod {
	c.t.Helper()
	p := c.shellPod(name, v1.RestartPolicyAlways, script)
	p.Spec.NodeName = node
	grace := int64(1)
	p.Spec.TerminationGracePeriodSeconds = &grace
	if err := c.api.Create(c.t.Context(), client.Pods, ns, p, nil); err != nil {
		c.t.Fatalf("create pod %s/%s: %v", ns, name, err)
	}
	got, err := watchPod(c.t.Context(), c.api, ns, name, podStartTimeout, func(p *v1.Pod) bool { return isRunning(p) && p.Status.PodIP != "" })
	if err != nil {
		c.t.Fatalf("pod %s/%s running: %v\nlast seen: %s", ns, name, err, describePod(got))
	}
	return got
}

func podURL(p *v1.Pod) string { return "http://" + net.JoinHostPort(p.Status.PodIP, "8080") + "/" }

// fetchFrom asks pod ns/name to GET u with nc (two seconds at most); it
// reports whether an HTTP answer came, and the output.
func (c *podCluster) fetchFrom(ns, name, u string) (bool, string) {
	c.t.Helper()
	host, port, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/"))
	ctx, cancel := context.WithTimeout(c.t.Context(), 30*time.Second)
	defer cancel()
	sess, err := c.api.DialExec(ctx, ns, name, remotecommand.Options{Stdout: true, Stderr: true,
		Command: []string{"sh", "-c", fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 %s %s`, host, port)}})
	if err != nil {
		c.t.Fatalf("exec in %s/%s: %v", ns, name, err)
	}
	var out strings.Builder
	if _, err := sess.Run(ctx, nil, &out, &out, nil); err != nil {
		c.t.Fatalf("exec in %s/%s: %v", ns, name, err)
	}
	return strings.HasPrefix(out.String(), "HTTP/1."), out.String()
}

// reaches waits (10 s at most: rules follow the API within a second) until
// pod ns/name gets an answer holding want from u.
func (c *podCluster) reaches(ns, name, u, want string) {
	c.t.Helper()
	var last string
	if !waitFor(10*time.Second, func() bool {
		ok, out := c.fetchFrom(ns, name, u)
		last = out
		return ok && strings.Contains(out, want)
	}) {
		c.t.Fatalf("%s/%s does not reach %s: %q", ns, name, u, last)
	}
}

// cannotReach fails the test if pod ns/name gets an answer from u.
func (c *podCluster) cannotReach(ns, name, u string) {
	c.t.Helper()
	if ok, out := c.fetchFrom(ns, name, u); ok {
		c.t.Fatalf("%s/%s reaches %s, which it must not: %q", ns, name, u, out)
	}
}

// onHost is what the host shows of the pod network whose bridge is
// bridge: the lines of its rules, routes, links and Docker networks.
func onHost(t *testing.T, bridge string) string {
	t.Helper()
	scope := strings.ToLower(strings.TrimPrefix(bridge, network.BridgePrefix))
	var b strings.Builder
	for _, args := range [][]string{
		{"iptables", "-w", "5", "-S"}, {"iptables", "-w", "5", "-t", "nat", "-S"},
		{"ip", "route"}, {"ip", "-o", "link"}, {"docker", "network", "ls", "--format", "{{.Name}}"},
	} {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
		for line := range strings.Lines(string(out)) {
			if strings.Contains(strings.ToLower(line), scope) {
				b.WriteString(line)
			}
		}
	}
	return b.String()
}
