package api

import (
	"context"
	"sort"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/registry/core"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	"github.com/labstack/echo/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// handlerFunc serves one subresource; it writes its own answer.
type handlerFunc func(c echo.Context, ri auth.RequestInfo, res *resource) error

// objectHandler serves one verb of a Berth resource kept outside etcd: it
// returns the object to answer with, which serveBerth writes.
type objectHandler func(c echo.Context, ri auth.RequestInfo) (runtime.Object, error)

// resource describes one served resource: its names for discovery, and
// either the registry that stores it in etcd or, for Berth resources kept
// in PostgreSQL, a handler per verb. What is particular to a resource
// (its subresources, what a caller may see of it) is declared here, with
// the resource; the generic handlers ask for it and never test names.
type resource struct {
	group      string
	name       string
	singular   string
	kind       string
	shortNames []string
	// categories group resources for kubectl (`kubectl get all`).
	categories []string
	namespaced bool
	// registry serves the etcd-backed resources (every verb of crudVerbs).
	registry *generic.Registry
	// verbs serve Berth's resources that are not in etcd, by verb.
	verbs map[string]objectHandler
	// watch, when set, serves the watch verb of a Berth resource, which
	// writes its own answer (whoami: held while the credential is valid).
	watch handlerFunc
	// subresources beside status (which the registry serves when the
	// strategy HasStatus).
	subresources map[string]subresource
	// visible, when set, narrows what a caller sees of a list or a watch
	// (namespaces: those they are a member of), before paging.
	visible func(c echo.Context) (storage.Predicate, error)
	// boundToNodes: each object is bound to a node (spec.nodeName), and
	// a node's credential reads only those bound to it (pods).
	boundToNodes bool
	// redact, when set, strips from an object what a caller who may see
	// only names (auth.NamesOnly: a viewer reading secrets) must not see;
	// it applies to every object read, listed or watched.
	redact func(runtime.Object)
	// nodeReads, when set, decides before the read whether a node may get
	// the object ns/name (one a pod bound to it uses); otherwise a node
	// gets the namespaced objects bound to it (spec.nodeName).
	nodeReads func(ctx context.Context, node, ns, name string) error
}

// subresource is served by its own handler.
type subresource struct {
	// verbs for discovery.
	verbs []string
	// group, version and kind when they are not the resource's (scale is
	// an autoscaling/v1 Scale).
	gvk schema.GroupVersionKind
	// kind alone, in the resource's group version (exec takes a
	// PodExecOptions).
	kind  string
	serve handlerFunc
	// authorize, when set, decides who may use the subresource instead of
	// the role rules (a user's own password).
	authorize func(id auth.Identity, ri auth.RequestInfo) error
}

func (r *resource) groupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.group, Resource: r.name}
}

// hasStatus reports whether the resource serves a status subresource.
func (r *resource) hasStatus() bool { return r.registry != nil && r.registry.Strategy.HasStatus() }

var (
	crudVerbs  = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	berthGroup = "berth.dev"
)

// all is the category `kubectl get all` lists, as Kubernetes puts its
// workloads and services in it.
var all = []string{"all"}

