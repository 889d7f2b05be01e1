package network

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"

	"github.com/berthpaas/berth/backend/errdefs"
)

// ErrNotReady: the network is not set up (SetUp has not succeeded, or
// TearDown ran). [ErrUnavailable]
var ErrNotReady = errdefs.New(errdefs.ErrUnavailable, "the pod network is not set up")

// Options configure a Network.
type Options struct {
	// Engine is the Docker engine whose bridge network holds the pods;
	// required.
	Engine Engine
	// StateDir is the agent's state directory, which names its objects
	// on the host (so that agents sharing a host, and an agent that
	// restarts, find theirs); required.
	StateDir string
	// HostServices are the host's ports pods may reach (the service
	// proxy's, the DNS server's); DefaultHostServices when nil.
	HostServices []HostService
	// Logger receives the network's logs; slog.Default() when nil.
	Logger *slog.Logger
}

// Network is one node's share of the cluster's pod network on its host:
// its Docker bridge network, its routes to the other nodes' subnets and
// its packet filter rules. It is safe for concurrent use.
type Network struct {
	engine   Engine
	names    names
	metric   int // of its routes
	services []HostService
	logger   *slog.Logger

	mu sync.Mutex
	// The fields below are guarded by mu. subnet is invalid until SetUp.
	subnet    netip.Prefix
	networkID string
	cluster   Cluster
	applied   []byte  // the last rules restored
	installed []route // the routes it added
}

// New returns the network of the agent whose state lives in
// opts.StateDir; it changes nothing on the host before SetUp.
func New(opts Options) (*Network, error) {
	if opts.Engine == nil || opts.StateDir == "" {
		return nil, errors.New("network: an engine and a state directory are required")
	}
	dir, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(dir))
	n := &Network{
		engine:   opts.Engine,
		names:    names{scope: hex.EncodeToString(sum[:4])},
		metric:   1000 + int(binary.BigEndian.Uint16(sum[4:6]))%30000,
		services: opts.HostServices,
		logger:   opts.Logger,
	}
	if n.services == nil {
		n.services = DefaultHostServices
	}
	if n.logger == nil {
		n.logger = slog.Default()
	}
	n.logger = n.logger.With("pod_network", n.names.dockerNetwork())
	return n, nil
}

// Subnet is the node's pod subnet; ErrNotReady before SetUp.
func (n *Network) Subnet() (netip.Prefix, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.subnet.IsValid() {
		return netip.Prefix{}, ErrNotReady
	}
	return n.subnet, nil
}

// Gateway is the host's address on the node's pod network: the first
// address of its subnet, which every pod routes through. It is where pods
// reach the host's services (HostServices): the DNS server listens on
// Gateway():DNSPort, and a service proxy that pods reach on the host
// listens there too. ErrNotReady before SetUp.
func (n *Network) Gateway() (netip.Addr, error) {
	subnet, err := n.Subnet()
	if err != nil {
		return netip.Addr{}, err
	}
	return gatewayOf(subnet), nil
}

func gatewayOf(subnet netip.Prefix) netip.Addr { return subnet.Masked().Addr().Next() }

// Attachment is what the runtime needs to put a pod on the network: the
// Docker network's ID and the subnet its pods take addresses from.
// ErrNotReady before SetUp.
func (n *Network) Attachment() (networkID string, subnet netip.Prefix, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.networkID == "" {
		return "", netip.Prefix{}, ErrNotReady
	}
	return n.networkID, n.subnet, nil
}

// Bridge is the name of the Linux bridge of the node's pods.
func (n *Network) Bridge() string { return n.names.bridge() }

// SetUp makes the host carry the node's pods on subnet and programs it for
// c: it checks that the host can (ErrUnsupported says why not), removes
// what an earlier run of this agent left that does not fit (a network of
// another subnet, stale routes and rules), then creates or adopts its
// Docker network and applies c. It may be called again, with the same
// subnet or a new one.
func (n *Network) SetUp(ctx context.Context, subnet netip.Prefix, c Cluster) error {
	if !subnet.IsValid() || !subnet.Addr().Is4() || subnet.Bits() > 30 {
		return fmt.Errorf("pod subnet %s: want an IPv4 subnet of at least 4 addresses", subnet)
	}
	subnet = subnet.Masked()
	if err := checkHost(ctx); err != nil {
		return err
	}
	id, err := n.ensureDockerNetwork(ctx, subnet)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.subnet, n.networkID = subnet, id
	n.mu.Unlock()
	if err := n.Sync(ctx, c); err != nil {
		return err
	}
	n.logger.Info("pod network up", "subnet", subnet, "gateway", gatewayOf(subnet), "bridge", n.names.bridge())
	return nil
}

