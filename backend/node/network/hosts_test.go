package network

//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/proxy"
)

// Machines for tests: network namespaces joined by veth pairs stand for
// other hosts and for pods, each with a packet filter of its own.

func must(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// addNetns makes a network namespace, removed (with its links) when the
// test ends.
func addNetns(t *testing.T, name string) {
	t.Helper()
	must(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	must(t, "ip", "-n", name, "link", "set", "lo", "up")
}

// link joins namespace a (""; the host) and b with a veth pair named
// aName and bName, addressed aAddr and bAddr (prefixes).
func link(t *testing.T, a, aName string, aAddr netip.Prefix, b, bName string, bAddr netip.Prefix) {
	t.Helper()
	ip := func(ns string, args ...string) {
		if ns != "" {
			args = append([]string{"-n", ns}, args...)
		}
		must(t, append([]string{"ip"}, args...)...)
	}
	ip(a, "link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b)
	if a == "" {
		// Deleting one end deletes the pair; the namespace's deletion
		// takes it too, this is for a test that stops half-way.
		t.Cleanup(func() { _ = exec.Command("ip", "link", "del", aName).Run() })
	}
	if aAddr.IsValid() {
		ip(a, "addr", "add", aAddr.String(), "dev", aName)
	}
	ip(b, "addr", "add", bAddr.String(), "dev", bName)
	ip(a, "link", "set", aName, "up")
	ip(b, "link", "set", bName, "up")
}

// inNetns runs f on a thread in the namespace; sockets made there stay
// in it. The thread is thrown away afterwards.
func inNetns[T any](t *testing.T, name string, f func() (T, error)) (T, error) {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine.
		runtime.LockOSThread()
		h, err := netns.GetFromName(name)
		if err == nil {
			defer h.Close()
			err = netns.Set(h)
		}
		if err != nil {
			var zero T
			done <- result{zero, err}
			return
		}
		v, err := f()
		done <- result{v, err}
	}()
	r := <-done
	return r.v, r.err
}

// TestServiceKeepsIsolationAcrossHosts performs, on two machines, the
// attack that a service proxy masquerading pods' connections would let
// through: a pod of another project on host A connects to a service
// whose only endpoint is a pod on host B. Host A runs the real service
// proxy (this host's iptables); host B, a network namespace, the pod
// network's real rules; the pods are namespaces behind them. Host B's
// rules must see the client pod's own address to judge it: its
// connection is refused, while a pod of the service's project on host A
// gets through, and so does a connection from host A itself.
//
// On one host (the e2e tests' agents) this cannot be seen: the isolation
// there judges a forwarded packet before POSTROUTING would masquerade it.
func TestServiceKeepsIsolationAcrossHosts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces and the host's iptables")
	}
	for _, tool := range []string{"ip", "iptables", "iptables-restore", "sysctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	// In 198.19.0.0/16 (benchmarking, RFC 2544), k a multiple of 4: the
	// hosts' link k, the cluster IP in k+1, the cluster's pod range
	// k+2/23 with host A's pods in k+2 and host B's in k+3.
	k := rand.IntN(60)*4 + 4
	ip := func(i, host int) netip.Addr { return netip.AddrFrom4([4]byte{198, 19, byte(k + i), byte(host)}) }
	pfx := func(i, host, bits int) netip.Prefix { return netip.PrefixFrom(ip(i, host), bits) }
	tag := fmt.Sprintf("%05x", rand.IntN(1<<20))
	hostB, intruderNS, friendNS, victimNS := "berth-hb-"+tag, "berth-px-"+tag, "berth-pf-"+tag, "berth-pv-"+tag
	for _, ns := range []string{hostB, intruderNS, friendNS, victimNS} {
		addNetns(t, ns)
	}
	nodeA, nodeB := ip(0, 1), ip(0, 2)
	intruder, friend, victim := ip(2, 2), ip(2, 3), ip(3, 2)

	// Host A (this host): its pods on a bridge of their own, a route to
	// host B's pods through host B, as the pod network makes them.
	bridge := "bb" + tag
	must(t, "ip", "link", "add", bridge, "type", "bridge")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", bridge).Run() })
	must(t, "ip", "addr", "add", pfx(2, 1, 24).String(), "dev", bridge)
	must(t, "ip", "link", "set", bridge, "up")
	// What Docker's rules let out of its bridges' networks.
	out := []string{"FORWARD", "-i", bridge, "!", "-o", bridge, "-j", "ACCEPT"}
	must(t, append([]string{"iptables", "-w", "5", "-A"}, out...)...)
	t.Cleanup(func() { must(t, append([]string{"iptables", "-w", "5", "-D"}, out...)...) })
	for _, p := range []struct {
		ns, veth string
		addr     netip.Addr
	}{{intruderNS, "bx" + tag, intruder}, {friendNS, "bf" + tag, friend}} {
		link(t, "", p.veth, netip.Prefix{}, p.ns, "eth0", netip.PrefixFrom(p.addr, 24))
		must(t, "ip", "link", "set", p.veth, "master", bridge)
		must(t, "ip", "-n", p.ns, "route", "add", "default", "via", ip(2, 1).String())
	}
	link(t, "", "bu"+tag, pfx(0, 1, 24), hostB, "eth0", pfx(0, 2, 24))
	must(t, "ip", "route", "add", pfx(3, 0, 24).String(), "via", nodeB.String())

	// Host B: forwarding, its pod behind the interface its rules name,
	// and the pod network's rules for this cluster.
	must(t, "ip", "netns", "exec", hostB, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	must(t, "ip", "-n", hostB, "route", "add", "default", "via", nodeA.String())
	n := names{scope: fmt.Sprintf("%08x", rand.Uint32())}
	link(t, hostB, n.bridge(), pfx(3, 1, 24), victimNS, "eth0", pfx(3, 2, 24))
	must(t, "ip", "-n", victimNS, "route", "add", "default", "via", ip(3, 1).String())
	cluster := Cluster{
		CIDR: pfx(2, 0, 23), Isolation: true,
		Nodes: []Node{
			{Name: "a", Address: nodeA, Subnet: pfx(2, 0, 24), Pods: map[netip.Addr]string{intruder: "intruder", friend: "victim"}},
			{Name: "b", Address: nodeB, Subnet: pfx(3, 0, 24), Pods: map[netip.Addr]string{victim: "victim"}},
		},
		NetIDs: map[string]string{"intruder": "101", "victim": "102"},
	}
	me := self{name: "b", subnet: pfx(3, 0, 24), gateway: ip(3, 1), pods: map[netip.Addr]string{victim: "victim"}}
	rs := rules(n, me, cluster, nil, func(a netip.Addr) bool { return a == nodeB })
	restoreIn := exec.Command("ip", "netns", "exec", hostB, "iptables-restore", "--noflush")
	restoreIn.Stdin = strings.NewReader(string(restoreInput(rs, nil)))
	if out, err := restoreIn.CombinedOutput(); err != nil {
		t.Fatalf("host B's rules: %v: %s", err, out)
	}
	must(t, "ip", "netns", "exec", hostB, "iptables", "-N", "DOCKER-USER")
	must(t, "ip", "netns", "exec", hostB, "iptables", "-A", "FORWARD", "-j", "DOCKER-USER")
	must(t, "ip", "netns", "exec", hostB, "iptables", "-A", "DOCKER-USER", "-j", n.forwardChain())

	// The victim pod serves on 8080.
	l, err := inNetns(t, victimNS, func() (net.Listener, error) { return net.Listen("tcp4", ":8080") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, "victim")
			c.Close()
		}
	}()

	// Host A's service proxy, with a service of the victim's project.
	ctx := t.Context()
	network := "test-isolation-" + tag
	p, err := proxy.New(ctx, network, slog.New(slog.DiscardHandler))
	if proxy.IsUnsupported(err) {
		t.Skipf("the service proxy cannot run here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	clusterIP := ip(1, 10)
	svc := &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "victim", Name: "web"},
		Spec: v1.ServiceSpec{ClusterIP: clusterIP.String(), Ports: []v1.ServicePort{{Name: "http", Port: 80, Protocol: v1.ProtocolTCP}}}}
	eps := &v1.Endpoints{ObjectMeta: svc.ObjectMeta, Subsets: []v1.EndpointSubset{{
		Addresses: []v1.EndpointAddress{{IP: victim.String(), NodeName: ptrTo("b")}},
		Ports:     []v1.EndpointPort{{Name: "http", Port: 8080, Protocol: v1.ProtocolTCP}},
	}}}
	p.Update([]*v1.Service{svc}, map[string]*v1.Endpoints{"victim/web": eps})
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	service := netip.AddrPortFrom(clusterIP, 80).String()
	get := func(ns string) (string, error) {
		dial := func() (net.Conn, error) { return net.DialTimeout("tcp4", service, 2*time.Second) }
		var c net.Conn
		var err error
		if ns == "" {
			c, err = dial()
		} else {
			c, err = inNetns(t, ns, dial)
		}
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		return bufio.NewReader(c).ReadString('\n')
	}
	reaches := func(who, ns string) {
		t.Helper()
		var got string
		var err error
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
			if got, err = get(ns); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got != "victim\n" {
			t.Fatalf("%s did not reach the service %s: %q, %v", who, service, got, err)
		}
	}
	reaches("host A", "")
	reaches("a pod of the service's project on host A", friendNS)
	if got, err := get(intruderNS); err == nil {
		t.Errorf("a pod of another project on host A reached the service's pod on host B: %q", got)
	}
}

func ptrTo[T any](v T) *T { return &v }
