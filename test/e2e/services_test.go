package e2e

//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/imagetest"
	"github.com/berthpaas/berth/backend/proxy"
	"github.com/berthpaas/berth/backend/testenv"
	"github.com/berthpaas/berth/client"
)

// answerPod reads which pod answered from the hello server's reply.
var answerPod = regexp.MustCompile(`pod=(\S+)`)

// TestServicesAcrossAgents: three agents on one master, an RC of six
// hello pods behind a service. A client pod reaches it by cluster IP, by
// its DNS names and by its link variables, and every replica answers;
// scaled down, the removed pods get no request a second later; scaled up,
// the new ones get requests; an agent killed with its containers leaves
// the others answering; stopped agents leave no rule of the proxy behind.
func TestServicesAcrossAgents(t *testing.T) {
	t.Parallel()
	c := startPodCluster(t, "e2e-svc", "--no-node")
	services := testenv.ServiceCIDR(testenv.ClusterCIDR(t, c.up.dataDir))
	hello := imagetest.BuildHelloImage(t.Context(), t, c.docker)
	other := uniqueName("e2e-svc-other")
	// Registered before the agents start, so that it runs once they stopped.
	imagetest.RemoveContainers(t, c.docker, runtime.LabelPodNamespace+"="+other)
	createNamespace(t, c.env, c.env.AdminToken, other)
	stateDir := t.TempDir()
	agents := map[string]*nodeProcess{}
	names := []string{"svc-a", "svc-b", "svc-c"}
	for _, name := range names {
		agents[name] = startNode(t, c.url, nodeToken(t, c.env, name), name, filepath.Join(stateDir, name))
	}
	for _, name := range names {
		c.waitNodeReady(name, time.Time{}, agents[name])
	}
	id := proxy.ID(services.String())
	t.Cleanup(func() {
		// Every agent stopped: none of the proxy's rules is left.
		for _, n := range agents {
			n.stop()
		}
		for _, table := range []string{"nat", "filter"} {
			out, err := exec.Command("iptables-save", "-t", table).Output()
			if err != nil {
				t.Errorf("iptables-save: %v", err)
			}
			if strings.Contains(string(out), id) {
				t.Errorf("rules of the service proxy %s are left in the %s table:\n%s", id, table, grepLines(string(out), id))
			}
		}
	})

	svc := &v1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: v1.ServiceSpec{Selector: map[string]string{"app": "hello"}, Ports: []v1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
		}},
	}
	if err := c.api.Create(t.Context(), client.Services, c.ns, svc, svc); err != nil {
		t.Fatalf("create service: %v", err)
	}
	spec := newPod("hello", v1.Container{
		Name: "hello", Image: hello, ImagePullPolicy: v1.PullIfNotPresent,
		Ports: []v1.ContainerPort{{Name: "http", ContainerPort: 8080}},
	}).Spec
	if err := c.api.Create(t.Context(), client.ReplicationControllers, c.ns, replicationController("hello", 6, spec), nil); err != nil {
		t.Fatalf("create RC: %v", err)
	}
	replicas := podNames(c.waitPods("app=hello", 6, podStartTimeout))
	c.waitEndpoints("hello", replicas)

	c.create(c.shellPod("client", v1.RestartPolicyAlways, "sleep 3600"))
	clientPod := c.waitPod("client", podStartTimeout, "running", isRunning)

	t.Run("link variables, resolv.conf and /etc/hosts", func(t *testing.T) {
		env, _, _ := c.in(t).execSession("client", "env")
		for _, want := range []string{
			"HELLO_SERVICE_HOST=" + svc.Spec.ClusterIP, "HELLO_SERVICE_PORT=80", "HELLO_SERVICE_PORT_HTTP=80",
			"HELLO_PORT=tcp://" + svc.Spec.ClusterIP + ":80", "HELLO_PORT_80_TCP=tcp://" + svc.Spec.ClusterIP + ":80",
			"HELLO_PORT_80_TCP_PROTO=tcp", "HELLO_PORT_80_TCP_PORT=80", "HELLO_PORT_80_TCP_ADDR=" + svc.Spec.ClusterIP,
		} {
			if !slices.Contains(strings.Split(env, "\n"), want) {
				t.Errorf("the client's environment lacks %s:\n%s", want, env)
			}
		}
		resolv, _, _ := c.in(t).execSession("client", "cat", "/etc/resolv.conf")
		if !strings.Contains(resolv, "search "+c.ns+".svc.cluster.local svc.cluster.local cluster.local") || !strings.Contains(resolv, "ndots:5") {
			t.Errorf("resolv.conf:\n%s", resolv)
		}
		hosts, _, _ := c.in(t).execSession("client", "cat", "/etc/hosts")
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(clientPod.Status.PodIP) + `\s+client\b`).MatchString(hosts) {
			t.Errorf("/etc/hosts does not name the pod (%s):\n%s", clientPod.Status.PodIP, hosts)
		}
	})

	t.Run("every way in reaches a replica", func(t *testing.T) {
		for _, url := range []string{
			"http://$HELLO_SERVICE_HOST:$HELLO_SERVICE_PORT/",
			"http://$HELLO_PORT_80_TCP_ADDR:$HELLO_PORT_80_TCP_PORT/",
			"http://hello/", "http://hello." + c.ns + "/", "http://hello." + c.ns + ".svc.cluster.local/",
		} {
			got := c.in(t).requests("client", url, 1)
			if len(got) != 1 || !slices.Contains(replicas, got[0]) {
				t.Errorf("%s: answered by %q, want one of %q", url, got, replicas)
			}
		}
		counts := count(c.in(t).requests("client", "http://$HELLO_SERVICE_HOST/", 200))
		for _, r := range replicas {
			if counts[r] == 0 {
				t.Errorf("replica %s answered none of 200 requests: %v", r, counts)
			}
		}
	})

	t.Run("a pod of another project cannot reach the service", func(t *testing.T) {
		c := c.in(t)
		url := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, "80") + "/"
		c.reaches(c.ns, "client", url, "Hello from Berth")
		c.netPod(other, "intruder", clientPod.Spec.NodeName, "exec sleep 3600")
		c.cannotReach(other, "intruder", url)
	})

	t.Run("sessionAffinity ClientIP keeps the client on one replica", func(t *testing.T) {
		c := c.in(t)
		affinity := func(a v1.ServiceAffinity) {
			patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"sessionAffinity": a}})
			if err := c.api.Patch(t.Context(), client.Services, c.ns, "hello", client.MergePatch, patch, nil); err != nil {
				t.Fatalf("sessionAffinity %s: %v", a, err)
			}
		}
		affinity(v1.ServiceAffinityClientIP)
		var got map[string]int
		if !waitFor(10*time.Second, func() bool {
			got = count(c.requests("client", "http://$HELLO_SERVICE_HOST/", 12))
			return len(got) == 1
		}) {
			t.Errorf("with sessionAffinity ClientIP, 12 requests of one client reached %v", got)
		}
		affinity(v1.ServiceAffinityNone)
		if !waitFor(10*time.Second, func() bool {
			got = count(c.requests("client", "http://$HELLO_SERVICE_HOST/", 12))
			return len(got) > 1
		}) {
			t.Errorf("with sessionAffinity None again, 12 requests reached only %v", got)
		}
	})

	t.Run("node port from the host and from another machine, and its rules gone with the service", func(t *testing.T) {
		c := c.in(t)
		np := &v1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: "hello-np"},
			Spec: v1.ServiceSpec{Type: v1.ServiceTypeNodePort, Selector: map[string]string{"app": "hello"}, Ports: []v1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
			}},
		}
		if err := c.api.Create(t.Context(), client.Services, c.ns, np, np); err != nil {
			t.Fatalf("create NodePort service: %v", err)
		}
		c.waitEndpoints("hello-np", replicas)
		// The endpoints object leads the host's rules and the agents' DNS
		// (each a watch away): ask once both know the new service. Its
		// port is in the NAT table only once it has endpoints.
		comment := c.ns + "/hello-np:http"
		if !waitFor(30*time.Second, func() bool {
			out, err := exec.Command("iptables-save", "-t", "nat").Output()
			return err == nil && strings.Contains(string(out), comment)
		}) {
			t.Fatalf("the proxy never programmed %s", comment)
		}
		// Created after the client started: its DNS name finds it all the
		// same, once the agent's DNS has seen it.
		var last string
		if !waitFor(30*time.Second, func() bool {
			out, errOut, _ := c.execSession("client", "sh", "-c", `timeout 5 wget -q -O- http://hello-np/`)
			last = out + errOut
			got := answers(out)
			return len(got) == 1 && slices.Contains(replicas, got[0])
		}) {
			t.Errorf("http://hello-np/ from the client never reached a replica; last: %q", last)
		}
		// Any address of the host but loopback (see backend/proxy's doc).
		url := fmt.Sprintf("http://%s/", net.JoinHostPort(hostAddress(t), strconv.Itoa(int(np.Spec.Ports[0].NodePort))))
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		get := func() (string, error) {
			resp, err := hc.Get(url)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			return string(body), err
		}
		// The proxy follows the new service within a second.
		var first string
		if !waitFor(5*time.Second, func() bool {
			var err error
			first, err = get()
			return err == nil
		}) {
			_, err := get()
			t.Fatalf("GET %s: %v", url, err)
		}
		seen := answers(first)
		for range 30 {
			body, err := get()
			if err != nil {
				t.Fatalf("GET %s: %v", url, err)
			}
			seen = append(seen, answers(body)...)
		}
		for r := range count(seen) {
			if !slices.Contains(replicas, r) {
				t.Errorf("%s answered, not a replica of %q", r, replicas)
			}
		}
		if len(count(seen)) < 2 {
			t.Errorf("31 requests through the node port reached only %v", count(seen))
		}
		// From another machine: on the host's address on their link, and
		// on its first address, which that machine reaches through it.
		other := newOtherHost(t)
		nodePort := strconv.Itoa(int(np.Spec.Ports[0].NodePort))
		for _, addr := range []string{other.gateway, hostAddress(t)} {
			u := fmt.Sprintf("http://%s/", net.JoinHostPort(addr, nodePort))
			var seen []string
			for range 12 {
				body, err := other.get(u)
				if err != nil {
					t.Fatalf("GET %s from another machine: %v", u, err)
				}
				seen = append(seen, answers(body)...)
			}
			for r := range count(seen) {
				if !slices.Contains(replicas, r) {
					t.Errorf("%s from another machine: %s answered, not a replica of %q", u, r, replicas)
				}
			}
			if len(seen) != 12 {
				t.Errorf("%s from another machine: %d of 12 answers from replicas: %v", u, len(seen), count(seen))
			}
		}
		// Loopback is no address of the node's (see backend/proxy's doc).
		if _, err := hc.Get("http://" + net.JoinHostPort("127.0.0.1", nodePort) + "/"); err == nil {
			t.Errorf("the node port answers on 127.0.0.1")
		}
		if err := c.api.Delete(t.Context(), client.Services, c.ns, "hello-np"); err != nil {
			t.Fatalf("delete service: %v", err)
		}
		if !waitFor(5*time.Second, func() bool {
			out, err := exec.Command("iptables-save", "-t", "nat").Output()
			return err == nil && !strings.Contains(string(out), comment)
		}) {
			out, _ := exec.Command("iptables-save", "-t", "nat").Output()
			t.Errorf("rules of the deleted service are left:\n%s", grepLines(string(out), comment))
		}
		if _, err := get(); err == nil {
			t.Errorf("the node port of a deleted service still answers")
		}
		if _, err := other.get(fmt.Sprintf("http://%s/", net.JoinHostPort(other.gateway, nodePort))); err == nil {
			t.Errorf("the node port of a deleted service still answers another machine")
		}
	})

	t.Run("a UDP client keeps its source port while the endpoint is replaced", func(t *testing.T) {
		c := c.in(t)
		udpPod := func(name string) *v1.Pod {
			p := c.echoPod(name)
			p.Labels["svc"] = "udp"
			p.Spec.Containers[0].Ports = []v1.ContainerPort{{ContainerPort: 8080, Protocol: v1.ProtocolUDP}}
			return p
		}
		c.create(udpPod("udp-a"))
		a := c.waitPod("udp-a", podStartTimeout, "running", isRunning)
		udp := &v1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: "udp"},
			Spec: v1.ServiceSpec{Selector: map[string]string{"svc": "udp"}, Ports: []v1.ServicePort{
				{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP, TargetPort: intstr.FromInt32(8080)},
			}},
		}
		if err := c.api.Create(t.Context(), client.Services, c.ns, udp, udp); err != nil {
			t.Fatalf("create UDP service: %v", err)
		}
		c.waitEndpoints("udp", []string{"udp-a"})
		c.waitProxied(id, []string{net.JoinHostPort(a.Status.PodIP, "8080")})
		// The client is the echo program's UDP client in a pod of its
		// own, from source port 40053 each time: one flow.
		c.create(c.echoPod("udp-client"))
		c.waitPod("udp-client", podStartTimeout, "running", isRunning)
		ask := func(n int) string {
			out, errOut, code := c.execSession("udp-client", "/echo", "udp-ask", net.JoinHostPort(udp.Spec.ClusterIP, "53"), "40053", strconv.Itoa(n))
			if code != 0 {
				t.Fatalf("udp-ask: exit %d: %s", code, errOut)
			}
			return out
		}
		if out := ask(5); !strings.Contains(out, "udp host=udp-a") {
			t.Fatalf("the UDP service did not answer from udp-a:\n%s", out)
		}
		// Replace the endpoint: udp-b in, udp-a out of the service while
		// it still runs (as a pod that turns unready stays), so that
		// nothing but the proxy ends the flow's conntrack entry (Docker
		// deletes the entries of a container it removes).
		c.create(udpPod("udp-b"))
		b := c.waitPod("udp-b", podStartTimeout, "running", isRunning)
		unlabel, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{"svc": nil}}})
		if err := c.api.Patch(t.Context(), client.Pods, c.ns, "udp-a", client.MergePatch, unlabel, nil); err != nil {
			t.Fatalf("take udp-a out of the service: %v", err)
		}
		c.waitEndpoints("udp", []string{"udp-b"})
		c.waitProxied(id, []string{net.JoinHostPort(b.Status.PodIP, "8080")})
		// The endpoints object leads the rules (udp-b may be in them beside
		// udp-a for a moment); the proxy clears the flows of an endpoint
		// that left right after the sync that takes it out.
		udpA := net.JoinHostPort(a.Status.PodIP, "8080")
		if !waitFor(10*time.Second, func() bool {
			out, err := exec.Command("iptables-save", "-t", "nat").Output()
			return err == nil && !strings.Contains(grepLines(string(out), id), "--to-destination "+udpA)
		}) {
			t.Fatalf("udp-a (%s) stayed in the proxy's rules", udpA)
		}
		// The flow's conntrack entry names udp-a until the proxy deletes
		// it; the client's datagrams would go on reaching udp-a. UDP
		// entries outlive this wait (30 s, 120 s once both ways were seen).
		if !waitFor(10*time.Second, func() bool { return !udpFlowTo(t, udp.Spec.ClusterIP, a.Status.PodIP) }) {
			t.Errorf("the client's flow to %s:53 still goes to udp-a (%s): the proxy did not clear it", udp.Spec.ClusterIP, udpA)
		}
		out := ask(10)
		if !strings.Contains(out, "udp host=udp-b") || strings.Contains(out, "udp host=udp-a") {
			t.Errorf("after udp-a was replaced by udp-b, the client's flow (source port 40053) reached:\n%s", out)
		}
		if err := c.api.Delete(t.Context(), client.Services, c.ns, "udp"); err != nil {
			t.Fatalf("delete UDP service: %v", err)
		}
		for _, name := range []string{"udp-a", "udp-b", "udp-client"} {
			if err := c.api.Delete(t.Context(), client.Pods, c.ns, name); err != nil {
				t.Fatalf("delete %s: %v", name, err)
			}
		}
	})

	t.Run("scaled down, the removed pods get no more requests", func(t *testing.T) {
		c := c.in(t)
		scaledAt := c.scale("hello", 2)
		kept := podNames(c.waitPods("app=hello", 2, podStartTimeout))
		// The requirement is a second: ask from then on.
		time.Sleep(time.Until(scaledAt.Add(time.Second)))
		for r, n := range count(c.requests("client", "http://$HELLO_SERVICE_HOST/", 40)) {
			if !slices.Contains(kept, r) {
				t.Errorf("a removed pod, %s, answered %d requests a second after the scale", r, n)
			}
		}
	})

	t.Run("scaled up, the new pods get requests", func(t *testing.T) {
		c := c.in(t)
		c.scale("hello", 6)
		pods := c.waitPods("app=hello", 6, podStartTimeout)
		replicas = podNames(pods)
		c.waitEndpoints("hello", replicas)
		// The endpoints object leads the host's rules (the proxy's watch,
		// then a sync): count once every replica is in them.
		var addrs []string
		for _, p := range pods {
			addrs = append(addrs, net.JoinHostPort(p.Status.PodIP, "8080"))
		}
		c.waitProxied(id, addrs)
		// Each replica gets a request with probability 1/6: all six
		// answer 120 requests but once in 3·10⁹ runs.
		counts := count(c.requests("client", "http://$HELLO_SERVICE_HOST/", 120))
		for _, r := range replicas {
			if counts[r] == 0 {
				t.Errorf("replica %s answered none of 120 requests: %v", r, counts)
			}
		}
	})

	t.Run("an agent killed with its containers", func(t *testing.T) {
		c := c.in(t)
		victim := ""
		for _, p := range c.waitPods("app=hello", 6, podStartTimeout) {
			if p.Spec.NodeName != clientPod.Spec.NodeName {
				victim = p.Spec.NodeName
			}
		}
		var lost []string
		for _, p := range c.waitPods("app=hello", 6, podStartTimeout) {
			if p.Spec.NodeName == victim {
				lost = append(lost, p.Name)
			}
		}
		agents[victim].kill9()
		for _, p := range c.waitPods("app=hello", 6, podStartTimeout) {
			if p.Spec.NodeName == victim {
				for _, ct := range podContainers(t, c.docker, string(p.UID)) {
					if err := imagetest.RemoveContainer(t.Context(), c.docker, ct.ID); err != nil {
						t.Fatalf("remove %s: %v", ct.Names, err)
					}
				}
			}
		}
		// Each request may be tried twice (the client's retry); none may
		// fail both times, and the lost pods answer none.
		out, errOut, code := c.execSession("client", "sh", "-c", `
			i=0; while [ $i -lt 60 ]; do
				timeout 3 wget -q -O- http://$HELLO_SERVICE_HOST/ || { echo RETRIED; timeout 3 wget -q -O- http://$HELLO_SERVICE_HOST/; } || echo FAILED
				i=$((i+1))
			done`)
		t.Logf("60 requests after node %s died: %d retried, %d failed twice", victim, strings.Count(out, "RETRIED"), strings.Count(out, "FAILED"))
		for name, n := range agents {
			t.Logf("agent %s:\n%s", name, grepLines(n.out.String(), "proxy"))
		}
		if code != 0 || strings.Contains(out, "FAILED") {
			t.Errorf("requests after node %s died: exit %d, %d failed twice\n%s", victim, code, strings.Count(out, "FAILED"), errOut)
			rules, _ := exec.Command("iptables-save", "-t", "nat").Output()
			t.Logf("the proxy's rules:\n%s", grepLines(string(rules), proxy.ID(services.String())))
		}
		for r := range count(answers(out)) {
			if slices.Contains(lost, r) {
				t.Errorf("pod %s of the dead node answered", r)
			}
		}
	})
}

