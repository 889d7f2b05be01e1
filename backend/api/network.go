package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/labstack/echo/v4"
	"k8s.io/apimachinery/pkg/runtime"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
)

func (a *API) getClusterNetwork(_ echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	if ri.Name != berthv1.ClusterNetworkName {
		return nil, fmt.Errorf("clusternetwork %q (there is one, %q): %w", ri.Name, berthv1.ClusterNetworkName, errdefs.ErrNotFound)
	}
	cn := a.clusterNetwork
	cn.Name = berthv1.ClusterNetworkName
	return &cn, nil
}

func (a *API) listClusterNetworks(c echo.Context, _ auth.RequestInfo) (runtime.Object, error) {
	cn := a.clusterNetwork
	cn.Name = berthv1.ClusterNetworkName
	cn.Kind, cn.APIVersion = "ClusterNetwork", berthv1.SchemeGroupVersion.String()
	return &berthv1.ClusterNetworkList{Items: []berthv1.ClusterNetwork{cn}}, nil
}

// serveProjectNetwork serves projects/NAME/network: GET shows the
// project's NetID and the projects that share it (members may read it);
// PUT (cluster admins, by the role rules) moves the project to the NetID
// of the project it joins, to GlobalNetID, or, with "", back onto a
// network of its own.
func (a *API) serveProjectNetwork(c echo.Context, ri auth.RequestInfo, res *resource) error {
	gr := res.groupResource()
	ctx := c.Request().Context()
	switch ri.Verb {
	case "get":
	case "update":
		var body berthv1.ProjectNetwork
		if err := decodeJSONStrict(c.Request(), &body); err != nil {
			return statusError(err, gr, ri.Name)
		}
		if body.Kind != "" && body.Kind != "ProjectNetwork" {
			return statusError(errdefs.BadRequest("the body is a %s, want a ProjectNetwork", body.Kind), gr, ri.Name)
		}
		if err := a.setNetID(ctx, ri.Name, body.NetID); err != nil {
			return statusError(err, gr, ri.Name)
		}
	default:
		return statusError(errdefs.Newf(errdefs.ErrUnsupported, "projects/network supports get and update (PUT)"), gr, ri.Name)
	}
	pn, err := a.projectNetwork(ctx, ri.Name)
	if err != nil {
		return statusError(err, gr, ri.Name)
	}
	return writeJSON(c, http.StatusOK, pn)
}

// projectNetwork is the network of project name.
func (a *API) projectNetwork(ctx context.Context, name string) (*berthv1.ProjectNetwork, error) {
	list, err := a.regs.Namespaces.List(ctx, "", generic.ListOptions{})
	if err != nil {
		return nil, err
	}
	var self *v1.Namespace
	for i := range list.(*v1.NamespaceList).Items {
		if ns := &list.(*v1.NamespaceList).Items[i]; ns.Name == name {
			self = ns
		}
	}
	if self == nil {
		return nil, fmt.Errorf("project %q: %w", name, errdefs.ErrNotFound)
	}
	pn := &berthv1.ProjectNetwork{
		TypeMeta:   metav1.TypeMeta{APIVersion: berthv1.SchemeGroupVersion.String(), Kind: "ProjectNetwork"},
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: self.UID, ResourceVersion: self.ResourceVersion},
		NetID:      berthv1.NetIDOf(self),
	}
	for _, ns := range list.(*v1.NamespaceList).Items {
		if ns.Name != name && berthv1.NetIDOf(&ns) == pn.NetID {
			pn.Joined = append(pn.Joined, ns.Name)
		}
	}
	return pn, nil
}

// setNetID moves project name to netID: GlobalNetID, "" (a network of its
// own), or the NetID of an existing project.
func (a *API) setNetID(ctx context.Context, name, netID string) error {
	if netID != "" && netID != berthv1.GlobalNetID {
		list, err := a.regs.Namespaces.List(ctx, "", generic.ListOptions{})
		if err != nil {
			return err
		}
		found := false
		for _, ns := range list.(*v1.NamespaceList).Items {
			found = found || berthv1.NetIDOf(&ns) == netID
		}
		if !found {
			return errdefs.Invalid("ProjectNetwork", name, field.ErrorList{field.Invalid(field.NewPath("netID"), netID,
				fmt.Sprintf("no project has this NetID: give a project's NetID (from its network), %q, or \"\" for a network of its own", berthv1.GlobalNetID))})
		}
	}
	_, err := a.regs.Namespaces.Update(ctx, "", name, generic.UpdateSpec, func(cur runtime.Object) (runtime.Object, error) {
		ns := cur.(*v1.Namespace)
		if netID == "" || netID == string(ns.UID) {
			delete(ns.Annotations, berthv1.AnnotationNetID)
			return ns, nil
		}
		if ns.Annotations == nil {
			ns.Annotations = map[string]string{}
		}
		ns.Annotations[berthv1.AnnotationNetID] = netID
		return ns, nil
	}, metav1.UpdateOptions{})
	return err
}
