package node_test

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/node"
	"github.com/berthpaas/berth/backend/node/network"
	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/docker"
	"github.com/berthpaas/berth/backend/node/runtime/imagetest"
	"github.com/berthpaas/berth/backend/remotecommand"
	"github.com/berthpaas/berth/backend/server"
	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
)

// netAgent is a node agent on the real Docker engine with a pod network
// of its own, as `berth node` runs one.
type netAgent struct {
	name     string
	stateDir string
	agent    *agent
	rt       *docker.Runtime
	net      *network.Network
	scope    string // the hex in its bridge's and chains' names
}

// startNetAgent runs an agent named name on env's master with its own
// state dir (a new one when "") and pod network; services are the host
// ports its pods may reach (the defaults when nil). It waits until the
// node's network is up.
func startNetAgent(t *testing.T, env *testenv.Env, name, stateDir string, services []network.HostService) *netAgent {
	t.Helper()
	ctx := t.Context()
	if stateDir == "" {
		stateDir = t.TempDir()
	}
	cli, err := docker.Dial("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	netw, err := network.New(network.Options{Engine: cli, StateDir: stateDir, HostServices: services})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := docker.New(ctx, docker.Options{StateDir: stateDir + "/runtime", Network: netw})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	if _, err := rt.EnsureInfraImage(ctx); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, node.Config{
		Master: env.URL, BootstrapTokenFile: bootstrapToken(t, env, name), Name: name,
		StateDir: stateDir, Runtime: rt, Network: netw,
	})
	na := &netAgent{name: name, stateDir: stateDir, agent: a, rt: rt, net: netw, scope: strings.TrimPrefix(netw.Bridge(), network.BridgePrefix)}
	eventually(t, 30*time.Second, name+"'s pod network up", func() (bool, string) {
		n := getNode(t, env, name)
		if n == nil {
			return false, "no node"
		}
		for _, c := range n.Status.Conditions {
			if c.Type == v1.NodeNetworkUnavailable {
				return c.Status == v1.ConditionFalse, c.Reason + ": " + c.Message
			}
		}
		return false, "no NetworkUnavailable condition"
	})
	return na
}

// berthOnHost is what the host shows of one agent's network: rules,
// routes, links and Docker networks that carry its scope.
func berthOnHost(t *testing.T, scope string) string {
	t.Helper()
	run := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v: %s", name, args, err, out)
		}
		return string(out)
	}
	var b strings.Builder
	for _, out := range []string{
		run("iptables", "-w", "5", "-S"), run("iptables", "-w", "5", "-t", "nat", "-S"),
		run("ip", "route"), run("ip", "-o", "link"), run("docker", "network", "ls", "--format", "{{.Name}}"),
	} {
		for line := range strings.Lines(out) {
			if strings.Contains(strings.ToLower(line), scope) {
				b.WriteString(line)
			}
		}
	}
	return b.String()
}

// shellPod runs a pod of the shell image in ns on a node and returns it
// once it runs with an address.
func shellPod(t *testing.T, env *testenv.Env, image, ns, name, nodeName, script string) *v1.Pod {
	t.Helper()
	p := boundPod(name, nodeName)
	grace := int64(1)
	p.Spec.TerminationGracePeriodSeconds = &grace
	c := &p.Spec.Containers[0]
	c.Image, c.ImagePullPolicy, c.Command = image, v1.PullNever, []string{"sh", "-c", script}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/"+ns+"/pods", env.AdminToken, p), http.StatusCreated)
	var got *v1.Pod
	eventually(t, 60*time.Second, ns+"/"+name+" running", func() (bool, string) {
		got, _ = getPod(t, env, ns, name)
		if got == nil {
			return false, "no pod"
		}
		return got.Status.Phase == v1.PodRunning && got.Status.PodIP != "", got.Status.String()
	})
	return got
}