// requests has the client pod ask url n times (wget, a new connection
// each) and returns who answered each.
func (c *podCluster) requests(pod, url string, n int) []string {
	c.t.Helper()
	out, errOut, code := c.execSession(pod, "sh", "-c",
		fmt.Sprintf(`i=0; while [ $i -lt %d ]; do timeout 5 wget -q -O- "%s" || echo FAILED; i=$((i+1)); done`, n, url))
	if code != 0 || strings.Contains(out, "FAILED") {
		c.t.Fatalf("%d requests to %s from %s: exit %d, %d failed\nstderr: %s", n, url, pod, code, strings.Count(out, "FAILED"), errOut)
	}
	got := answers(out)
	if len(got) != n {
		c.t.Fatalf("%d requests to %s: %d answers:\n%s", n, url, len(got), out)
	}
	return got
}

func answers(out string) []string {
	var got []string
	for _, m := range answerPod.FindAllStringSubmatch(out, -1) {
		got = append(got, m[1])
	}
	return got
}

func count(names []string) map[string]int {
	out := map[string]int{}
	for _, n := range names {
		out[n]++
	}
	return out
}

func podNames(pods []v1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

// scale sets the RC's replicas and returns when it did.
func (c *podCluster) scale(rc string, replicas int) time.Time {
	c.t.Helper()
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"replicas": replicas}})
	at := time.Now()
	if err := c.api.Patch(c.t.Context(), client.ReplicationControllers, c.ns, rc, client.MergePatch, patch, nil); err != nil {
		c.t.Fatalf("scale %s to %d: %v", rc, replicas, err)
	}
	return at
}