// coreResources serves the core/v1 registries.
func (a *API) coreResources(regs *core.Registries) map[string]*resource {
	nodeOps := func(kind string, verbs ...string) subresource {
		return subresource{kind: kind, verbs: verbs, serve: a.proxyToNode}
	}
	list := []*resource{
		{name: "namespaces", singular: "namespace", kind: "Namespace", shortNames: []string{"ns"},
			registry: regs.Namespaces, visible: a.visibleNamespaces},
		{name: "pods", singular: "pod", kind: "Pod", shortNames: []string{"po"}, categories: all, namespaced: true, registry: regs.Pods, boundToNodes: true,
			subresources: map[string]subresource{
				"log": {verbs: []string{"get"}, serve: a.servePodLog}, "exec": nodeOps("PodExecOptions", "create", "get"),
				"attach": nodeOps("PodAttachOptions", "create", "get"), "portforward": nodeOps("PodPortForwardOptions", "create", "get"),
				"diff": nodeOps("Pod", "get"), "stop": nodeOps("Pod", "create"), "start": nodeOps("Pod", "create"), "restart": nodeOps("Pod", "create"),
			}},
		{name: "services", singular: "service", kind: "Service", shortNames: []string{"svc"}, categories: all, namespaced: true, registry: regs.Services},
		{name: "endpoints", singular: "endpoints", kind: "Endpoints", shortNames: []string{"ep"}, namespaced: true, registry: regs.Endpoints},
		{name: "replicationcontrollers", singular: "replicationcontroller", kind: "ReplicationController", shortNames: []string{"rc"},
			categories: all, namespaced: true, registry: regs.ReplicationControllers,
			subresources: map[string]subresource{"scale": {
				verbs: []string{"get", "patch", "update"},
				gvk:   schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"},
				serve: a.serveScale,
			}}},
		{name: "events", singular: "event", kind: "Event", shortNames: []string{"ev"}, namespaced: true, registry: regs.Events},
		{name: "nodes", singular: "node", kind: "Node", shortNames: []string{"no"}, registry: regs.Nodes,
			subresources: map[string]subresource{"upgrade": {
				verbs: []string{"create"}, serve: a.serveNodeUpgrade,
				gvk: schema.GroupVersionKind{Group: berthGroup, Version: "v1", Kind: "NodeUpgrade"},
			}}},
		{name: "resourcequotas", singular: "resourcequota", kind: "ResourceQuota", shortNames: []string{"quota"}, namespaced: true, registry: regs.ResourceQuotas},
		{name: "limitranges", singular: "limitrange", kind: "LimitRange", shortNames: []string{"limits"}, namespaced: true, registry: regs.LimitRanges},
		{name: "secrets", singular: "secret", kind: "Secret", namespaced: true, registry: regs.Secrets,
			redact: core.RedactSecret, nodeReads: a.usedByNodePods("secrets", core.PodReferencesSecret)},
		{name: "configmaps", singular: "configmap", kind: "ConfigMap", shortNames: []string{"cm"}, namespaced: true, registry: regs.ConfigMaps,
			nodeReads: a.usedByNodePods("configmaps", core.PodReferencesConfigMap)},
	}
	return byName(list)
}

