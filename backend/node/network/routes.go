package network

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
)

// RouteProtocol marks the routes of Berth in the kernel's table (`ip route
// show proto 66`); each agent's routes carry its own metric besides, so
// that agents on one host tell theirs apart.
const RouteProtocol = 66

// route is one host-gw route: a node's pod subnet through its address.
type route struct {
	dst netip.Prefix
	via netip.Addr
}

func (r route) String() string { return r.dst.String() + " via " + r.via.String() }

// routes are the routes this node needs, flannel's host-gw way: each other
// node's subnet through that node's address. A node whose address is one
// of this host's (several agents on one engine) needs none: its subnet is
// on a bridge of this host, which the kernel routes to already.
func routes(c Cluster, me string, local func(netip.Addr) bool) []route {
	var out []route
	for _, node := range c.Nodes {
		if node.Name == me || !node.Subnet.IsValid() || !node.Address.IsValid() || !node.Address.Is4() || local(node.Address) {
			continue
		}
		out = append(out, route{dst: node.Subnet.Masked(), via: node.Address})
	}
	slices.SortFunc(out, func(a, b route) int { return a.dst.Addr().Compare(b.dst.Addr()) })
	return out
}

// ipRoute is a route as `ip -j route` prints it.
type ipRoute struct {
	Dst     string `json:"dst"`
	Gateway string `json:"gateway"`
	Metric  int    `json:"metric"`
}

// installedRoutes are the routes of proto RouteProtocol and metric.
func installedRoutes(ctx context.Context, metric int) ([]route, error) {
	out, err := run(ctx, nil, "ip", "-j", "-4", "route", "show", "proto", strconv.Itoa(RouteProtocol))
	if err != nil {
		return nil, err
	}
	var listed []ipRoute
	if len(out) > 0 {
		if err := json.Unmarshal(out, &listed); err != nil {
			return nil, fmt.Errorf("ip route: %w", err)
		}
	}
	var rs []route
	for _, r := range listed {
		dst, err1 := netip.ParsePrefix(r.Dst)
		via, err2 := netip.ParseAddr(r.Gateway)
		if err1 == nil && err2 == nil && r.Metric == metric {
			rs = append(rs, route{dst: dst, via: via})
		}
	}
	return rs, nil
}

func routeArgs(verb string, r route, metric int) []string {
	return []string{"route", verb, r.dst.String(), "via", r.via.String(), "proto", strconv.Itoa(RouteProtocol), "metric", strconv.Itoa(metric)}
}

func addRoute(ctx context.Context, r route, metric int) error {
	_, err := run(ctx, nil, "ip", routeArgs("replace", r, metric)...)
	return err
}

func deleteRoute(ctx context.Context, r route, metric int) error {
	_, err := run(ctx, nil, "ip", routeArgs("del", r, metric)...)
	return err
}

// hostAddresses returns a test of whether an address is one of the
// host's own.
func hostAddresses() (func(netip.Addr) bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("host addresses: %w", err)
	}
	own := map[netip.Addr]bool{}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			own[p.Addr()] = true
		}
	}
	return func(a netip.Addr) bool { return own[a] || a.IsLoopback() }, nil
}
