package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"

	"k8s.io/apimachinery/pkg/runtime/schema"

	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/berthpaas/berth/backend/admission"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// DefaultEventTTL is how long events live, as kube-apiserver's
// --event-ttl default.
const DefaultEventTTL = time.Hour

// Memberships are the project memberships kept beside the namespaces
// (accounts.Store): a namespace's creator becomes its admin, and its
// memberships go with it.
type Memberships interface {
	// StartProject makes user the admin and only member of project.
	StartProject(ctx context.Context, project, user string) error
	// DeleteProject drops every membership of project.
	DeleteProject(ctx context.Context, project string) error
}

// Config tunes the registries; zero fields take the defaults.
type Config struct {
	// Memberships, when set, follow namespaces (API servers); nil leaves
	// memberships alone (controller tests).
	Memberships Memberships
	// Auditor records the writes of in-process components.
	Auditor generic.Auditor
	// EventTTL is how long events live; DefaultEventTTL when zero.
	EventTTL time.Duration
	// MaxReplicas caps a replication controller's replicas;
	// admission.DefaultMaxReplicas when zero.
	MaxReplicas int32
	// HostPorts is the range of host ports tenants may publish;
	// admission.DefaultHostPortRange when zero.
	HostPorts admission.PortRange
	// PodSubnets, when set, gives every node a pod subnet of its own
	// (spec.podCIDR) and frees it when the node is deleted; nil leaves
	// spec.podCIDR as written (controller tests).
	PodSubnets PodSubnets
	// Logger receives what hooks cannot return (a subnet that could not
	// be freed); discarded when nil.
	Logger *slog.Logger
	// ServiceCIDR is the range services' cluster IPs come from;
	// DefaultServiceCIDR when zero (ValidateServiceCIDR checks one).
	ServiceCIDR netip.Prefix
	// Router is where the master's HTTP router answers: routes' default
	// hosts and URLs follow it.
	Router Router
	// Transformers encrypt the stored values of the resources they name
	// (storage.LoadEncryptionConfig: secrets); the others are stored as
	// they are.
	Transformers map[string]storage.Transformer
}

// PodSubnets hands out the pod subnets of nodes (allocator.Subnets).
type PodSubnets interface {
	admission.SubnetAllocator
	// Release frees the node's subnet; none held is no error.
	Release(ctx context.Context, node string) error
	// Claims returns the node holding each subnet.
	Claims(ctx context.Context) (map[netip.Prefix]string, error)
	// Keep records a subnet the node holds, even one outside the range.
	Keep(ctx context.Context, node string, subnet netip.Prefix) error
}

// Registries are the core/v1 resources on one store, with their hooks and
// admission. Build them once and hand them to the API, the scheduler and
// the controllers, so that every writer passes the same rules.
type Registries struct {
	Namespaces             *generic.Registry
	Pods                   *generic.Registry
	Services               *generic.Registry
	ReplicationControllers *generic.Registry
	Events                 *generic.Registry
	Nodes                  *generic.Registry
	Leases                 *generic.Registry
	Endpoints              *generic.Registry
	Secrets                *generic.Registry
	ConfigMaps             *generic.Registry
	ResourceQuotas         *generic.Registry
	LimitRanges            *generic.Registry
	// Routes are berth.dev/v1 routes; they keep no managedFields (no
	// server-side apply: client-go's type converter does not know them).
	Routes *generic.Registry
	// PodSubnets are the nodes' pod subnets (Config.PodSubnets); nil
	// when the registries hand out none.
	PodSubnets PodSubnets
}