// berthResources are Berth's own resources: routes, kept in etcd by their
// registry like the core ones, and those kept in PostgreSQL (projects are
// namespaces seen from Berth), served by the handlers in berth.go.
func (a *API) berthResources(regs *core.Registries) map[string]*resource {
	list := []*resource{
		{group: berthGroup, name: "routes", singular: "route", kind: "Route", namespaced: true, registry: regs.Routes},
		{group: berthGroup, name: "projects", singular: "project", kind: "Project", shortNames: []string{"proj"},
			verbs: map[string]objectHandler{"list": a.listProjects, "get": a.getProject, "create": a.createProject, "delete": a.deleteProject},
			subresources: map[string]subresource{"network": {
				verbs: []string{"get", "update"}, serve: a.serveProjectNetwork,
				gvk: schema.GroupVersionKind{Group: berthGroup, Version: "v1", Kind: "ProjectNetwork"},
			}}},
		{group: berthGroup, name: "members", singular: "member", kind: "Member", namespaced: true,
			verbs: map[string]objectHandler{"list": a.listMembers, "get": a.getMember, "create": a.putMember, "update": a.putMember, "delete": a.deleteMember}},
		{group: berthGroup, name: "users", singular: "user", kind: "User",
			verbs: map[string]objectHandler{"list": a.listUsers, "get": a.getUser, "create": a.createUser, "delete": a.deleteUser},
			subresources: map[string]subresource{"password": {
				verbs: []string{"update"}, serve: a.changePassword, authorize: passwordAuthorized,
				gvk: schema.GroupVersionKind{Group: berthGroup, Version: "v1", Kind: "PasswordChange"},
			}}},
		{group: berthGroup, name: "tokens", singular: "token", kind: "Token",
			verbs: map[string]objectHandler{"list": a.listTokens, "create": a.createToken, "delete": a.deleteToken}},
		{group: berthGroup, name: "whoami", singular: "whoami", kind: "WhoAmI",
			verbs: map[string]objectHandler{"get": a.whoAmI, "list": a.whoAmI}, watch: a.watchWhoAmI},
		{group: berthGroup, name: "auditentries", singular: "auditentry", kind: "AuditEntry",
			verbs: map[string]objectHandler{"list": a.listAudit}},
		{group: berthGroup, name: "hostimages", singular: "hostimage", kind: "HostImage", shortNames: []string{"hi"},
			verbs: map[string]objectHandler{"list": a.listHostImages, "get": a.getHostImage, "create": a.createHostImage,
				"update": a.updateHostImage, "delete": a.deleteHostImage},
			subresources: map[string]subresource{
				"revisions": {verbs: []string{"get"}, serve: a.serveHostImageRevisions,
					gvk: schema.GroupVersionKind{Group: berthGroup, Version: "v1", Kind: "HostImageRevisionList"}},
				"render": {verbs: []string{"get"}, serve: a.serveHostImageRender,
					gvk: schema.GroupVersionKind{Group: berthGroup, Version: "v1", Kind: "HostImageRender"}},
			}},
		{group: berthGroup, name: "hostimagebuilds", singular: "hostimagebuild", kind: "HostImageBuild", shortNames: []string{"hib"},
			verbs: map[string]objectHandler{"list": a.listHostImageBuilds, "get": a.getHostImageBuild, "create": a.createHostImageBuild},
			subresources: map[string]subresource{
				"log":    {verbs: []string{"get"}, serve: a.serveHostImageBuildLog},
				"cancel": {verbs: []string{"create"}, serve: a.serveHostImageBuildCancel},
				"diff": {verbs: []string{"get"}, serve: a.serveHostImageBuildDiff,
					gvk: schema.GroupVersionKind{Group: berthGroup, Version: "v1", Kind: "HostImageDiff"}},
			}},
		{group: berthGroup, name: "usagerecords", singular: "usagerecord", kind: "UsageRecordList",
			verbs: map[string]objectHandler{"create": a.ingestUsage}},
		{group: berthGroup, name: "usage", singular: "usage", kind: "UsageReport", namespaced: true,
			verbs: map[string]objectHandler{"list": a.usageReport}},
		{group: berthGroup, name: "clusternetworks", singular: "clusternetwork", kind: "ClusterNetwork",
			verbs: map[string]objectHandler{"get": a.getClusterNetwork, "list": a.listClusterNetworks}},
	}
	return byName(list)
}

func byName(list []*resource) map[string]*resource {
	out := make(map[string]*resource, len(list))
	for _, r := range list {
		out[r.name] = r
	}
	return out
}

// discoveryVerbs are the verbs a resource serves, for discovery.
func (r *resource) discoveryVerbs() []string {
	if r.registry != nil {
		return crudVerbs
	}
	verbs := make([]string, 0, len(r.verbs))
	for v := range r.verbs {
		verbs = append(verbs, v)
	}
	if r.watch != nil {
		verbs = append(verbs, "watch")
	}
	sort.Strings(verbs)
	return verbs
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
			Kind: r.kind, Verbs: r.discoveryVerbs(), ShortNames: r.shortNames, Categories: r.categories,
		})
		if r.hasStatus() {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: r.name + "/status", Namespaced: r.namespaced, Kind: r.kind, Verbs: []string{"get", "patch", "update"},
			})
		}
		subs := make([]string, 0, len(r.subresources))
		for s := range r.subresources {
			subs = append(subs, s)
		}
		sort.Strings(subs)
		for _, s := range subs {
			sub := r.subresources[s]
			sr := metav1.APIResource{Name: r.name + "/" + s, Namespaced: r.namespaced, Kind: r.kind, Verbs: sub.verbs}
			if sub.kind != "" {
				sr.Kind = sub.kind
			}
			if !sub.gvk.Empty() {
				sr.Group, sr.Version, sr.Kind = sub.gvk.Group, sub.gvk.Version, sub.gvk.Kind
			}
			list.APIResources = append(list.APIResources, sr)
		}
	}
	return list
}
