package core

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Router is where the master's HTTP router answers, for routes' default
// hosts and their URLs (status.url).
type Router struct {
	// AppsDomain is the domain of default hosts
	// (berthv1.DefaultAppsDomain when empty).
	AppsDomain string
	// HTTPPort and HTTPSPort are the router's ports; 0 when it does not
	// serve that scheme.
	HTTPPort, HTTPSPort int
}

// RouteStrategy holds the rules of routes. The registry's allocator
// (routeHosts) claims each route's host, so that no two routes of the
// cluster hold one host.
type RouteStrategy struct {
	Router Router
}

var (
	_ generic.Strategy       = RouteStrategy{}
	_ generic.TableConvertor = RouteStrategy{}
)

// New returns an empty route.
func (RouteStrategy) New() runtime.Object { return &berthv1.Route{} }

// NewList returns an empty route list.
func (RouteStrategy) NewList() runtime.Object { return &berthv1.RouteList{} }

// NamespaceScoped reports true: a route belongs to a project.
func (RouteStrategy) NamespaceScoped() bool { return true }

// HasStatus reports false: the status (its URL) is the master's, written
// with the spec.
func (RouteStrategy) HasStatus() bool { return false }

// PrepareForCreate defaults the route and states its URL.
func (s RouteStrategy) PrepareForCreate(obj runtime.Object) {
	s.prepare(obj.(*berthv1.Route))
}

// PrepareForUpdate keeps the system metadata; a host left out keeps the
// route's host (kubectl replace of the manifest it was created from).
func (s RouteStrategy) PrepareForUpdate(obj, old runtime.Object) {
	r, o := obj.(*berthv1.Route), old.(*berthv1.Route)
	keepSystemMeta(&r.ObjectMeta, &o.ObjectMeta)
	if r.Spec.Host == "" {
		r.Spec.Host = o.Spec.Host
	}
	s.prepare(r)
}

// PrepareForStatusUpdate does nothing: routes have no status subresource.
func (RouteStrategy) PrepareForStatusUpdate(obj, old runtime.Object) {}

func (s RouteStrategy) prepare(r *berthv1.Route) {
	spec := &r.Spec
	if spec.Host == "" && spec.To.Name != "" && r.Namespace != "" {
		spec.Host = DefaultRouteHost(spec.To.Name, r.Namespace, s.Router.appsDomain())
	}
	spec.Host = strings.ToLower(spec.Host)
	if spec.Path == "" {
		spec.Path = "/"
	}
	if spec.To.Kind == "" {
		spec.To.Kind = "Service"
	}
	r.Status = berthv1.RouteStatus{URL: s.Router.URL(r)}
}

func (rt Router) appsDomain() string {
	if rt.AppsDomain == "" {
		return berthv1.DefaultAppsDomain
	}
	return rt.AppsDomain
}

// appsDomainHost says what is wrong with host for a route of project ns
// when it is under the apps domain: there every project has its own
// names, <name>-<project>.<domain>, so that no tenant squats another's
// default hosts (and the URLs its users expect) before it takes them.
func (rt Router) appsDomainHost(host, ns string) string {
	domain := rt.appsDomain()
	label, under := strings.CutSuffix(host, "."+domain)
	if !under || host == domain {
		return ""
	}
	if strings.Contains(label, ".") || !strings.HasSuffix(label, "-"+ns) || label == "-"+ns {
		return fmt.Sprintf("hosts under %s are NAME-%s.%s for this project", domain, ns, domain)
	}
	return ""
}

// DefaultRouteHost is the host of a route that names none:
// <service>-<project>.<domain>.
func DefaultRouteHost(service, project, domain string) string {
	if domain == "" {
		domain = berthv1.DefaultAppsDomain
	}
	return service + "-" + project + "." + domain
}

// URL is where r answers: HTTPS when it has TLS and the router serves it.
func (rt Router) URL(r *berthv1.Route) string {
	scheme, port, def := "http", rt.HTTPPort, 80
	if r.Spec.TLS != nil && rt.HTTPSPort != 0 {
		scheme, port, def = "https", rt.HTTPSPort, 443
	}
	if port == 0 || r.Spec.Host == "" {
		return ""
	}
	host := r.Spec.Host
	if port != def {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	}
	return scheme + "://" + host + r.Spec.Path
}

// Validate checks a new route.
func (s RouteStrategy) Validate(obj runtime.Object) field.ErrorList {
	r := obj.(*berthv1.Route)
	allErrs := apivalidation.ValidateObjectMeta(&r.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, s.validateSpec(r.Namespace, &r.Spec, field.NewPath("spec"))...)
}

// ValidateUpdate checks r as a replacement of old; a route may move to
// another host (the registry releases the old one's claim as it takes
// the new one's).
func (s RouteStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	r, o := obj.(*berthv1.Route), old.(*berthv1.Route)
	allErrs := apivalidation.ValidateObjectMetaUpdate(&r.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, s.validateSpec(r.Namespace, &r.Spec, field.NewPath("spec"))...)
}