// webPod serves "hello from NAME" over HTTP on port 8080 (busybox httpd,
// which logs each client's address).
func webPod(t *testing.T, env *testenv.Env, image, ns, name, nodeName string) *v1.Pod {
	return shellPod(t, env, image, ns, name, nodeName, "mkdir -p /tmp/www && echo hello from "+name+" > /tmp/www/index.html && exec httpd -f -v -p 8080 -h /tmp/www")
}

// execIn runs cmd in a pod through the master and returns its exit code
// and output.
func execIn(t *testing.T, env *testenv.Env, ns, pod string, cmd ...string) (int, string) {
	t.Helper()
	q := url.Values{"command": cmd, "stdout": {"1"}, "stderr": {"1"}}
	sess, err := remotecommand.Dial(t.Context(), "ws"+strings.TrimPrefix(env.URL, "http")+
		"/api/v1/namespaces/"+ns+"/pods/"+pod+"/exec?"+q.Encode(),
		http.Header{"Authorization": {"Bearer " + env.AdminToken}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	code, err := sess.Run(t.Context(), nil, &out, &out, nil)
	if err != nil {
		t.Fatalf("exec %v in %s/%s: %v", cmd, ns, pod, err)
	}
	return code, out.String()
}

// fetch asks a pod to GET url, giving up after two seconds without an
// answer; it reports whether one came (an HTTP status line), and what.
// (busybox's wget is not used: the static busybox's crashes.)
func fetch(t *testing.T, env *testenv.Env, ns, pod, u string) (bool, string) {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	_, out := execIn(t, env, ns, pod, "sh", "-c",
		fmt.Sprintf(`printf 'GET %s HTTP/1.0\r\n\r\n' | nc -w 2 %s %s`, parsed.Path, parsed.Hostname(), parsed.Port()))
	return strings.HasPrefix(out, "HTTP/1."), out
}

func reaches(t *testing.T, env *testenv.Env, ns, pod, u, want string) {
	t.Helper()
	eventually(t, 30*time.Second, ns+"/"+pod+" reaches "+u, func() (bool, string) {
		ok, out := fetch(t, env, ns, pod, u)
		return ok && strings.Contains(out, want), out
	})
}

func cannotReach(t *testing.T, env *testenv.Env, ns, pod, u string) {
	t.Helper()
	if ok, out := fetch(t, env, ns, pod, u); ok {
		t.Fatalf("%s/%s reaches %s, which it must not: %q", ns, pod, u, out)
	}
}

func podURL(p *v1.Pod) string { return "http://" + p.Status.PodIP + ":8080/" }

// listenHTTP serves "host says hi" on addr until the test ends.
func listenHTTP(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "host says hi") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func setNetID(t *testing.T, env *testenv.Env, project, netID string) {
	t.Helper()
	mustCode(t, env.Do(t, "PUT", "/apis/berth.dev/v1/projects/"+project+"/network", env.AdminToken,
		map[string]any{"kind": "ProjectNetwork", "apiVersion": "berth.dev/v1", "netID": netID}), http.StatusOK)
}

func netIDOf(t *testing.T, env *testenv.Env, project string) string {
	t.Helper()
	resp := env.Do(t, "GET", "/apis/berth.dev/v1/projects/"+project+"/network", env.AdminToken, nil)
	mustCode(t, resp, http.StatusOK)
	var pn struct{ NetID string }
	resp.JSON(t, &pn)
	return pn.NetID
}

// TestPodNetworkAcrossNodes runs two agents, each with its own network,
// on the one Docker engine: a pod on node A reaches a pod of its project
// on node C by its IP, seen with its own address (no NAT); a pod of
// another project reaches neither it nor the host's ports beyond the DNS
// one, until the projects are joined; a global project's pods reach all
// and are reached by all. Pods keep their address when stopped and
// started, and when their infra container dies. Once the agents stop,
// nothing of theirs is left on the host.
func TestPodNetworkAcrossNodes(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	cli := imagetest.Client(t)
	shell := imagetest.BuildShellImage(ctx, t, cli)
	const shop, bank, tools = "pn-shop", "pn-bank", "pn-tools"
	for _, ns := range []string{shop, bank, tools} {
		imagetest.RemoveContainers(t, cli, runtime.LabelPodNamespace+"="+ns)
		mustCode(t, env.Do(t, "POST", "/api/v1/namespaces", env.AdminToken, map[string]any{"metadata": map[string]string{"name": ns}}), http.StatusCreated)
	}
	// A port of the host that pods may reach on their gateway, standing
	// for the DNS server's and the service proxy's.
	const allowedPort = 18053
	services := []network.HostService{{Protocol: "tcp", Port: allowedPort}}
	a := startNetAgent(t, env, "node-a", "", services)
	c := startNetAgent(t, env, "node-c", "", services)

	shopWeb := webPod(t, env, shell, shop, "web", "node-c")
	bankWeb := webPod(t, env, shell, bank, "web", "node-c")
	toolsWeb := webPod(t, env, shell, tools, "web", "node-c")
	shopClient := shellPod(t, env, shell, shop, "client", "node-a", "sleep 3600")
	running := time.Now()
	eventually(t, 10*time.Second, "node-c lets shop's new client in", func() (bool, string) {
		out, err := exec.Command("iptables", "-w", "5", "-S").Output()
		for line := range strings.Lines(string(out)) {
			if strings.HasPrefix(line, "-A BERTH-"+strings.ToUpper(c.scope)+"-N") && strings.Contains(line, "-s "+shopClient.Status.PodIP+"/32 -j ACCEPT") {
				return true, ""
			}
		}
		return false, fmt.Sprint(err)
	})
	t.Logf("a new pod's address reached the other node's rules %v after the pod showed Running", time.Since(running).Round(time.Millisecond))
	bankClient := shellPod(t, env, shell, bank, "client", "node-a", "sleep 3600")

	// Addresses from each node's own subnet.
	for _, p := range []*v1.Pod{shopWeb, bankWeb, shopClient, bankClient} {
		subnet := netip.MustParsePrefix(getNode(t, env, p.Spec.NodeName).Spec.PodCIDR)
		if !subnet.Contains(netip.MustParseAddr(p.Status.PodIP)) || !env.ClusterCIDR.Contains(subnet.Addr()) {
			t.Fatalf("%s/%s on %s has %s, outside its node's subnet %s", p.Namespace, p.Name, p.Spec.NodeName, p.Status.PodIP, subnet)
		}
	}

	// Across nodes within a project, by pod IP, without NAT.
	reaches(t, env, shop, "client", podURL(shopWeb), "hello from web")
	eventually(t, 10*time.Second, "the web pod logs the client's own address", func() (bool, string) {
		resp := env.Do(t, "GET", "/api/v1/namespaces/"+shop+"/pods/web/log", env.AdminToken, nil)
		return strings.Contains(string(resp.Body), shopClient.Status.PodIP), string(resp.Body)
	})
	reaches(t, env, bank, "client", podURL(bankWeb), "hello from web")

	// Another project's pod: refused, as are the host's ports but the
	// allowed one on its gateway.
	cannotReach(t, env, bank, "client", podURL(shopWeb))
	gw, err := a.net.Gateway()
	if err != nil {
		t.Fatal(err)
	}
	allowed := listenHTTP(t, net.JoinHostPort(gw.String(), fmt.Sprint(allowedPort)))
	reaches(t, env, bank, "client", "http://"+allowed+"/", "host says hi")
	other := listenHTTP(t, "0.0.0.0:0")
	_, port, _ := net.SplitHostPort(other)
	cannotReach(t, env, bank, "client", "http://"+net.JoinHostPort(gw.String(), port)+"/")
	hostIP := getNode(t, env, "node-a").Status.Addresses[0].Address
	cannotReach(t, env, bank, "client", "http://"+net.JoinHostPort(hostIP, port)+"/")
	cgw, _ := c.net.Gateway()
	cannotReach(t, env, bank, "client", "http://"+net.JoinHostPort(cgw.String(), port)+"/")

	// Joined: bank's pods and shop's reach each other, once node-c's rules
	// let bank's client in (how soon is logged).
	joined := time.Now()
	setNetID(t, env, bank, netIDOf(t, env, shop))
	eventually(t, 10*time.Second, "node-c lets bank's client in", func() (bool, string) {
		out, err := exec.Command("iptables", "-w", "5", "-S").Output()
		for line := range strings.Lines(string(out)) {
			if strings.Contains(line, "-A BERTH-"+strings.ToUpper(c.scope)+"-N") && strings.Contains(line, bankClient.Status.PodIP+"/32") &&
				strings.Contains(string(out), "-d "+shopWeb.Status.PodIP+"/32 -j "+strings.Fields(line)[1]) {
				return true, ""
			}
		}
		return false, fmt.Sprint(err)
	})
	t.Logf("a join reached node-c's rules in %v", time.Since(joined).Round(time.Millisecond))
	reaches(t, env, bank, "client", podURL(shopWeb), "hello from web")
	reaches(t, env, shop, "client", podURL(bankWeb), "hello from web")
	cannotReach(t, env, shop, "client", podURL(toolsWeb))

	// Global: tools reaches and is reached by everyone.
	setNetID(t, env, tools, "global")
	reaches(t, env, shop, "client", podURL(toolsWeb), "hello from web")
	// Isolated again: bank no longer reaches shop.
	setNetID(t, env, bank, "")
	reaches(t, env, bank, "client", podURL(toolsWeb), "hello from web")
	eventually(t, 30*time.Second, "bank cut off from shop again", func() (bool, string) {
		ok, out := fetch(t, env, bank, "client", podURL(shopWeb))
		return !ok, out
	})

	// A pod keeps its address when stopped and started, and when its
	// infra container dies and is replaced.
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/"+shop+"/pods/web/stop", env.AdminToken, nil), http.StatusOK)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/"+shop+"/pods/web/start", env.AdminToken, nil), http.StatusOK)
	reaches(t, env, shop, "client", podURL(shopWeb), "hello from web")
	infra, err := c.rt.ListPods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	killed := false
	for _, p := range infra {
		if p.Namespace == shop && p.Name == "web" {
			out, err := exec.Command("docker", "ps", "-q", "--filter", "label="+runtime.LabelPodUID+"="+p.UID, "--filter", "label="+runtime.LabelContainer+"="+runtime.InfraContainerName).Output()
			if err != nil || len(strings.TrimSpace(string(out))) == 0 {
				t.Fatalf("the infra container of shop/web: %q %v", out, err)
			}
			if out, err := exec.Command("docker", "kill", strings.TrimSpace(string(out))).CombinedOutput(); err != nil {
				t.Fatalf("docker kill: %v: %s", err, out)
			}
			killed = true
		}
	}
	if !killed {
		t.Fatal("shop/web not found on node-c")
	}
	reaches(t, env, shop, "client", podURL(shopWeb), "hello from web")
	// The status follows the sync that replaced the infra; until then it
	// says the pod has no address.
	eventually(t, 10*time.Second, "shop/web's status with its address", func() (bool, string) {
		p, _ := getPod(t, env, shop, "web")
		if p == nil {
			return false, "no pod"
		}
		if ip := p.Status.PodIP; ip != "" && ip != shopWeb.Status.PodIP {
			t.Fatalf("shop/web moved from %s to %s", shopWeb.Status.PodIP, ip)
		}
		return p.Status.PodIP == shopWeb.Status.PodIP, "no address"
	})

	// The agents stop: nothing of theirs stays on the host, though their
	// containers keep running. Started again, they give the pods their
	// network back, with their addresses.
	before := map[string]*v1.Pod{}
	for _, name := range []string{"web", "client"} {
		before[name], _ = getPod(t, env, shop, name)
	}
	for _, na := range []*netAgent{a, c} {
		na.agent.stop(t)
		if left := berthOnHost(t, na.scope); left != "" {
			t.Errorf("after %s stopped, the host keeps:\n%s", na.name, left)
		}
	}
	startNetAgent(t, env, "node-a", a.stateDir, services)
	startNetAgent(t, env, "node-c", c.stateDir, services)
	reaches(t, env, shop, "client", podURL(shopWeb), "hello from web")
	for name, old := range before {
		if p, _ := getPod(t, env, shop, name); p.Status.PodIP != old.Status.PodIP || p.Status.ContainerStatuses[0].RestartCount != old.Status.ContainerStatuses[0].RestartCount {
			t.Errorf("shop/%s after the agents' restart: %s, %d restarts; before: %s, %d", name,
				p.Status.PodIP, p.Status.ContainerStatuses[0].RestartCount, old.Status.PodIP, old.Status.ContainerStatuses[0].RestartCount)
		}
	}
}

