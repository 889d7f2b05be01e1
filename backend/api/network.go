package api

import (
	"fmt"

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
