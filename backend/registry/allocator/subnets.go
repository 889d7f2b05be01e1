package allocator

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/berthpaas/berth/backend/errdefs"
)

// Subnets hands out equal IPv4 subnets of a cluster range to owners (the
// pod subnets of nodes, owned by node name). A subnet's item is its
// position among all subnets of its size in the IPv4 space, so claims
// keep their meaning when the cluster range changes.
type Subnets struct {
	r       *Range
	cluster netip.Prefix
	bits    int // of each subnet
}

// NewSubnets returns the allocator of the /bits subnets of cluster, kept
// in etcd under name (one name per subnet size: "podcidrs").
func NewSubnets(client *clientv3.Client, name string, cluster netip.Prefix, bits int) (*Subnets, error) {
	if err := CheckSubnetting(cluster, bits); err != nil {
		return nil, err
	}
	cluster = cluster.Masked()
	first := int(addrNumber(cluster.Addr()) >> (32 - bits))
	size := 1 << (bits - cluster.Bits())
	return &Subnets{r: New(client, fmt.Sprintf("%s-%d", name, bits), first, size), cluster: cluster, bits: bits}, nil
}

// CheckSubnetting says whether cluster, an IPv4 range, can be cut into
// /bits subnets.
func CheckSubnetting(cluster netip.Prefix, bits int) error {
	switch {
	case !cluster.IsValid() || !cluster.Addr().Is4():
		return errdefs.Newf(errdefs.ErrBadRequest, "cluster range %s: want an IPv4 CIDR such as 10.244.0.0/16", cluster)
	case bits < cluster.Bits() || bits > 30:
		return errdefs.Newf(errdefs.ErrBadRequest, "cluster range %s cannot hold /%d subnets: want a range of /%d or wider", cluster, bits, bits)
	}
	return nil
}

// Cluster is the range the subnets are cut from.
func (s *Subnets) Cluster() netip.Prefix { return s.cluster }

// Bits is the prefix length of every subnet.
func (s *Subnets) Bits() int { return s.bits }

// Allocate returns owner's subnet, or the lowest free one, claimed for
// it. ErrFull when the cluster range has none left.
func (s *Subnets) Allocate(ctx context.Context, owner string) (netip.Prefix, error) {
	item, err := s.r.Allocate(ctx, owner)
	if err != nil {
		return netip.Prefix{}, err
	}
	return s.subnet(item), nil
}

// Claim gives subnet to owner: ErrOutOfRange unless it is a /Bits subnet
// of the cluster range, ErrTaken when someone else holds it, ErrConflict
// when owner holds another.
func (s *Subnets) Claim(ctx context.Context, owner string, subnet netip.Prefix) error {
	if !subnet.Addr().Is4() || subnet.Bits() != s.bits || subnet.Masked() != subnet || !s.cluster.Contains(subnet.Addr()) {
		return fmt.Errorf("subnet %s: want a /%d network of %s: %w", subnet, s.bits, s.cluster, ErrOutOfRange)
	}
	return s.keep(ctx, owner, subnet)
}

// Keep is Claim for a subnet handed out before the cluster range changed:
// one of the right size that may lie outside the range.
func (s *Subnets) Keep(ctx context.Context, owner string, subnet netip.Prefix) error {
	if !subnet.Addr().Is4() || subnet.Bits() != s.bits || subnet.Masked() != subnet {
		return fmt.Errorf("subnet %s: want a /%d network address: %w", subnet, s.bits, ErrOutOfRange)
	}
	return s.keep(ctx, owner, subnet)
}

func (s *Subnets) keep(ctx context.Context, owner string, subnet netip.Prefix) error {
	item := int(addrNumber(subnet.Addr()) >> (32 - s.bits))
	err := s.r.Keep(ctx, owner, item)
	switch {
	case errors.Is(err, ErrTaken):
		return fmt.Errorf("subnet %s: %w", subnet, ErrTaken)
	case errors.Is(err, errdefs.ErrConflict):
		if held, ok, herr := s.r.Held(ctx, owner); herr == nil && ok && held != item {
			return errdefs.Newf(errdefs.ErrConflict, "%q holds the subnet %s already", owner, s.subnet(held))
		}
	}
	return err
}

// Release frees owner's subnet; none held is no error.
func (s *Subnets) Release(ctx context.Context, owner string) error { return s.r.Release(ctx, owner) }

// Claims returns the owner of every subnet held.
func (s *Subnets) Claims(ctx context.Context) (map[netip.Prefix]string, error) {
	claims, err := s.r.Claims(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[netip.Prefix]string, len(claims))
	for item, owner := range claims {
		out[s.subnet(item)] = owner
	}
	return out, nil
}

func (s *Subnets) subnet(item int) netip.Prefix {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(item)<<(32-s.bits))
	return netip.PrefixFrom(netip.AddrFrom4(b), s.bits)
}

func addrNumber(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}
