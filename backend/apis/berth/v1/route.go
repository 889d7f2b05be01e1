package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// DefaultAppsDomain is the domain of routes' default hosts
// (<service>-<project>.<domain>, --apps-domain): names under localhost are
// loopback by RFC 6761, and browsers (Chromium, Firefox) and curl resolve
// them so with no DNS set-up, so routes answer on one machine at once.
const DefaultAppsDomain = "apps.localhost"

// Route makes a service reachable from outside the cluster by host name,
// through the master's HTTP router, as OpenShift's routes do: a request
// whose Host is spec.host and whose path starts with spec.path goes to a
// ready endpoint of the service spec.to names, in the route's project.
type Route struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              RouteSpec   `json:"spec"`
	Status            RouteStatus `json:"status,omitempty"`
}

// RouteSpec is what a route asks for.
type RouteSpec struct {
	// Host is the host name the route answers, unique across the cluster
	// (a DNS-1123 subdomain, lower case); default
	// <service>-<project>.<apps domain>.
	Host string `json:"host,omitempty"`
	// Path is the prefix of the request paths the route takes ("/" when
	// empty); the longest matching prefix of a host wins.
	Path string `json:"path,omitempty"`
	// To names the service, in the route's own project, that gets the
	// requests.
	To RouteTarget `json:"to"`
	// Port is the service port the requests go to, by name or number;
	// the service's first port when unset.
	Port *RoutePort `json:"port,omitempty"`
	// TLS, when set, serves the route over HTTPS too.
	TLS *RouteTLS `json:"tls,omitempty"`
}

// RouteTarget names a service.
type RouteTarget struct {
	// Kind is "Service", the only kind a route targets.
	Kind string `json:"kind,omitempty"`
	// Name is the service's name.
	Name string `json:"name"`
}

// RoutePort is a service port by name or number.
type RoutePort struct {
	// TargetPort is the name or the number of a port of the service.
	TargetPort intstr.IntOrString `json:"targetPort"`
}

// RouteTLS is how the router serves a route over HTTPS.
type RouteTLS struct {
	// SecretName names a kubernetes.io/tls secret of the route's own
	// project, whose certificate and key the router serves for the host;
	// empty: a certificate for the host signed by the cluster CA.
	SecretName string `json:"secretName,omitempty"`
}

// RouteStatus is what the master says of a route.
type RouteStatus struct {
	// URL is where the route answers through this cluster's router.
	URL string `json:"url,omitempty"`
}

// RouteList is a list of routes.
type RouteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Route `json:"items"`
}

// DeepCopyObject copies the route.
func (in *Route) DeepCopyObject() runtime.Object { return in.DeepCopy() }

// DeepCopy copies the route.
func (in *Route) DeepCopy() *Route {
	out := *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	if in.Spec.Port != nil {
		p := *in.Spec.Port
		out.Spec.Port = &p
	}
	if in.Spec.TLS != nil {
		t := *in.Spec.TLS
		out.Spec.TLS = &t
	}
	return &out
}

// DeepCopyObject copies the list.
func (in *RouteList) DeepCopyObject() runtime.Object {
	out := *in
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	out.Items = make([]Route, len(in.Items))
	for i := range in.Items {
		out.Items[i] = *in.Items[i].DeepCopy()
	}
	return &out
}
