package admission

import (
	"context"
	"strings"

	v1 "k8s.io/api/core/v1"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/generic"
)

// SystemNamespace holds what the cluster itself runs: the kube-dns
// service node agents take the cluster's DNS address and domain from.
const SystemNamespace = berthv1.ClusterDNSNamespace

// reservedPrefix begins the names of the namespaces the system owns.
const reservedPrefix = "kube-"

// NamespaceLifecycle keeps the system's namespaces the system's, as
// kube-apiserver's NamespaceLifecycle admission and OpenShift's project
// requests do: only cluster admins create namespaces named kube-*, and
// nobody deletes kube-system. A tenant owning kube-system would own the
// cluster DNS that every pod's resolv.conf points to.
func NamespaceLifecycle() generic.Admission {
	return generic.AdmissionFunc(func(ctx context.Context, a *generic.Attributes) error {
		if a.Resource != "namespaces" || a.Subresource != "" {
			return nil
		}
		switch a.Operation {
		case generic.Create:
			ns, ok := a.Object.(*v1.Namespace)
			if !ok || !strings.HasPrefix(ns.Name, reservedPrefix) {
				return nil
			}
			if id, _ := auth.IdentityFrom(ctx); !id.IsClusterAdmin() {
				return errdefs.Forbidden("namespaces %q is forbidden: names beginning with %q are reserved for the system", ns.Name, reservedPrefix)
			}
		case generic.Delete:
			if a.Name == SystemNamespace {
				return errdefs.Forbidden("namespaces %q is forbidden: this namespace may not be deleted", a.Name)
			}
		}
		return nil
	})
}
