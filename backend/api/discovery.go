package api

import (
	"net/http"
	"strings"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/labstack/echo/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// discovery answers /api, /apis and the group-version documents kubectl
// reads to learn the resources, their verbs and short names.
func (a *API) discovery(c echo.Context, ri auth.RequestInfo) error {
	if c.Request().Method != http.MethodGet {
		return echo.NewHTTPError(http.StatusMethodNotAllowed)
	}
	switch p := strings.TrimSuffix(ri.Path, "/"); p {
	case "/api":
		return writeJSON(c, http.StatusOK, &metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
			Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
				{ClientCIDR: "0.0.0.0/0", ServerAddress: c.Request().Host},
			},
		})
	case "/apis":
		list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
		for _, g := range a.groups {
			if g.name != "" {
				list.Groups = append(list.Groups, g.discovery())
			}
		}
		return writeJSON(c, http.StatusOK, list)
	default:
		for _, g := range a.groups {
			switch {
			case g.name == "" && p == "/api/"+g.version, g.name != "" && p == "/apis/"+g.groupVersion():
				return writeJSON(c, http.StatusOK, apiResourceList(g.groupVersion(), g.resources))
			case g.name != "" && p == "/apis/"+g.name:
				d := g.discovery()
				return writeJSON(c, http.StatusOK, &d)
			}
		}
	}
	return echo.NewHTTPError(http.StatusNotFound, notFoundMessage)
}
