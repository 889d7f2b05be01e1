package core

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	reg := func(resource, kind string, s generic.Strategy) *generic.Registry {
		return &generic.Registry{Resource: resource, Kind: kind, Strategy: s, Store: store, Auditor: cfg.Auditor}
	}
	r := &Registries{
		Namespaces:             reg("namespaces", "Namespace", NamespaceStrategy{}),
		Pods:                   reg("pods", "Pod", PodStrategy{}),
		Services:               reg("services", "Service", ServiceStrategy{}),
		ReplicationControllers: reg("replicationcontrollers", "ReplicationController", ReplicationControllerStrategy{}),
		Events:                 reg("events", "Event", EventStrategy{}),
		Nodes:                  reg("nodes", "Node", NodeStrategy{}),
	}
	chain := generic.Chain{
		admission.NodeRestriction(r.Pods),
		admission.HostPath(),
		admission.HostPorts(cfg.HostPorts),
		admission.ReplicaLimit(cfg.MaxReplicas),
	}
	for _, g := range r.All() {
		g.Admission = chain
	}
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
	return []*generic.Registry{r.Namespaces, r.Pods, r.Services, r.ReplicationControllers, r.Events, r.Nodes}
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
		if _, err := g.Store.DeletePrefix(ctx, storage.Prefix(g.Resource, ns)); err != nil {
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
