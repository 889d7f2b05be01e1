package api

import (
	"context"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/labstack/echo/v4"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
)

// usedByNodePods lets a node get an object of resource only while a pod
// bound to it uses it (uses: core.PodReferencesSecret ...), as
// Kubernetes' Node authorizer follows the edges from a node to its pods
// and from them to their secrets and config maps. It is checked before
// the object is read, so that a node learns nothing (not even whether it
// exists) of the others.
func (a *API) usedByNodePods(resource string, uses func(*v1.Pod, string) bool) func(ctx context.Context, node, ns, name string) error {
	return func(ctx context.Context, node, ns, name string) error {
		pods, err := a.regs.Pods.List(ctx, ns, generic.ListOptions{
			Fields:    fields.OneTermEqualSelector("spec.nodeName", node),
			Predicate: func(o runtime.Object) bool { return uses(o.(*v1.Pod), name) },
		})
		if err != nil {
			return err
		}
		if meta.LenList(pods) == 0 {
			return errdefs.Newf(errdefs.ErrForbidden, "node %q may only get the %s that pods bound to it use: no relationship found between node %q and %s %s/%s",
				node, resource, node, resource, ns, name)
		}
		return nil
	}
}

// redactor returns the resource's redaction when the caller may see only
// names of what it reads (auth.NamesOnly), else nil.
func redactor(c echo.Context, res *resource) func(runtime.Object) {
	if res.redact == nil {
		return nil
	}
	role, _ := c.Get("role").(string)
	if !auth.NamesOnly(identity(c), role, requestInfo(c)) {
		return nil
	}
	return res.redact
}
