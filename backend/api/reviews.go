package api

import (
	"errors"
	"sort"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/labstack/echo/v4"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The self reviews kubectl asks for: `kubectl auth can-i` (access and
// rules reviews) and `kubectl auth whoami`. They answer from the same
// rules that authorize requests (auth.Decide and the project roles), so
// what they say is what the API does.

// selfSubjectAccessReview answers whether the caller may do one thing.
func (a *API) selfSubjectAccessReview(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	var review authorizationv1.SelfSubjectAccessReview
	if err := a.decodeBody(c, a.group(authorizationGroup).resources["selfsubjectaccessreviews"], &review); err != nil {
		return nil, err
	}
	spec := review.Spec
	if (spec.ResourceAttributes == nil) == (spec.NonResourceAttributes == nil) {
		return nil, errdefs.Invalid("SelfSubjectAccessReview", "", field.ErrorList{
			field.Invalid(field.NewPath("spec"), "", "exactly one of nonResourceAttributes or resourceAttributes must be specified"),
		})
	}
	ri := auth.RequestInfo{}
	if ra := spec.ResourceAttributes; ra != nil {
		version := ra.Version
		if version == "" {
			version = "v1"
		}
		ri = auth.RequestInfo{
			IsResourceRequest: true, Verb: ra.Verb, APIGroup: ra.Group, APIVersion: version,
			Namespace: ra.Namespace, Resource: ra.Resource, Subresource: ra.Subresource, Name: ra.Name,
		}
		if ri.Resource == "namespaces" && ri.Name != "" {
			ri.Namespace = ri.Name
		}
	} else {
		ri = auth.RequestInfo{Verb: spec.NonResourceAttributes.Verb, Path: spec.NonResourceAttributes.Path}
	}
	err := a.decide(c, ri)
	switch {
	case err == nil:
		review.Status.Allowed = true
	case !errors.Is(err, errdefs.ErrForbidden):
		// The decision could not be made (the database away): say so,
		// as kube-apiserver reports an evaluation error.
		review.Status.EvaluationError = err.Error()
	}
	return &review, nil
}

// decide is authorize for a request described rather than made.
func (a *API) decide(c echo.Context, ri auth.RequestInfo) error {
	id := identity(c)
	role := ""
	if project := ri.Project(); project != "" && !id.ClusterAdmin {
		r, err := a.accounts.RoleOf(c.Request().Context(), id.UserID, project)
		if err != nil {
			return err
		}
		role = r
	}
	return auth.Decide(id, role, ri)
}

// reviewVerbs are the verbs the rules review asks about for each resource.
var reviewVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

// selfSubjectRulesReview lists what the caller may do in a namespace
// (`kubectl auth can-i --list`): each served resource and subresource,
// with the verbs the rules allow.
func (a *API) selfSubjectRulesReview(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	var review authorizationv1.SelfSubjectRulesReview
	if err := a.decodeBody(c, a.group(authorizationGroup).resources["selfsubjectrulesreviews"], &review); err != nil {
		return nil, err
	}
	ns := review.Spec.Namespace
	for _, g := range a.groups {
		for _, name := range sortedNames(g.resources) {
			res := g.resources[name]
			targets := []string{""}
			if res.hasStatus() {
				targets = append(targets, "status")
			}
			for sub := range res.subresources {
				targets = append(targets, sub)
			}
			sort.Strings(targets)
			for _, sub := range targets {
				var allowed []string
				for _, verb := range reviewVerbs {
					ri := auth.RequestInfo{IsResourceRequest: true, Verb: verb, APIGroup: g.name, APIVersion: g.version, Resource: name, Subresource: sub}
					if res.namespaced {
						ri.Namespace = ns
					}
					if a.decide(c, ri) == nil {
						allowed = append(allowed, verb)
					}
				}
				if len(allowed) == 0 {
					continue
				}
				resource := name
				if sub != "" {
					resource += "/" + sub
				}
				review.Status.ResourceRules = append(review.Status.ResourceRules, authorizationv1.ResourceRule{
					Verbs: allowed, APIGroups: []string{g.name}, Resources: []string{resource},
				})
			}
		}
	}
	review.Status.NonResourceRules = []authorizationv1.NonResourceRule{{
		Verbs:           []string{"get"},
		NonResourceURLs: []string{"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz", "/openapi", "/openapi/*", "/version", "/version/"},
	}}
	return &review, nil
}

// selfSubjectReview tells the caller who the server takes them for
// (`kubectl auth whoami`).
func (a *API) selfSubjectReview(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	var review authenticationv1.SelfSubjectReview
	if err := a.decodeBody(c, a.group(authenticationGrp).resources["selfsubjectreviews"], &review); err != nil {
		return nil, err
	}
	id := identity(c)
	groups := []string{"system:authenticated"}
	switch {
	case id.IsNode():
		groups = append(groups, "system:nodes")
	case id.IsClusterAdmin():
		groups = append(groups, "system:masters")
	}
	review.Status.UserInfo = authenticationv1.UserInfo{Username: id.Name, Groups: groups}
	if id.UserID != 0 && !id.IsNode() {
		review.Status.UserInfo.UID = itoa(id.UserID)
	}
	return &review, nil
}
