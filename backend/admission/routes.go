package admission

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Getter reads one object of a namespace (a services or secrets registry).
type Getter interface {
	Get(ctx context.Context, ns, name string) (runtime.Object, error)
}

// RouteTargets checks what a route names, in the route's own project
// (a route has no way to name another project's service or secret): its
// port must be a port of its service, when the service exists (a route
// may be made before its service, as on OpenShift; the router answers
// 503 until then), and its TLS secret must exist there and be a
// kubernetes.io/tls secret. Under appsDomain, where a project's hosts are
// NAME-<project>.<domain> (the strategy checks that), a host that names a
// project whose name ends with the route's ("x-b-a" names project b-a
// better than project a) is that project's, not the route's.
func RouteTargets(services, secrets Getter, namespaces Lister, appsDomain string) generic.Admission {
	return generic.AdmissionFunc(func(ctx context.Context, a *generic.Attributes) error {
		r, ok := a.Object.(*berthv1.Route)
		if !ok || a.Operation == generic.Delete || a.Subresource != "" {
			return nil
		}
		var errs field.ErrorList
		if other, err := hostOfLongerProject(ctx, namespaces, appsDomain, r.Spec.Host, a.Namespace); err != nil {
			return err
		} else if other != "" {
			errs = append(errs, field.Invalid(field.NewPath("spec", "host"), r.Spec.Host, fmt.Sprintf("names project %q, not this one", other)))
		}
		if r.Spec.Port != nil && r.Spec.To.Name != "" {
			obj, err := services.Get(ctx, a.Namespace, r.Spec.To.Name)
			switch {
			case errors.Is(err, errdefs.ErrNotFound):
			case err != nil:
				return err
			case !servicePortExists(obj.(*v1.Service), r.Spec.Port.TargetPort):
				errs = append(errs, field.Invalid(field.NewPath("spec", "port", "targetPort"), r.Spec.Port.TargetPort.String(),
					fmt.Sprintf("service %q has no port %s", r.Spec.To.Name, r.Spec.Port.TargetPort.String())))
			}
		}
		if r.Spec.TLS != nil && r.Spec.TLS.SecretName != "" {
			p := field.NewPath("spec", "tls", "secretName")
			obj, err := secrets.Get(ctx, a.Namespace, r.Spec.TLS.SecretName)
			switch {
			case errors.Is(err, errdefs.ErrNotFound):
				errs = append(errs, field.NotFound(p, r.Spec.TLS.SecretName))
			case err != nil:
				return err
			case obj.(*v1.Secret).Type != v1.SecretTypeTLS:
				errs = append(errs, field.Invalid(p, r.Spec.TLS.SecretName, fmt.Sprintf("must be a secret of type %s", v1.SecretTypeTLS)))
			}
		}
		return errdefs.Invalid("Route", r.Name, errs)
	})
}

// servicePortExists reports whether svc has the port, by name or number.
func servicePortExists(svc *v1.Service, port intstr.IntOrString) bool {
	for _, p := range svc.Spec.Ports {
		if (port.Type == intstr.Int && p.Port == port.IntVal) || (port.Type == intstr.String && p.Name == port.StrVal) {
			return true
		}
	}
	return false
}

// hostOfLongerProject returns the project other than ns, with a longer
// name, whose NAME-<project>.<domain> hosts host is one of; "" if none.
func hostOfLongerProject(ctx context.Context, namespaces Lister, domain, host, ns string) (string, error) {
	label, under := strings.CutSuffix(host, "."+domain)
	if !under || !strings.HasSuffix(label, "-"+ns) {
		return "", nil
	}
	list, err := namespaces.List(ctx, "", generic.ListOptions{})
	if err != nil {
		return "", err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return "", err
	}
	for _, o := range items {
		name := o.(*v1.Namespace).Name
		if len(name) > len(ns) && strings.HasSuffix(label, "-"+name) && label != "-"+name {
			return name, nil
		}
	}
	return "", nil
}