// TestPodNetworkWithoutIsolation: with the switch off every pod reaches
// every pod, and the host stays closed all the same.
func TestPodNetworkWithoutIsolation(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Configure: func(c *server.Config) { c.NoNetworkIsolation = true }})
	ctx := t.Context()
	cli := imagetest.Client(t)
	shell := imagetest.BuildShellImage(ctx, t, cli)
	const shop, bank = "pn-open-shop", "pn-open-bank"
	for _, ns := range []string{shop, bank} {
		imagetest.RemoveContainers(t, cli, runtime.LabelPodNamespace+"="+ns)
		mustCode(t, env.Do(t, "POST", "/api/v1/namespaces", env.AdminToken, map[string]any{"metadata": map[string]string{"name": ns}}), http.StatusCreated)
	}
	a := startNetAgent(t, env, "open-a", "", nil)
	startNetAgent(t, env, "open-c", "", nil)
	shopWeb := webPod(t, env, shell, shop, "web", "open-c")
	shellPod(t, env, shell, bank, "client", "open-a", "sleep 3600")
	reaches(t, env, bank, "client", podURL(shopWeb), "hello from web")
	gw, err := a.net.Gateway()
	if err != nil {
		t.Fatal(err)
	}
	other := listenHTTP(t, net.JoinHostPort(gw.String(), "0"))
	cannotReach(t, env, bank, "client", "http://"+other+"/")
}

