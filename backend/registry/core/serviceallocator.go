package core

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
)

// DefaultServiceCIDR is the range cluster IPs come from when the master
// is not told another (kube-apiserver's --service-cluster-ip-range, as
// kubeadm sets it).
var DefaultServiceCIDR = netip.MustParsePrefix("10.96.0.0/16")

// The claims of the values services hold (storage.Claim).
const (
	serviceIPClaims       = "/registry/ranges/serviceips/"
	serviceNodePortClaims = "/registry/ranges/servicenodeports/"
)

// errRangeFull: no value of a range is free. [ErrUnavailable: deleting
// services frees some]
var errRangeFull = errdefs.New(errdefs.ErrUnavailable, "range is full")

// serviceAllocator hands out services' cluster IPs from a range and node
// ports from MinNodePort-MaxNodePort, as kube-apiserver's allocators do:
// a free value at random from the upper part of the range, so that the
// lower part (a sixteenth, 16 to 256 addresses; for ports a thirty-second,
// 16 to 128) stays for values clients ask for by number, and from the
// lower part only when the upper one is full.
type serviceAllocator struct {
	store *storage.Store
	cidr  netip.Prefix
}

var _ generic.Allocator = (*serviceAllocator)(nil)

// ValidateServiceCIDR checks a service range: IPv4, with room for at
// least 8 services beside its network and broadcast addresses.
func ValidateServiceCIDR(p netip.Prefix) error {
	if !p.IsValid() || !p.Addr().Is4() {
		return fmt.Errorf("service range %q: want an IPv4 CIDR such as %s", p, DefaultServiceCIDR)
	}
	if p.Bits() > 28 || p.Bits() < 12 {
		return fmt.Errorf("service range %s: the prefix length must be between /12 and /28", p)
	}
	if p.Masked() != p {
		return fmt.Errorf("service range %s: not a network address (did you mean %s?)", p, p.Masked())
	}
	return nil
}

// holder names a service in its claims.
func holder(svc *v1.Service) string {
	return svc.Namespace + "/" + svc.Name + "/" + string(svc.UID)
}

func ipClaimKey(ip string) string    { return serviceIPClaims + ip }
func portClaimKey(port int32) string { return serviceNodePortClaims + strconv.Itoa(int(port)) }
func hasClusterIP(svc *v1.Service) bool {
	return svc.Spec.Type != v1.ServiceTypeExternalName && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != v1.ClusterIPNone
}

// Claims are a service's cluster IP and node ports.
func (a *serviceAllocator) Claims(obj runtime.Object) []storage.Claim {
	svc := obj.(*v1.Service)
	h := holder(svc)
	var claims []storage.Claim
	if hasClusterIP(svc) {
		claims = append(claims, storage.Claim{Key: ipClaimKey(svc.Spec.ClusterIP), Holder: h})
	}
	seen := map[int32]bool{}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 && !seen[p.NodePort] {
			seen[p.NodePort] = true
			claims = append(claims, storage.Claim{Key: portClaimKey(p.NodePort), Holder: h})
		}
	}
	return claims
}

// Allocate gives the service a cluster IP when it asks for none (and is
// not headless or ExternalName) and a node port to each port of a
// NodePort service that names none.
func (a *serviceAllocator) Allocate(ctx context.Context, obj, old runtime.Object) ([]string, field.ErrorList, error) {
	svc := obj.(*v1.Service)
	spec := &svc.Spec
	var oldSpec *v1.ServiceSpec
	if old != nil {
		oldSpec = &old.(*v1.Service).Spec
	}
	var picked []string
	var errs field.ErrorList
	switch {
	case spec.Type == v1.ServiceTypeExternalName:
		spec.ClusterIPs, spec.IPFamilies, spec.IPFamilyPolicy = nil, nil, nil
	case spec.ClusterIP == "":
		ip, err := a.pickIP(ctx)
		if err != nil {
			return nil, nil, err
		}
		spec.ClusterIP = ip
		picked = append(picked, ipClaimKey(ip))
	case spec.ClusterIP != v1.ClusterIPNone && (oldSpec == nil || oldSpec.ClusterIP != spec.ClusterIP):
		if !a.inRange(spec.ClusterIP) {
			errs = append(errs, field.Invalid(field.NewPath("spec", "clusterIP"), spec.ClusterIP,
				fmt.Sprintf("provided IP is not in the valid range. The range of valid IPs is %s", a.cidr)))
		}
	}
	if spec.Type != v1.ServiceTypeExternalName {
		spec.ClusterIPs = []string{spec.ClusterIP}
		single := v1.IPFamilyPolicySingleStack
		spec.IPFamilies, spec.IPFamilyPolicy = []v1.IPFamily{v1.IPv4Protocol}, &single
	}
	if needsNodePorts(spec) {
		ports, err := a.pickNodePorts(ctx, spec)
		if err != nil {
			return nil, nil, err
		}
		picked = append(picked, ports...)
	}
	return picked, errs, nil
}