// NewRegistries builds the registries of store.
func NewRegistries(store *storage.Store, cfg Config) *Registries {
	if cfg.EventTTL <= 0 {
		cfg.EventTTL = DefaultEventTTL
	}
	if cfg.MaxReplicas <= 0 {
		cfg.MaxReplicas = admission.DefaultMaxReplicas
	}
	if cfg.HostPorts == (admission.PortRange{}) {
		cfg.HostPorts = admission.DefaultHostPortRange
	}
	if !cfg.ServiceCIDR.IsValid() {
		cfg.ServiceCIDR = DefaultServiceCIDR
	}
	reg := func(gv schema.GroupVersion, resource, kind string, s generic.Strategy) *generic.Registry {
		return &generic.Registry{
			Resource: resource, Kind: kind, GroupVersion: gv, Strategy: s, Store: store, Auditor: cfg.Auditor,
			Managers: fieldManagers(gv, kind, s.HasStatus()),
		}
	}
	r := &Registries{
		Namespaces:             reg(v1.SchemeGroupVersion, "namespaces", "Namespace", NamespaceStrategy{}),
		Pods:                   reg(v1.SchemeGroupVersion, "pods", "Pod", PodStrategy{}),
		Services:               reg(v1.SchemeGroupVersion, "services", "Service", ServiceStrategy{}),
		ReplicationControllers: reg(v1.SchemeGroupVersion, "replicationcontrollers", "ReplicationController", ReplicationControllerStrategy{}),
		Events:                 reg(v1.SchemeGroupVersion, "events", "Event", EventStrategy{}),
		Nodes:                  reg(v1.SchemeGroupVersion, "nodes", "Node", NodeStrategy{}),
		Leases:                 reg(coordinationv1.SchemeGroupVersion, "leases", "Lease", LeaseStrategy{}),
		Endpoints:              reg(v1.SchemeGroupVersion, "endpoints", "Endpoints", EndpointsStrategy{}),
		Secrets:                reg(v1.SchemeGroupVersion, "secrets", "Secret", SecretStrategy{}),
		ConfigMaps:             reg(v1.SchemeGroupVersion, "configmaps", "ConfigMap", ConfigMapStrategy{}),
		ResourceQuotas:         reg(v1.SchemeGroupVersion, "resourcequotas", "ResourceQuota", ResourceQuotaStrategy{}),
		LimitRanges:            reg(v1.SchemeGroupVersion, "limitranges", "LimitRange", LimitRangeStrategy{}),
		Routes: &generic.Registry{
			Resource: "routes", Kind: "Route", GroupVersion: berthv1.SchemeGroupVersion, Store: store, Auditor: cfg.Auditor,
			Strategy: RouteStrategy{Router: cfg.Router}, Allocator: routeHosts{},
		},
	}
	for _, g := range r.All() {
		if t := cfg.Transformers[g.Resource]; t != nil {
			g.Store = store.WithTransformer(t)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	chain := generic.Chain{
		admission.NodeRestriction(r.Pods),
		admission.HostPath(),
		admission.PodSecurity(),
		admission.Attribution(),
		admission.HostPorts(cfg.HostPorts),
		admission.ReplicaLimit(cfg.MaxReplicas),
		admission.NetID(),
		admission.ServiceTargetPorts(r.Pods, r.ReplicationControllers),
		admission.RouteTargets(r.Services, r.Secrets, r.Namespaces, cfg.Router.appsDomain()),
		admission.LimitRanger(r.LimitRanges),
	}
	r.PodSubnets = cfg.PodSubnets
	if cfg.PodSubnets != nil {
		chain = append(chain, admission.PodCIDR(cfg.PodSubnets))
		r.Nodes.AfterDelete = func(ctx context.Context, obj runtime.Object) {
			node := obj.(*v1.Node)
			if err := cfg.PodSubnets.Release(ctx, node.Name); err != nil {
				cfg.Logger.Warn("the pod subnet of a deleted node stays held until the pod CIDR controller frees it",
					"node", node.Name, "pod_cidr", node.Spec.PodCIDR, "error", err)
			}
		}
	}
	charger := admission.ResourceQuota(r.ResourceQuotas)
	for _, g := range r.All() {
		g.Admission = chain
		g.Charger = charger
	}
	r.Services.Allocator = &serviceAllocator{store: store, cidr: cfg.ServiceCIDR}
	r.Events.TTL = cfg.EventTTL
	r.Namespaces.Finalizer = namespaceFinalizer{registries: r, memberships: cfg.Memberships}
	if cfg.Memberships != nil {
		r.Namespaces.AfterCreate = func(ctx context.Context, obj runtime.Object) error {
			return startProject(ctx, cfg.Memberships, obj.(*v1.Namespace))
		}
	}
	return r
}

// All returns every registry.
func (r *Registries) All() []*generic.Registry {
	return []*generic.Registry{r.Namespaces, r.Pods, r.Services, r.ReplicationControllers, r.Events, r.Nodes, r.Leases, r.Endpoints, r.Secrets, r.ConfigMaps, r.ResourceQuotas, r.LimitRanges, r.Routes}
}

// startProject makes the creator of a namespace its admin. A namespace
// made by the master itself (no user) starts with no members.
func startProject(ctx context.Context, m Memberships, ns *v1.Namespace) error {
	id, ok := auth.IdentityFrom(ctx)
	if !ok || id.Component != "" || id.Name == "" {
		return m.DeleteProject(ctx, ns.Name)
	}
	return m.StartProject(ctx, ns.Name, id.Name)
}

// namespaceFinalizer removes what a namespace holds before the namespace
// goes: every namespaced object, then the memberships.
type namespaceFinalizer struct {
	registries  *Registries
	memberships Memberships
}

func (f namespaceFinalizer) Finalize(ctx context.Context, obj runtime.Object) error {
	ns := obj.(*v1.Namespace).Name
	var errs []error
	for _, g := range f.registries.All() {
		if !g.Strategy.NamespaceScoped() {
			continue
		}
		if err := g.DeleteAll(ctx, ns); err != nil {
			errs = append(errs, fmt.Errorf("delete the %s of namespace %q: %w", g.Resource, ns, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if f.memberships == nil {
		return nil
	}
	return f.memberships.DeleteProject(ctx, ns)
}