// TestPodNetworkUnsupportedHost: an agent on a host without iptables says
// so at start and in its node's NetworkUnavailable condition, and the
// node takes no pods.
func TestPodNetworkUnsupportedHost(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	stateDir := t.TempDir()
	cli, err := docker.Dial("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	netw, err := network.New(network.Options{Engine: cli, StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := docker.New(ctx, docker.Options{StateDir: stateDir + "/runtime", Network: netw})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	if _, err := rt.EnsureInfraImage(ctx); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir()) // no iptables, no ip
	startAgent(t, node.Config{
		Master: env.URL, BootstrapTokenFile: bootstrapToken(t, env, "bare-host"), Name: "bare-host",
		StateDir: stateDir, Runtime: rt, Network: netw,
	})
	eventually(t, 30*time.Second, "NetworkUnavailable says why", func() (bool, string) {
		n := getNode(t, env, "bare-host")
		if n == nil {
			return false, "no node"
		}
		for _, c := range n.Status.Conditions {
			if c.Type == v1.NodeNetworkUnavailable {
				return c.Status == v1.ConditionTrue && c.Reason == "HostUnsupported" && strings.Contains(c.Message, "iptables"), c.Reason + ": " + c.Message
			}
		}
		return false, "no NetworkUnavailable condition"
	})
	if rc := readyCondition(getNode(t, env, "bare-host")); rc == nil || rc.Status != v1.ConditionTrue {
		t.Fatalf("the node should stay Ready (its runtime works): %+v", rc)
	}
}
