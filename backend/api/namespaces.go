package api

import (
	"github.com/berthpaas/berth/backend/registry/storage"
	"github.com/labstack/echo/v4"
	"k8s.io/apimachinery/pkg/runtime"
)

// visibleNamespaces is what a caller sees of the namespaces: all of them
// for cluster admins and for node agents (which isolate projects on the
// pod network by their NetIDs), else the projects they are a member of. A watch also
// looks up the namespaces it had not heard of, so that one joined (or
// created) while it runs shows.
func (a *API) visibleNamespaces(c echo.Context) (storage.Predicate, error) {
	id := identity(c)
	if id.IsClusterAdmin() || id.IsNode() {
		return nil, nil
	}
	ctx := c.Request().Context()
	roles, err := a.accounts.ProjectsOf(ctx, id.UserID)
	if err != nil {
		return nil, err
	}
	watching := requestInfo(c).Verb == "watch"
	return func(obj runtime.Object) bool {
		name := objectName(obj)
		if role, ok := roles[name]; ok || !watching {
			return role != ""
		}
		role, err := a.accounts.RoleOf(ctx, id.UserID, name)
		return err == nil && role != ""
	}, nil
}
