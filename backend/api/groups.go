package api

import (
	"github.com/berthpaas/berth/backend/registry/core"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// apiGroup is one API group at its one served version: the legacy core
// group ("", at /api/v1) or a named group (at /apis/NAME/VERSION).
type apiGroup struct {
	name, version string
	resources     map[string]*resource
}

func (g *apiGroup) groupVersion() string {
	if g.name == "" {
		return g.version
	}
	return g.name + "/" + g.version
}

func (g *apiGroup) discovery() metav1.APIGroup {
	gv := metav1.GroupVersionForDiscovery{GroupVersion: g.groupVersion(), Version: g.version}
	return metav1.APIGroup{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
		Name:     g.name, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv,
	}
}

// The named groups Berth serves besides its own.
const (
	coordinationGroup  = "coordination.k8s.io"
	authorizationGroup = "authorization.k8s.io"
	authenticationGrp  = "authentication.k8s.io"
)

// apiGroups lists every group served, core first.
func (a *API) apiGroups(regs *core.Registries) []*apiGroup {
	return []*apiGroup{
		{name: "", version: "v1", resources: a.core},
		{name: berthGroup, version: "v1", resources: a.berth},
		{name: coordinationGroup, version: "v1", resources: byName([]*resource{
			{group: coordinationGroup, name: "leases", singular: "lease", kind: "Lease", namespaced: true, registry: regs.Leases},
		})},
		{name: authorizationGroup, version: "v1", resources: byName([]*resource{
			{group: authorizationGroup, name: "selfsubjectaccessreviews", singular: "selfsubjectaccessreview", kind: "SelfSubjectAccessReview",
				verbs: map[string]objectHandler{"create": a.selfSubjectAccessReview}},
			{group: authorizationGroup, name: "selfsubjectrulesreviews", singular: "selfsubjectrulesreview", kind: "SelfSubjectRulesReview",
				verbs: map[string]objectHandler{"create": a.selfSubjectRulesReview}},
		})},
		{name: metricsGroup, version: "v1beta1", resources: a.metricsResources()},
		{name: authenticationGrp, version: "v1", resources: byName([]*resource{
			{group: authenticationGrp, name: "selfsubjectreviews", singular: "selfsubjectreview", kind: "SelfSubjectReview",
				verbs: map[string]objectHandler{"create": a.selfSubjectReview}},
		})},
	}
}

// group returns the served group named name, or nil.
func (a *API) group(name string) *apiGroup {
	for _, g := range a.groups {
		if g.name == name {
			return g
		}
	}
	return nil
}
