package admission

import (
	"context"
	"errors"
	"net/netip"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// SubnetAllocator hands out the pod subnets of nodes, by node name
// (allocator.Subnets).
type SubnetAllocator interface {
	// Allocate returns the node's subnet, or claims a free one for it;
	// errdefs.ErrUnavailable when none is left.
	Allocate(ctx context.Context, node string) (netip.Prefix, error)
	// Claim gives subnet to node: errdefs.ErrBadRequest for one outside
	// the cluster range, errdefs.ErrConflict when another node holds it
	// or the node holds another.
	Claim(ctx context.Context, node string, subnet netip.Prefix) error
}

// PodCIDR gives every node a pod subnet of its own, as the node IPAM
// controller of kube-controller-manager does, but as the Node is written,
// so that a node has its subnet from its first registration: a Node
// without spec.podCIDR gets the subnet its name holds, or the lowest free
// one. A cluster admin may ask for a particular free subnet; a node's own
// credential may not choose one (it could take another node's pod
// traffic). A full cluster range leaves the node without a subnet: it
// registers, and its agent reports its network unavailable.
func PodCIDR(subnets SubnetAllocator) generic.Admission {
	return generic.AdmissionFunc(func(ctx context.Context, a *generic.Attributes) error {
		if a.Resource != "nodes" || a.Subresource != "" || a.Operation == generic.Delete {
			return nil
		}
		node, ok := a.Object.(*v1.Node)
		if !ok {
			return nil
		}
		if old, ok := a.Old.(*v1.Node); ok && old.Spec.PodCIDR != "" {
			return nil // set once; validation keeps it
		}
		path := field.NewPath("spec", "podCIDR")
		if node.Spec.PodCIDR == "" {
			if a.DryRun {
				return nil
			}
			subnet, err := subnets.Allocate(ctx, node.Name)
			if errors.Is(err, errdefs.ErrUnavailable) {
				return nil
			}
			if err != nil {
				return err
			}
			node.Spec.PodCIDR, node.Spec.PodCIDRs = subnet.String(), []string{subnet.String()}
			return nil
		}
		if id, _ := auth.IdentityFrom(ctx); !id.IsClusterAdmin() {
			return errdefs.Invalid("Node", node.Name, field.ErrorList{
				field.Forbidden(path, "the master assigns a node's pod subnet; only cluster admins may ask for one"),
			})
		}
		subnet, err := netip.ParsePrefix(node.Spec.PodCIDR)
		if err != nil {
			return nil // validation names it
		}
		if a.DryRun {
			return nil
		}
		switch err := subnets.Claim(ctx, node.Name, subnet); {
		case errors.Is(err, errdefs.ErrBadRequest), errors.Is(err, errdefs.ErrConflict):
			return errdefs.Invalid("Node", node.Name, field.ErrorList{field.Invalid(path, node.Spec.PodCIDR, err.Error())})
		case err != nil:
			return err
		}
		if len(node.Spec.PodCIDRs) == 0 {
			node.Spec.PodCIDRs = []string{node.Spec.PodCIDR}
		}
		return nil
	})
}
