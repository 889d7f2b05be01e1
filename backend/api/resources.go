package api

import (
	"github.com/berthpaas/berth/backend/registry/core"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// resource describes one served resource: its names for discovery, and
// the registry that stores it (nil for Berth resources kept in PostgreSQL,
// which have handlers of their own).
type resource struct {
	group      string
	name       string
	singular   string
	kind       string
	shortNames []string
	namespaced bool
	verbs      []string
	// subresources lists the subresources served besides the resource.
	subresources []string
	registry     *generic.Registry
}

func (r *resource) groupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.group, Resource: r.name}
}

var (
	crudVerbs  = []string{"create", "delete", "get", "list", "patch", "update", "watch"}
	berthGroup = "berth.dev"
)

// coreResources builds the core/v1 resources on the store.
func coreResources(store *storage.Store) map[string]*resource {
	reg := func(name, kind string, s generic.Strategy) *generic.Registry {
		return &generic.Registry{Resource: name, Kind: kind, Strategy: s, Store: store}
	}
	list := []*resource{
		{name: "namespaces", singular: "namespace", kind: "Namespace", shortNames: []string{"ns"},
			verbs: crudVerbs, subresources: []string{"status"}, registry: reg("namespaces", "Namespace", core.NamespaceStrategy{})},
		{name: "pods", singular: "pod", kind: "Pod", shortNames: []string{"po"}, namespaced: true,
			verbs: crudVerbs, subresources: []string{"status"}, registry: reg("pods", "Pod", core.PodStrategy{})},
		{name: "services", singular: "service", kind: "Service", shortNames: []string{"svc"}, namespaced: true,
			verbs: crudVerbs, subresources: []string{"status"}, registry: reg("services", "Service", core.ServiceStrategy{})},
		{name: "replicationcontrollers", singular: "replicationcontroller", kind: "ReplicationController", shortNames: []string{"rc"}, namespaced: true,
			verbs: crudVerbs, subresources: []string{"status", "scale"}, registry: reg("replicationcontrollers", "ReplicationController", core.ReplicationControllerStrategy{})},
		{name: "events", singular: "event", kind: "Event", shortNames: []string{"ev"}, namespaced: true,
			verbs: crudVerbs, registry: reg("events", "Event", core.EventStrategy{})},
		{name: "nodes", singular: "node", kind: "Node", shortNames: []string{"no"},
			verbs: crudVerbs, subresources: []string{"status"}, registry: reg("nodes", "Node", core.NodeStrategy{})},
	}
	out := make(map[string]*resource, len(list))
	for _, r := range list {
		out[r.name] = r
	}
	return out
}

// berthResources are Berth's own resources, served by handlers in berth.go.
func berthResources() map[string]*resource {
	list := []*resource{
		{group: berthGroup, name: "projects", singular: "project", kind: "Project", shortNames: []string{"proj"},
			verbs: []string{"create", "delete", "get", "list"}},
		{group: berthGroup, name: "members", singular: "member", kind: "Member", namespaced: true,
			verbs: []string{"create", "delete", "get", "list", "update"}},
		{group: berthGroup, name: "users", singular: "user", kind: "User",
			verbs: []string{"create", "delete", "get", "list"}},
		{group: berthGroup, name: "tokens", singular: "token", kind: "Token",
			verbs: []string{"create", "delete", "list"}},
		{group: berthGroup, name: "whoami", singular: "whoami", kind: "WhoAmI", verbs: []string{"get"}},
		{group: berthGroup, name: "auditentries", singular: "auditentry", kind: "AuditEntry", verbs: []string{"list"}},
	}
	out := make(map[string]*resource, len(list))
	for _, r := range list {
		out[r.name] = r
	}
	return out
}

// apiResourceList is the discovery document of one group version.
func apiResourceList(groupVersion string, resources map[string]*resource) *metav1.APIResourceList {
	list := &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: groupVersion,
	}
	for _, name := range sortedNames(resources) {
		r := resources[name]
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: r.name, SingularName: r.singular, Namespaced: r.namespaced,
			Kind: r.kind, Verbs: r.verbs, ShortNames: r.shortNames,
		})
		for _, sub := range r.subresources {
			sr := metav1.APIResource{
				Name: r.name + "/" + sub, Namespaced: r.namespaced, Kind: r.kind,
				Verbs: []string{"get", "patch", "update"},
			}
			if sub == "scale" {
				sr.Group, sr.Version, sr.Kind = "autoscaling", "v1", "Scale"
			}
			list.APIResources = append(list.APIResources, sr)
		}
	}
	return list
}
