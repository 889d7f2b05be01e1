package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// openAPIIndex lists the OpenAPI v3 documents, one per group version.
func (a *API) openAPIIndex(c echo.Context) error {
	paths := map[string]any{}
	for _, g := range a.groups {
		gv := openAPIPath(g)
		doc, _ := json.Marshal(a.openAPIDoc(g))
		sum := sha256.Sum256(doc)
		paths[gv] = map[string]string{"serverRelativeURL": "/openapi/v3/" + gv + "?hash=" + strings.ToUpper(hex.EncodeToString(sum[:8]))}
	}
	return writeJSON(c, http.StatusOK, map[string]any{"paths": paths})
}

// openAPIDocument serves one group version's OpenAPI v3 document. It
// describes each kind's patch operation with its group-version-kind and
// the fieldValidation parameter: that tells kubectl the server validates
// fields itself, so kubectl sends fieldValidation=Strict instead of
// validating against schemas.
func (a *API) openAPIDocument(c echo.Context) error {
	gv := strings.TrimPrefix(c.Request().URL.Path, "/openapi/v3/")
	for _, g := range a.groups {
		if openAPIPath(g) == gv {
			return writeJSON(c, http.StatusOK, a.openAPIDoc(g))
		}
	}
	return echo.NewHTTPError(http.StatusNotFound, "no OpenAPI document for "+gv)
}

// openAPIPath is a group version's path under /openapi/v3/.
func openAPIPath(g *apiGroup) string {
	if g.name == "" {
		return "api/" + g.version
	}
	return "apis/" + g.groupVersion()
}

func (a *API) openAPIDoc(g *apiGroup) map[string]any {
	resources, group, prefix := g.resources, g.name, "/"+openAPIPath(g)
	fieldValidation := map[string]any{
		"name": "fieldValidation", "in": "query", "schema": map[string]string{"type": "string"},
		"description": "Strict (default), Warn or Ignore: what to do with unknown or duplicate fields.",
	}
	paths := map[string]any{}
	for _, name := range sortedNames(resources) {
		r := resources[name]
		path := prefix + "/" + r.name + "/{name}"
		if r.namespaced {
			path = prefix + "/namespaces/{namespace}/" + r.name + "/{name}"
		}
		op := map[string]any{
			"operationId":                     "patch" + r.kind,
			"parameters":                      []any{fieldValidation},
			"responses":                       map[string]any{"200": map[string]string{"description": "OK"}},
			"x-kubernetes-action":             "patch",
			"x-kubernetes-group-version-kind": map[string]string{"group": group, "version": "v1", "kind": r.kind},
		}
		paths[path] = map[string]any{"patch": op}
	}
	return map[string]any{
		"openapi": "3.0.0",
		"info":    map[string]string{"title": "Berth", "version": "v1"},
		"paths":   paths,
	}
}
