// Package podcidr repairs the pod subnets of nodes, as kube-apiserver's
// repair loops do for service IPs. Nodes get their subnet as they are
// written (admission.PodCIDR) and free it when they are deleted (the
// nodes registry's AfterDelete); what a crash or an unreachable etcd
// left undone between the two writes, this controller mends:
//
//	every RepairInterval, from the nodes and the claims in etcd:
//	  node with spec.podCIDR, not claimed ──▶ claim it again for the node
//	  node without spec.podCIDR            ──▶ claim a subnet for it and rewrite it:
//	                                           admission sets it (a full range:
//	                                           event CIDRNotAvailable, no write)
//	claim of a name that is no node, on two passes in a row ──▶ release it
//
// The second pass spares the claim of a node being created at that moment.
package podcidr

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/berthpaas/berth/backend/errdefs"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/controller/record"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Component names the controller in events and the audit log.
const Component = "podcidr-controller"

// DefaultRepairInterval is the time between two repairs.
const DefaultRepairInterval = time.Minute

// Nodes is what the controller needs of the nodes registry.
type Nodes interface {
	List(ctx context.Context, ns string, opts generic.ListOptions) (runtime.Object, error)
	Update(ctx context.Context, ns, name string, kind generic.UpdateKind, newObject generic.ObjectFunc, opts metav1.UpdateOptions) (runtime.Object, error)
}

// Subnets is what the controller needs of the allocator (allocator.Subnets).
type Subnets interface {
	Allocate(ctx context.Context, owner string) (netip.Prefix, error)
	Claims(ctx context.Context) (map[netip.Prefix]string, error)
	Keep(ctx context.Context, owner string, subnet netip.Prefix) error
	Release(ctx context.Context, owner string) error
}

// Controller repairs pod subnets.
type Controller struct {
	nodes    Nodes
	subnets  Subnets
	recorder *record.Recorder
	logger   *slog.Logger
	interval time.Duration
	// orphans are the owners of claims that named no node on the last
	// pass; only Run's goroutine uses it.
	orphans map[string]bool
}

// New returns the controller; interval zero takes DefaultRepairInterval.
func New(nodes Nodes, subnets Subnets, events record.Events, logger *slog.Logger, interval time.Duration) *Controller {
	if interval <= 0 {
		interval = DefaultRepairInterval
	}
	logger = logger.With("component", Component)
	return &Controller{
		nodes: nodes, subnets: subnets, recorder: record.New(events, Component, logger),
		logger: logger, interval: interval, orphans: map[string]bool{},
	}
}

// Run repairs at once and then every interval until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	ctx = auth.WithIdentity(ctx, auth.ComponentIdentity(Component))
	ticker := time.NewTicker(c.interval)
	defer ticker.Stop()
	for {
		if err := c.Repair(ctx); err != nil && ctx.Err() == nil {
			c.logger.Warn("repair pod subnets", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Repair makes one pass; see the package comment.
func (c *Controller) Repair(ctx context.Context) error {
	claims, err := c.subnets.Claims(ctx)
	if err != nil {
		return err
	}
	list, err := c.nodes.List(ctx, "", generic.ListOptions{})
	if err != nil {
		return err
	}
	claimed := map[string]netip.Prefix{}
	for subnet, owner := range claims {
		claimed[owner] = subnet
	}
	var errs []error
	nodes := map[string]bool{}
	for i := range list.(*v1.NodeList).Items {
		node := &list.(*v1.NodeList).Items[i]
		nodes[node.Name] = true
		errs = append(errs, c.repairNode(ctx, node, claimed))
	}
	orphans := map[string]bool{}
	for owner := range claimed {
		switch {
		case nodes[owner]:
		case c.orphans[owner]:
			if err := c.subnets.Release(ctx, owner); err != nil {
				errs = append(errs, err)
				orphans[owner] = true
				continue
			}
			c.logger.Info("released the pod subnet of a node that is gone", "node", owner, "pod_cidr", claimed[owner])
		default:
			orphans[owner] = true
		}
	}
	c.orphans = orphans
	return errors.Join(errs...)
}

func (c *Controller) repairNode(ctx context.Context, node *v1.Node, claimed map[string]netip.Prefix) error {
	if node.Spec.PodCIDR == "" {
		// Claimed first, so that a full range costs no write of the node.
		if _, err := c.subnets.Allocate(ctx, node.Name); errors.Is(err, errdefs.ErrUnavailable) {
			c.recorder.Eventf(ctx, record.Reference("Node", node), v1.EventTypeWarning, "CIDRNotAvailable",
				"Node %s status is now: CIDRNotAvailable (the cluster range has no free pod subnet)", node.Name)
			return nil
		} else if err != nil {
			return err
		}
		updated, err := c.nodes.Update(ctx, "", node.Name, generic.UpdateSpec, func(cur runtime.Object) (runtime.Object, error) {
			n := cur.(*v1.Node)
			n.ResourceVersion = node.ResourceVersion
			return n, nil
		}, metav1.UpdateOptions{})
		switch {
		case errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrNotFound):
			return nil // changed meanwhile: the next pass sees it
		case err != nil:
			return err
		}
		c.logger.Info("gave a node its pod subnet", "node", node.Name, "pod_cidr", updated.(*v1.Node).Spec.PodCIDR)
		return nil
	}
	subnet, err := netip.ParsePrefix(node.Spec.PodCIDR)
	if err != nil || claimed[node.Name] == subnet {
		return nil
	}
	if err := c.subnets.Keep(ctx, node.Name, subnet); err != nil {
		c.recorder.Eventf(ctx, record.Reference("Node", node), v1.EventTypeWarning, "CIDRAssignmentFailed",
			"the pod subnet %s of node %s cannot be recorded: %v", subnet, node.Name, err)
		return err
	}
	c.logger.Info("recorded the pod subnet of a node", "node", node.Name, "pod_cidr", subnet)
	return nil
}
