package admission

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/generic"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// PortRange is an inclusive range of ports.
type PortRange struct{ Min, Max int32 }

// DefaultHostPortRange is where tenants may publish host ports: above the
// well-known and registered services a host runs (and Berth's own ports),
// like Kubernetes' NodePort range.
var DefaultHostPortRange = PortRange{Min: 30000, Max: 32767}

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Min, r.Max) }

// ParsePortRange reads "MIN-MAX" (1 ≤ MIN ≤ MAX ≤ 65535).
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, ok := strings.Cut(s, "-")
	first, err1 := strconv.ParseInt(strings.TrimSpace(lo), 10, 32)
	last, err2 := strconv.ParseInt(strings.TrimSpace(hi), 10, 32)
	if !ok || err1 != nil || err2 != nil || first < 1 || last > 65535 || first > last {
		return PortRange{}, fmt.Errorf("%q is not a port range such as 30000-32767", s)
	}
	return PortRange{Min: int32(first), Max: int32(last)}, nil
}

// HostPorts keeps tenants' host ports inside allowed and on every address
// of the host (hostIP empty, 0.0.0.0 or ::), never on one they choose: a
// hostIP of 127.0.0.1 would put a tenant's container on the loopback of a
// host whose own services trust it. Cluster admins and
// the master's components are not limited.
func HostPorts(allowed PortRange) generic.Admission {
	return generic.AdmissionFunc(func(ctx context.Context, a *generic.Attributes) error {
		if a.Operation == generic.Delete || a.Subresource != "" {
			return nil
		}
		if id, _ := auth.IdentityFrom(ctx); id.IsClusterAdmin() {
			return nil
		}
		meta, spec, path := podSpecOf(a.Object)
		if spec == nil {
			return nil
		}
		var errs field.ErrorList
		for i, c := range spec.Containers {
			for j, p := range c.Ports {
				pp := path.Child("containers").Index(i).Child("ports").Index(j)
				if p.HostIP != "" && p.HostIP != "0.0.0.0" && p.HostIP != "::" {
					errs = append(errs, field.Forbidden(pp.Child("hostIP"), "only cluster admins may choose the host address of a host port"))
				}
				if p.HostPort != 0 && (p.HostPort < allowed.Min || p.HostPort > allowed.Max) {
					errs = append(errs, field.Invalid(pp.Child("hostPort"), p.HostPort,
						fmt.Sprintf("must be in the range %s, the host ports this cluster allows", allowed)))
				}
			}
		}
		return errdefs.Invalid(kindOf(a.Object), meta.Name, errs)
	})
}