// Taken names the field of the value whose claim another service holds.
func (a *serviceAllocator) Taken(obj runtime.Object, key string) *field.Error {
	svc := obj.(*v1.Service)
	if hasClusterIP(svc) && key == ipClaimKey(svc.Spec.ClusterIP) {
		return field.Invalid(field.NewPath("spec", "clusterIP"), svc.Spec.ClusterIP, "provided IP is already allocated")
	}
	for i, p := range svc.Spec.Ports {
		if p.NodePort != 0 && key == portClaimKey(p.NodePort) {
			return field.Invalid(field.NewPath("spec", "ports").Index(i).Child("nodePort"), p.NodePort, "provided port is already allocated")
		}
	}
	return nil
}

// inRange reports whether ip is a host address of the range.
func (a *serviceAllocator) inRange(ip string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !a.cidr.Contains(addr) {
		return false
	}
	offset := addrOffset(a.cidr, addr)
	return offset > 0 && offset < a.size()-1
}

func (a *serviceAllocator) size() int { return 1 << (32 - a.cidr.Bits()) }

// pickIP returns a free host address of the range.
func (a *serviceAllocator) pickIP(ctx context.Context) (string, error) {
	claimed, err := a.store.Claimed(ctx, serviceIPClaims)
	if err != nil {
		return "", err
	}
	// Host addresses are the offsets 1 .. size-2.
	size := a.size()
	offset, ok := pickFree(1, size-2, staticBand(size-2, 16, 256), func(o int) bool {
		_, taken := claimed[ipClaimKey(addrAt(a.cidr, o).String())]
		return taken
	})
	if !ok {
		return "", fmt.Errorf("allocate a cluster IP: range %s is full: %w", a.cidr, errRangeFull)
	}
	return addrAt(a.cidr, offset).String(), nil
}

// pickNodePorts gives a free node port to each port of spec that has
// none, and returns the claim keys of those it picked.
func (a *serviceAllocator) pickNodePorts(ctx context.Context, spec *v1.ServiceSpec) ([]string, error) {
	var missing bool
	used := map[int32]bool{}
	for _, p := range spec.Ports {
		missing = missing || p.NodePort == 0
		used[p.NodePort] = true
	}
	if !missing {
		return nil, nil
	}
	claimed, err := a.store.Claimed(ctx, serviceNodePortClaims)
	if err != nil {
		return nil, err
	}
	var picked []string
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.NodePort != 0 {
			continue
		}
		port, ok := pickFree(MinNodePort, MaxNodePort, staticBand(MaxNodePort-MinNodePort+1, 32, 128), func(n int) bool {
			_, taken := claimed[portClaimKey(int32(n))]
			return taken || used[int32(n)]
		})
		if !ok {
			return nil, fmt.Errorf("allocate a node port: %d-%d are all taken: %w", MinNodePort, MaxNodePort, errRangeFull)
		}
		p.NodePort = int32(port)
		used[p.NodePort] = true
		picked = append(picked, portClaimKey(p.NodePort))
	}
	return picked, nil
}

// staticBand is the size of the lower part of a range of size values
// kept for values asked for by number: size/divisor, at least 16 and at
// most limit (and never the whole range).
func staticBand(size, divisor, limit int) int {
	return min(max(16, size/divisor), limit, size/2)
}

// pickFree returns a value in [lo, hi] for which taken is false: at
// random in the upper part (above the static band), else in the band.
func pickFree(lo, hi, band int, taken func(int) bool) (int, bool) {
	scan := func(from, to int) (int, bool) {
		n := to - from + 1
		if n <= 0 {
			return 0, false
		}
		start := rand.IntN(n)
		for i := range n {
			v := from + (start+i)%n
			if !taken(v) {
				return v, true
			}
		}
		return 0, false
	}
	if v, ok := scan(lo+band, hi); ok {
		return v, true
	}
	return scan(lo, lo+band-1)
}

// addrAt is the address offset places into p.
func addrAt(p netip.Prefix, offset int) netip.Addr {
	b := p.Masked().Addr().As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n += uint32(offset)
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// addrOffset is the offset of addr in p.
func addrOffset(p netip.Prefix, addr netip.Addr) int {
	base, a := p.Masked().Addr().As4(), addr.As4()
	u := func(b [4]byte) uint32 { return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) }
	return int(u(a) - u(base))
}
