package client

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownResource is wrapped by LookupResource and LookupKind when no
// known resource matches.
var ErrUnknownResource = errors.New("unknown resource type")

// Resource describes one kind of object the server serves and where.
type Resource struct {
	Group    string // "" for the core group
	Version  string // "v1"
	Resource string // plural, lower case, as in the URL: "pods"
	Singular string // "pod"
	Kind     string // "Pod"
	// ShortNames are the abbreviations kubectl users type ("po").
	ShortNames []string
	// Namespaced reports whether objects live in a namespace.
	Namespaced bool
}

// APIVersion is the apiVersion objects of the resource carry ("v1",
// "berth.dev/v1").
func (r Resource) APIVersion() string {
	if r.Group == "" {
		return r.Version
	}
	return r.Group + "/" + r.Version
}

// String names the resource the way error messages do ("pods",
// "projects.berth.dev").
func (r Resource) String() string {
	if r.Group == "" {
		return r.Resource
	}
	return r.Resource + "." + r.Group
}

// Path returns the URL path, unescaped, of the collection (name == "") or
// of one object.
// For a namespaced resource an empty namespace means all namespaces, which
// only makes sense for lists and watches.
func (r Resource) Path(namespace, name string) string {
	var b strings.Builder
	if r.Group == "" {
		b.WriteString("/api/" + r.Version)
	} else {
		b.WriteString("/apis/" + r.Group + "/" + r.Version)
	}
	if r.Namespaced && namespace != "" {
		b.WriteString("/namespaces/" + namespace)
	}
	b.WriteString("/" + r.Resource)
	if name != "" {
		b.WriteString("/" + name)
	}
	return b.String()
}

const berthGroup = "berth.dev"

// Resources is the table of resources the client knows, in the order
// `berth get` help lists them.
var Resources = []Resource{
	{Version: "v1", Resource: "pods", Singular: "pod", Kind: "Pod", ShortNames: []string{"po"}, Namespaced: true},
	{Version: "v1", Resource: "services", Singular: "service", Kind: "Service", ShortNames: []string{"svc"}, Namespaced: true},
	{Version: "v1", Resource: "endpoints", Singular: "endpoints", Kind: "Endpoints", ShortNames: []string{"ep"}, Namespaced: true},
	{Version: "v1", Resource: "replicationcontrollers", Singular: "replicationcontroller", Kind: "ReplicationController", ShortNames: []string{"rc"}, Namespaced: true},
	{Version: "v1", Resource: "events", Singular: "event", Kind: "Event", ShortNames: []string{"ev"}, Namespaced: true},
	{Version: "v1", Resource: "secrets", Singular: "secret", Kind: "Secret", Namespaced: true},
	{Version: "v1", Resource: "configmaps", Singular: "configmap", Kind: "ConfigMap", ShortNames: []string{"cm"}, Namespaced: true},
	{Version: "v1", Resource: "namespaces", Singular: "namespace", Kind: "Namespace", ShortNames: []string{"ns"}},
	{Version: "v1", Resource: "nodes", Singular: "node", Kind: "Node", ShortNames: []string{"no"}},
	{Version: "v1", Resource: "resourcequotas", Singular: "resourcequota", Kind: "ResourceQuota", ShortNames: []string{"quota"}, Namespaced: true},
	{Version: "v1", Resource: "limitranges", Singular: "limitrange", Kind: "LimitRange", ShortNames: []string{"limits"}, Namespaced: true},
	{Group: "coordination.k8s.io", Version: "v1", Resource: "leases", Singular: "lease", Kind: "Lease", Namespaced: true},
	{Group: berthGroup, Version: "v1", Resource: "projects", Singular: "project", Kind: "Project"},
	{Group: berthGroup, Version: "v1", Resource: "members", Singular: "member", Kind: "Member", Namespaced: true},
	{Group: berthGroup, Version: "v1", Resource: "users", Singular: "user", Kind: "User"},
	{Group: berthGroup, Version: "v1", Resource: "tokens", Singular: "token", Kind: "Token"},
	{Group: berthGroup, Version: "v1", Resource: "hostimages", Singular: "hostimage", Kind: "HostImage", ShortNames: []string{"hi"}},
	{Group: berthGroup, Version: "v1", Resource: "hostimagebuilds", Singular: "hostimagebuild", Kind: "HostImageBuild", ShortNames: []string{"hib"}},
	{Group: berthGroup, Version: "v1", Resource: "clusternetworks", Singular: "clusternetwork", Kind: "ClusterNetwork"},
	{Group: berthGroup, Version: "v1", Resource: "routes", Singular: "route", Kind: "Route", Namespaced: true},
}

// Well-known resources, for callers that need one without a lookup.
var (
	Pods                   = mustLookup("pods")
	Services               = mustLookup("services")
	Endpoints              = mustLookup("endpoints")
	ReplicationControllers = mustLookup("replicationcontrollers")
	Events                 = mustLookup("events")
	Secrets                = mustLookup("secrets")
	ConfigMaps             = mustLookup("configmaps")
	Namespaces             = mustLookup("namespaces")
	Nodes                  = mustLookup("nodes")
	Leases                 = mustLookup("leases")
	ResourceQuotas         = mustLookup("resourcequotas")
	Projects               = mustLookup("projects")
	Members                = mustLookup("members")
	Users                  = mustLookup("users")
	Tokens                 = mustLookup("tokens")
	HostImages             = mustLookup("hostimages")
	HostImageBuilds        = mustLookup("hostimagebuilds")
	ClusterNetworks        = mustLookup("clusternetworks")
	Routes                 = mustLookup("routes")
)

func mustLookup(name string) Resource {
	r, err := LookupResource(name)
	if err != nil {
		panic(err)
	}
	return r
}

// LookupResource finds a resource by the name a user types: plural,
// singular, short name or kind, case-insensitively, optionally qualified by
// its group ("projects.berth.dev"). It returns an error wrapping
// ErrUnknownResource when none matches.
func LookupResource(name string) (Resource, error) {
	lower := strings.ToLower(strings.TrimSpace(name))
	base, group, qualified := strings.Cut(lower, ".")
	for _, r := range Resources {
		if qualified && r.Group != group {
			continue
		}
		if base == r.Resource || base == r.Singular || base == strings.ToLower(r.Kind) {
			return r, nil
		}
		for _, short := range r.ShortNames {
			if base == short {
				return r, nil
			}
		}
	}
	return Resource{}, fmt.Errorf("%w %q", ErrUnknownResource, name)
}

// LookupKind finds the resource of objects with the given apiVersion and
// kind, as found in a manifest. It returns an error wrapping
// ErrUnknownResource when none matches.
func LookupKind(apiVersion, kind string) (Resource, error) {
	for _, r := range Resources {
		if r.APIVersion() == apiVersion && r.Kind == kind {
			return r, nil
		}
	}
	return Resource{}, fmt.Errorf("%w: no kind %q in %q", ErrUnknownResource, kind, apiVersion)
}