// Sync programs the host for the cluster as c describes it: its routes to
// the other nodes' subnets (and none to nodes that are gone) and its
// rules. ErrNotReady before SetUp.
func (n *Network) Sync(ctx context.Context, c Cluster) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.subnet.IsValid() {
		return ErrNotReady
	}
	if !c.CIDR.IsValid() {
		return errors.New("pod network: the cluster range is unknown")
	}
	local, err := hostAddresses()
	if err != nil {
		return err
	}
	n.cluster = c
	errs := []error{n.syncRoutes(ctx, c, local)}
	me := self{subnet: n.subnet, gateway: gatewayOf(n.subnet)}
	for _, node := range c.Nodes {
		if node.Subnet == n.subnet {
			me.name, me.pods = node.Name, node.Pods
		}
	}
	rs := rules(n.names, me, c, n.services, local)
	errs = append(errs, n.applyRules(ctx, rs))
	return errors.Join(errs...)
}

// syncRoutes adds the routes c needs and removes the agent's others.
// Called with mu held.
func (n *Network) syncRoutes(ctx context.Context, c Cluster, local func(netip.Addr) bool) error {
	want := routes(c, "", func(a netip.Addr) bool { return local(a) })
	var wantOthers []route
	for _, r := range want {
		if r.dst != n.subnet {
			wantOthers = append(wantOthers, r)
		}
	}
	have, err := installedRoutes(ctx, n.metric)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range have {
		if !slices.Contains(wantOthers, r) {
			if err := deleteRoute(ctx, r, n.metric); err != nil {
				errs = append(errs, err)
				continue
			}
			n.logger.Info("removed the route of a node that is gone", "route", r.String())
		}
	}
	for _, r := range wantOthers {
		if slices.Contains(have, r) {
			continue
		}
		if err := addRoute(ctx, r, n.metric); err != nil {
			// host-gw needs the nodes on one link: a gateway that is not
			// directly reachable is refused.
			errs = append(errs, fmt.Errorf("route %s (host-gw routing needs every node on one network): %w", r, err))
			continue
		}
		n.logger.Info("added a route to a node's pods", "route", r.String())
	}
	n.installed = wantOthers
	return errors.Join(errs...)
}

// applyRules restores the agent's chains to rs and hooks them in.
// Called with mu held.
func (n *Network) applyRules(ctx context.Context, rs ruleset) error {
	existing := map[string][]string{}
	for _, table := range []string{"filter", "nat"} {
		chains, err := ourChains(ctx, table, n.names.chain(""))
		if err != nil {
			return err
		}
		existing[table] = chains
	}
	input := restoreInput(rs, existing)
	if err := restore(ctx, input); err != nil {
		return fmt.Errorf("pod network rules: %w", err)
	}
	for _, j := range n.names.jumps() {
		if err := ensureJump(ctx, j); err != nil {
			return fmt.Errorf("pod network rules: %w", err)
		}
	}
	if string(input) != string(n.applied) {
		n.logger.Debug("pod network rules applied", "rules", string(input))
	}
	n.applied = input
	return nil
}

// Cluster is what the network was last synced with.
func (n *Network) Cluster() Cluster {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cluster
}

// Allowed reports whether a pod with address src may reach the pods of
// namespace under the cluster's isolation as last synced: for a service
// proxy that connects to endpoints on the pod's behalf (from the host's
// address, where the packet filter no longer sees who asked). Addresses
// that are no pod of the cluster (the hosts, the outside) are allowed.
func (n *Network) Allowed(src netip.Addr, namespace string) bool {
	c := n.Cluster()
	if !c.Isolation || !c.CIDR.Contains(src) {
		return true
	}
	for _, node := range c.Nodes {
		if !node.Subnet.IsValid() || !node.Subnet.Contains(src) {
			continue
		}
		srcNS, ok := node.Pods[src]
		if !ok {
			return false
		}
		from, to := netIDOf(c, srcNS), netIDOf(c, namespace)
		return from == to || from == GlobalNetID || to == GlobalNetID
	}
	return false
}

// TearDown removes everything of the node's pod network from the host:
// its rules, its routes and its Docker network (the pods' containers are
// disconnected from it and keep running; SetUp gives them their addresses
// back). It leaves nothing of Berth's for this agent, whatever it finds.
func (n *Network) TearDown(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	// A host without the tools has none of the agent's rules or routes.
	if _, err := exec.LookPath("iptables"); err == nil {
		for _, j := range n.names.jumps() {
			errs = append(errs, removeJump(ctx, j))
		}
		existing := map[string][]string{}
		for _, table := range []string{"filter", "nat"} {
			chains, err := ourChains(ctx, table, n.names.chain(""))
			errs = append(errs, err)
			existing[table] = chains
		}
		errs = append(errs, restore(ctx, restoreInput(ruleset{}, existing)))
	}
	if _, err := exec.LookPath("ip"); err == nil {
		if have, err := installedRoutes(ctx, n.metric); err != nil {
			errs = append(errs, err)
		} else {
			for _, r := range have {
				errs = append(errs, deleteRoute(ctx, r, n.metric))
			}
		}
	}
	errs = append(errs, n.removeDockerNetworks(ctx, netip.Prefix{}))
	n.subnet, n.networkID, n.applied, n.installed = netip.Prefix{}, "", nil, nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tear down the pod network: %w", err)
	}
	n.logger.Info("pod network removed from the host")
	return nil
}