// waitEndpoints waits until the service's ready addresses are the pods'.
func (c *podCluster) waitEndpoints(name string, pods []string) {
	c.t.Helper()
	var ep v1.Endpoints
	ok := waitFor(time.Minute, func() bool {
		if err := c.api.Get(c.t.Context(), client.Endpoints, c.ns, name, &ep); err != nil {
			return false
		}
		var ready []string
		for _, ss := range ep.Subsets {
			for _, a := range ss.Addresses {
				if a.TargetRef != nil {
					ready = append(ready, a.TargetRef.Name)
				}
			}
		}
		slices.Sort(ready)
		want := slices.Sorted(slices.Values(pods))
		return slices.Equal(ready, want)
	})
	if !ok {
		c.t.Fatalf("endpoints %s never listed %q: %+v", name, pods, ep.Subsets)
	}
}

// waitProxied waits until the service proxy id's rules on the host DNAT
// to every address (ip:port).
func (c *podCluster) waitProxied(id string, addrs []string) {
	c.t.Helper()
	var rules string
	if !waitFor(30*time.Second, func() bool {
		out, err := exec.Command("iptables-save", "-t", "nat").Output()
		if err != nil {
			return false
		}
		rules = grepLines(string(out), id)
		lines := strings.Split(rules, "\n")
		for _, a := range addrs {
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasSuffix(l, "-j DNAT --to-destination "+a) }) {
				return false
			}
		}
		return true
	}) {
		c.t.Fatalf("the proxy's rules never DNATed to all of %q:\n%s", addrs, rules)
	}
}

func grepLines(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// hostAddress is an IPv4 address of the host other than loopback.
func hostAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	t.Fatal("the host has no IPv4 address but loopback")
	return ""
}

// udpFlowTo reports whether the host's conntrack table holds a UDP flow to
// serviceIP that the proxy sent to podIP.
func udpFlowTo(t *testing.T, serviceIP, podIP string) bool {
	t.Helper()
	flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
	if err != nil {
		t.Fatalf("list conntrack: %v", err)
	}
	for _, f := range flows {
		if f.Forward.Protocol == unix.IPPROTO_UDP && f.Forward.DstIP.String() == serviceIP && f.Reverse.SrcIP.String() == podIP {
			return true
		}
	}
	return false
}
