package network_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	dnetwork "github.com/docker/docker/api/types/network"

	"github.com/berthpaas/berth/backend/node/network"
	"github.com/berthpaas/berth/backend/node/runtime/imagetest"
	"github.com/berthpaas/berth/backend/testenv"
)

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// hostState is what the host shows of one agent's network (scope, the
// hex in its bridge's name) and of routes into cidr: rules, routes, links
// and Docker networks. Other tests' agents may come and go meanwhile.
func hostState(t *testing.T, scope string, cidr netip.Prefix) string {
	t.Helper()
	ours := func(line string) bool { return strings.Contains(strings.ToLower(line), scope) }
	var b strings.Builder
	for _, table := range []string{"filter", "nat"} {
		for line := range strings.Lines(sh(t, "iptables", "-w", "5", "-t", table, "-S")) {
			if ours(line) {
				b.WriteString(table + ": " + line)
			}
		}
	}
	for line := range strings.Lines(sh(t, "ip", "route")) {
		dst, _, _ := strings.Cut(line, " ")
		if p, err := netip.ParsePrefix(dst); (err == nil && cidr.Overlaps(p)) || ours(line) {
			b.WriteString("route: " + line)
		}
	}
	for line := range strings.Lines(sh(t, "ip", "-o", "link")) {
		if ours(line) {
			b.WriteString("link: " + line)
		}
	}
	for line := range strings.Lines(sh(t, "docker", "network", "ls", "--format", "{{.Name}}")) {
		if ours(line) {
			b.WriteString("docker network: " + line)
		}
	}
	return b.String()
}

// fakeRemoteNode makes an address the host reaches on a link of its own
// (a veth pair), as another node on the nodes' network would be: host-gw
// routes through it are valid. It is removed when the test ends.
func fakeRemoteNode(t *testing.T, i int) netip.Addr {
	t.Helper()
	link := fmt.Sprintf("bnt%d%d", time.Now().UnixNano()%100000, i)
	sh(t, "ip", "link", "add", link+"a", "type", "veth", "peer", "name", link+"b")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", link+"a").Run() })
	third := byte(time.Now().UnixNano()%200 + 20)
	sh(t, "ip", "addr", "add", fmt.Sprintf("198.18.%d.1/24", third), "dev", link+"a")
	sh(t, "ip", "link", "set", link+"a", "up")
	sh(t, "ip", "link", "set", link+"b", "up")
	return netip.AddrFrom4([4]byte{198, 18, third, 2})
}

func hostIP(t *testing.T) netip.Addr {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
			return p.Addr()
		}
	}
	t.Fatal("no IPv4 address on the host")
	return netip.Addr{}
}

func subnetOf(cidr netip.Prefix, i int) netip.Prefix {
	b := cidr.Addr().As4()
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{b[0], b[1], byte(i), 0}), 24)
}

// TestNetworkOnHost sets a node's network up on the real host and Docker
// engine: its bridge network, a host-gw route to a node elsewhere (and none
// to a node on this host, whose subnet the kernel routes already), its
// chains hooked into DOCKER-USER, INPUT and POSTROUTING; a node that goes
// takes its route along; an agent that died is cleaned up after by the
// next run, which takes another subnet; TearDown leaves nothing.
func TestNetworkOnHost(t *testing.T) {
	if testing.Short() {
		t.Skip("changes the host's routes and packet filter; skipped in -short mode")
	}
	ctx := t.Context()
	cli := imagetest.Client(t)
	cidr := testenv.ReserveClusterCIDR(t)
	stateDir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	n, err := network.New(network.Options{Engine: cli, StateDir: stateDir, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	scope := strings.TrimPrefix(n.Bridge(), network.BridgePrefix)
	before := hostState(t, scope, cidr)
	if before != "" {
		t.Fatalf("the host has things of this agent before it ran:\n%s", before)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.TearDown(ctx); err != nil {
			t.Errorf("tear down: %v", err)
		}
		if after := hostState(t, scope, cidr); after != "" {
			t.Errorf("the host keeps Berth's things after the test:\n%s", after)
		}
	})

	me, far, near := subnetOf(cidr, 0), subnetOf(cidr, 1), subnetOf(cidr, 2)
	remote := fakeRemoteNode(t, 0)
	cluster := network.Cluster{CIDR: cidr, Isolation: true, Nodes: []network.Node{
		{Name: "me", Address: hostIP(t), Subnet: me},
		{Name: "far", Address: remote, Subnet: far},
		{Name: "near", Address: hostIP(t), Subnet: near},
	}}
	if err := n.SetUp(ctx, me, cluster); err != nil {
		t.Fatal(err)
	}
	gw, err := n.Gateway()
	if err != nil || gw != me.Addr().Next() {
		t.Fatalf("gateway = %v, %v; want %v", gw, err, me.Addr().Next())
	}
	id, subnet, err := n.Attachment()
	if err != nil || subnet != me {
		t.Fatalf("attachment = %q %v %v", id, subnet, err)
	}
	info, err := cli.NetworkInspect(ctx, id, dnetwork.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Options["com.docker.network.bridge.name"] != n.Bridge() || info.IPAM.Config[0].Subnet != me.String() {
		t.Fatalf("docker network: %+v", info)
	}
	routes := sh(t, "ip", "route", "show", "proto", "66")
	if !strings.Contains(routes, far.String()+" via "+remote.String()) || strings.Contains(routes, near.String()) {
		t.Fatalf("routes:\n%s\nwant %s via %s and none to %s", routes, far, remote, near)
	}
	if link := sh(t, "ip", "route", "show", near.String()); link != "" {
		t.Logf("near's subnet is on no bridge here (its agent is not up): %q", link)
	}
	state := hostState(t, scope, cidr)
	for _, want := range []string{"-A DOCKER-USER -j BERTH-", "-A INPUT -j BERTH-", "nat: -A POSTROUTING -j BERTH-", "link: ", "docker network: "} {
		if !strings.Contains(state, want) {
			t.Errorf("the host lacks %q:\n%s", want, state)
		}
	}

	// The far node goes: its route too.
	cluster.Nodes = cluster.Nodes[:1]
	if err := n.Sync(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	if routes := sh(t, "ip", "route", "show", "proto", "66"); strings.Contains(routes, far.String()) {
		t.Fatalf("the route of a node that is gone stays:\n%s", routes)
	}

	// The agent dies with its route and rules in place; the next run, on
	// the same state directory, is given another subnet.
	cluster.Nodes = append(cluster.Nodes, network.Node{Name: "far", Address: remote, Subnet: far})
	if err := n.Sync(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	again, err := network.New(network.Options{Engine: cli, StateDir: stateDir, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	n = again // the cleanup tears this one down
	moved := subnetOf(cidr, 3)
	cluster.Nodes[0].Subnet = moved
	if err := n.SetUp(ctx, moved, cluster); err != nil {
		t.Fatal(err)
	}
	if state := hostState(t, scope, cidr); strings.Count(state, "docker network: ") != 1 || strings.Contains(state, me.String()) {
		t.Fatalf("after a restart on another subnet, one network on it:\n%s", state)
	}
	if _, subnet, _ := n.Attachment(); subnet != moved {
		t.Fatalf("the network is on %s, want %s", subnet, moved)
	}
	if err := n.TearDown(ctx); err != nil {
		t.Fatal(err)
	}
	if after := hostState(t, scope, cidr); after != "" {
		t.Fatalf("after TearDown:\n%s", after)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
