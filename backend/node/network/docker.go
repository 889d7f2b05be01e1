package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
)

// Engine is what the network needs of the Docker engine (*client.Client).
type Engine interface {
	NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error)
	NetworkInspect(ctx context.Context, networkID string, options network.InspectOptions) (network.Inspect, error)
	NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error)
	NetworkRemove(ctx context.Context, networkID string) error
	NetworkDisconnect(ctx context.Context, networkID, containerID string, force bool) error
}

// Labels of the Docker networks of Berth.
const (
	// LabelScope names the agent whose network it is (its state
	// directory's hash), as the runtime's containers carry theirs.
	LabelScope = "dev.berth.network.scope"
)

// ensureDockerNetwork returns the ID of the agent's Docker network for
// subnet, creating it, or adopting the one an earlier run left; the
// agent's networks of other subnets go first.
func (n *Network) ensureDockerNetwork(ctx context.Context, subnet netip.Prefix) (string, error) {
	if err := n.removeDockerNetworks(ctx, subnet); err != nil {
		return "", err
	}
	name := n.names.dockerNetwork()
	existing, err := n.engine.NetworkInspect(ctx, name, network.InspectOptions{})
	switch {
	case err == nil:
		n.logger.Info("adopting the pod network of an earlier run", "network_id", existing.ID[:12])
		return existing.ID, n.checkBridge()
	case !cerrdefs.IsNotFound(err):
		return "", fmt.Errorf("pod network: %w", err)
	}
	created, err := n.engine.NetworkCreate(ctx, name, network.CreateOptions{
		Driver: "bridge",
		IPAM: &network.IPAM{Config: []network.IPAMConfig{{
			Subnet: subnet.String(), Gateway: gatewayOf(subnet).String(),
		}}},
		Options: map[string]string{
			"com.docker.network.bridge.name": n.names.bridge(),
			// The agent masquerades only what leaves the cluster: pods
			// see each other's own addresses (no NAT between pods).
			"com.docker.network.bridge.enable_ip_masquerade": "false",
		},
		Labels: map[string]string{LabelScope: n.names.scope},
	})
	if err != nil {
		return "", fmt.Errorf("create the pod network %s on %s: %w", name, subnet, err)
	}
	n.logger.Info("created the pod network", "subnet", subnet, "network_id", created.ID[:12])
	return created.ID, n.checkBridge()
}

// checkBridge confirms that the network's bridge is in the agent's
// network namespace, where its routes and rules take effect.
func (n *Network) checkBridge() error {
	if _, err := net.InterfaceByName(n.names.bridge()); err != nil {
		return fmt.Errorf("%w: the bridge %s of the pod network is not in the agent's network namespace (run the agent in the Docker engine's, e.g. with --network host): %v",
			ErrUnsupported, n.names.bridge(), err)
	}
	return nil
}

// removeDockerNetworks removes the agent's Docker networks whose subnet
// is not keep (all of them when keep is invalid), disconnecting the
// containers still on them.
func (n *Network) removeDockerNetworks(ctx context.Context, keep netip.Prefix) error {
	list, err := n.engine.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelScope+"="+n.names.scope))})
	if err != nil {
		return fmt.Errorf("pod networks: %w", err)
	}
	var errs []error
	for _, s := range list {
		if keep.IsValid() && s.Name == n.names.dockerNetwork() && len(s.IPAM.Config) == 1 && s.IPAM.Config[0].Subnet == keep.String() {
			continue
		}
		info, err := n.engine.NetworkInspect(ctx, s.ID, network.InspectOptions{})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
			continue
		}
		for id := range info.Containers {
			if err := n.engine.NetworkDisconnect(ctx, s.ID, id, true); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("disconnect container %.12s from the pod network: %w", id, err))
			}
		}
		if err := n.engine.NetworkRemove(ctx, s.ID); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove the pod network %s: %w", s.Name, err))
			continue
		}
		n.logger.Info("removed a pod network", "network", s.Name, "containers_disconnected", len(info.Containers))
	}
	return errors.Join(errs...)
}