func (s RouteStrategy) validateSpec(ns string, spec *berthv1.RouteSpec, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	hostPath := p.Child("host")
	switch {
	case spec.Host == "":
		allErrs = append(allErrs, field.Required(hostPath, ""))
	default:
		for _, msg := range validation.IsDNS1123Subdomain(spec.Host) {
			allErrs = append(allErrs, field.Invalid(hostPath, spec.Host, msg))
		}
		if !strings.Contains(spec.Host, ".") {
			allErrs = append(allErrs, field.Invalid(hostPath, spec.Host, "must be a fully qualified domain name (with at least one dot)"))
		}
		if _, err := netip.ParseAddr(spec.Host); err == nil {
			allErrs = append(allErrs, field.Invalid(hostPath, spec.Host, "must be a host name, not an IP address"))
		}
		if msg := s.Router.appsDomainHost(spec.Host, ns); msg != "" {
			allErrs = append(allErrs, field.Invalid(hostPath, spec.Host, msg))
		}
	}
	pathPath := p.Child("path")
	switch {
	case !strings.HasPrefix(spec.Path, "/"):
		allErrs = append(allErrs, field.Invalid(pathPath, spec.Path, "must start with '/'"))
	case strings.ContainsAny(spec.Path, " \t\r\n?#\\") || strings.Contains(spec.Path, "/../") || strings.HasSuffix(spec.Path, "/.."):
		allErrs = append(allErrs, field.Invalid(pathPath, spec.Path, "must be a plain URL path: no spaces, '?', '#', '\\' or '..' segments"))
	}
	toPath := p.Child("to")
	if spec.To.Kind != "Service" {
		allErrs = append(allErrs, field.NotSupported(toPath.Child("kind"), spec.To.Kind, []string{"Service"}))
	}
	if spec.To.Name == "" {
		allErrs = append(allErrs, field.Required(toPath.Child("name"), ""))
	} else {
		for _, msg := range validation.IsDNS1035Label(spec.To.Name) {
			allErrs = append(allErrs, field.Invalid(toPath.Child("name"), spec.To.Name, msg))
		}
	}
	if spec.Port != nil {
		tp := p.Child("port", "targetPort")
		switch port := spec.Port.TargetPort; {
		case port.Type == intstr.Int:
			for _, msg := range validation.IsValidPortNum(port.IntValue()) {
				allErrs = append(allErrs, field.Invalid(tp, port.IntValue(), msg))
			}
		case port.StrVal == "":
			allErrs = append(allErrs, field.Required(tp, ""))
		default:
			for _, msg := range validation.IsValidPortName(port.StrVal) {
				allErrs = append(allErrs, field.Invalid(tp, port.StrVal, msg))
			}
		}
	}
	switch tls := spec.TLS; {
	case tls == nil:
	case tls.SecretName != "":
		for _, msg := range validation.IsDNS1123Subdomain(tls.SecretName) {
			allErrs = append(allErrs, field.Invalid(p.Child("tls", "secretName"), tls.SecretName, msg))
		}
	case spec.Host != "" && !strings.HasSuffix(spec.Host, "."+s.Router.appsDomain()):
		// The cluster CA is what API clients and nodes trust: it
		// certifies no name a tenant could pass off as another's or the
		// master's.
		allErrs = append(allErrs, field.Invalid(p.Child("tls", "secretName"), "",
			fmt.Sprintf("required for a host outside %s: the cluster CA certifies only hosts under the apps domain", s.Router.appsDomain())))
	}
	return allErrs
}

// Fields returns the route fields selectors match.
func (RouteStrategy) Fields(obj runtime.Object) fields.Set {
	r := obj.(*berthv1.Route)
	return fields.Set{
		"metadata.name":      r.Name,
		"metadata.namespace": r.Namespace,
		"spec.host":          r.Spec.Host,
		"spec.to.name":       r.Spec.To.Name,
	}
}

// TableColumns of routes, as `oc get routes` shows them.
func (RouteStrategy) TableColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameCol, col("Host/Port", "string", 0, "Host name the route answers"),
		col("Path", "string", 0, "Path prefix the route takes"), col("Services", "string", 0, "Service the requests go to"),
		col("Port", "string", 0, "Service port"), col("Termination", "string", 0, "TLS: edge when served over HTTPS"),
		ageCol, col("URL", "string", 1, "Where the route answers")}
}

// TableRow of a route.
func (RouteStrategy) TableRow(obj runtime.Object) []any {
	r := obj.(*berthv1.Route)
	port, tls := "<all>", ""
	if r.Spec.Port != nil {
		port = r.Spec.Port.TargetPort.String()
	}
	if r.Spec.TLS != nil {
		tls = "edge"
	}
	return []any{r.Name, r.Spec.Host, r.Spec.Path, r.Spec.To.Name, port, tls, age(r.CreationTimestamp), r.Status.URL}
}

// routeHostClaims are the claims of routes' hosts (storage.Claim).
const routeHostClaims = "/registry/ranges/routehosts/"

// routeHosts claims each route's host, so that a host is held by one
// route of the whole cluster: the claim is written in the transaction
// that stores the route, moved in the one that changes its host and
// dropped in the one that deletes it.
type routeHosts struct{}

var _ generic.Allocator = routeHosts{}

// Claims is the route's host.
func (routeHosts) Claims(obj runtime.Object) []storage.Claim {
	r := obj.(*berthv1.Route)
	if r.Spec.Host == "" {
		return nil
	}
	return []storage.Claim{{Key: routeHostClaims + r.Spec.Host, Holder: r.Namespace + "/" + r.Name + "/" + string(r.UID)}}
}

// Allocate hands out nothing: the strategy defaults the host.
func (routeHosts) Allocate(_ context.Context, obj, old runtime.Object) ([]string, field.ErrorList, error) {
	return nil, nil, nil
}

// Taken is the error of a host another route holds.
func (routeHosts) Taken(obj runtime.Object, key string) *field.Error {
	r := obj.(*berthv1.Route)
	if key != routeHostClaims+r.Spec.Host {
		return nil
	}
	return field.Invalid(field.NewPath("spec", "host"), r.Spec.Host, fmt.Sprintf("host %q is already taken by another route", r.Spec.Host))
}
