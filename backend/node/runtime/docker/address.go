package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
)

// PodNetwork is the network the runtime puts pods on (network.Network):
// the agent's Docker bridge network with the node's pod subnet.
type PodNetwork interface {
	// Attachment returns the Docker network's ID and its subnet; an
	// errdefs.ErrUnavailable error while the network is not up.
	Attachment() (networkID string, subnet netip.Prefix, err error)
}

// A pod keeps its address while it lives: the runtime picks it from the
// subnet when the pod first starts and records it in the pod's state
// directory, which KillPod removes. An infra container that is replaced,
// or reconnected after the network was recreated, takes the same address
// again (Docker's IPAM honours a requested address on a network with a
// configured subnet).
const addressFile = "address"

// podAddress returns the pod's address, choosing and recording one if it
// has none (or one outside the current subnet). Called with the pod's
// lock held.
func (r *Runtime) podAddress(uid string, subnet netip.Prefix) (netip.Addr, error) {
	if data, err := os.ReadFile(filepath.Join(r.podDir(uid), addressFile)); err == nil {
		if addr, err := netip.ParseAddr(strings.TrimSpace(string(data))); err == nil && subnet.Contains(addr) {
			return addr, nil
		}
	}
	r.addrMu.Lock()
	defer r.addrMu.Unlock()
	taken, err := r.takenAddresses(uid)
	if err != nil {
		return netip.Addr{}, err
	}
	// The addresses after the gateway, short of the broadcast one, from
	// the one after the last handed out: an address that a pod just left
	// is reused last, so that the other nodes have long forgotten whose
	// project it was.
	var candidates []netip.Addr
	for a := subnet.Masked().Addr().Next().Next(); subnet.Contains(a.Next()); a = a.Next() {
		candidates = append(candidates, a)
	}
	start := 0
	for i, a := range candidates {
		if a == r.lastAddr {
			start = i + 1
		}
	}
	for i := range candidates {
		a := candidates[(start+i)%len(candidates)]
		if taken[a] {
			continue
		}
		r.lastAddr = a
		if err := os.MkdirAll(r.podDir(uid), 0o755); err != nil {
			return netip.Addr{}, fmt.Errorf("pod %q: %w", uid, err)
		}
		if err := os.WriteFile(filepath.Join(r.podDir(uid), addressFile), []byte(a.String()+"\n"), 0o644); err != nil {
			return netip.Addr{}, fmt.Errorf("pod %q: recording its address: %w", uid, err)
		}
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("the pod subnet %s has no free address left", subnet)
}

// takenAddresses are the addresses other pods of the runtime hold.
func (r *Runtime) takenAddresses(except string) (map[netip.Addr]bool, error) {
	entries, err := os.ReadDir(filepath.Join(r.stateDir, "pods"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	taken := map[netip.Addr]bool{}
	for _, e := range entries {
		if e.Name() == except {
			continue
		}
		data, err := os.ReadFile(filepath.Join(r.podDir(e.Name()), addressFile))
		if err != nil {
			continue
		}
		if addr, err := netip.ParseAddr(strings.TrimSpace(string(data))); err == nil {
			taken[addr] = true
		}
	}
	return taken, nil
}

// podNetworking is how the infra container of pod uid joins the network:
// on the pod network with the pod's address, or Docker's default bridge
// for a runtime that has no pod network (one used without an agent).
func (r *Runtime) podNetworking(uid string) (container.NetworkMode, *network.NetworkingConfig, error) {
	if r.network == nil {
		return "bridge", nil, nil
	}
	id, subnet, err := r.network.Attachment()
	if err != nil {
		return "", nil, fmt.Errorf("pod %q cannot start: %w", uid, err)
	}
	addr, err := r.podAddress(uid, subnet)
	if err != nil {
		return "", nil, err
	}
	return container.NetworkMode(id), &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		id: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: addr.String()}},
	}}, nil
}

// attachInfra makes a running infra container a member of the pod
// network again, after the network was recreated (the agent removes it
// when it stops): the pod keeps its address and its app containers, which
// share the infra's network namespace. It reports false when the infra
// is on some other network (Docker's default bridge, from before the pod
// network): then it must be replaced.
func (r *Runtime) attachInfra(ctx context.Context, uid string, info container.InspectResponse, log *slog.Logger) (bool, error) {
	if r.network == nil || info.NetworkSettings == nil {
		return true, nil
	}
	id, _, err := r.network.Attachment()
	if err != nil {
		return false, fmt.Errorf("pod %q: %w", uid, err)
	}
	for _, ep := range info.NetworkSettings.Networks {
		if ep != nil && ep.NetworkID == id {
			return true, nil
		}
	}
	if string(info.HostConfig.NetworkMode) == "bridge" || len(info.NetworkSettings.Networks) > 0 {
		return false, nil
	}
	mode, cfg, err := r.podNetworking(uid)
	if err != nil {
		return false, err
	}
	if err := r.cli.NetworkConnect(ctx, string(mode), info.ID, cfg.EndpointsConfig[string(mode)]); err != nil {
		return false, fmt.Errorf("reconnecting the infra container of pod %q to the pod network: %w", uid, err)
	}
	log.Info("infra container reconnected to the pod network", "container_id", shortID(info.ID))
	return true, nil
}
