package api

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/manifest"
	"github.com/labstack/echo/v4"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// patch applies a JSON merge patch, a strategic merge patch (core types)
// or a JSON patch to the stored object, retrying on concurrent writes; a
// resourceVersion in the patch makes it a compare-and-swap.
func (a *API) patch(c echo.Context, ri auth.RequestInfo, res *resource, ns string) (runtime.Object, error) {
	req := c.Request()
	patchBody, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	apply, err := patcher(mt, patchBody, res)
	if err != nil {
		return nil, err
	}
	return res.registry.Update(req.Context(), ns, ri.Name, updateKind(ri), func(current runtime.Object) (runtime.Object, error) {
		setTypeMeta(current, res)
		currentJSON, err := json.Marshal(current)
		if err != nil {
			return nil, err
		}
		patched, err := apply(currentJSON)
		if err != nil {
			return nil, apierrors.NewBadRequest("the patch could not be applied: " + err.Error())
		}
		obj := res.registry.Strategy.New()
		problems, err := manifest.Decode(patched, "application/json", obj)
		if err != nil {
			return nil, err
		}
		if err := a.fieldValidation(c, problems); err != nil {
			return nil, err
		}
		if ri.Subresource == "" {
			if err := admitHostPath(c, obj); err != nil {
				return nil, err
			}
		}
		return obj, checkKind(obj, res)
	})
}

func patcher(mediaType string, patchBody []byte, res *resource) (func([]byte) ([]byte, error), error) {
	if len(patchBody) > 0 && patchBody[0] != '{' && patchBody[0] != '[' {
		converted, _, err := manifest.ToJSON(patchBody, "application/yaml")
		if err != nil {
			return nil, err
		}
		patchBody = converted
	}
	switch mediaType {
	case "application/merge-patch+json":
		return func(cur []byte) ([]byte, error) { return jsonpatch.MergePatch(cur, patchBody) }, nil
	case "application/strategic-merge-patch+json":
		if res.group != "" {
			return nil, unsupportedPatch(mediaType, res)
		}
		schemaObj := res.registry.Strategy.New()
		return func(cur []byte) ([]byte, error) {
			return strategicpatch.StrategicMergePatch(cur, patchBody, schemaObj)
		}, nil
	case "application/json-patch+json":
		p, err := jsonpatch.DecodePatch(patchBody)
		if err != nil {
			return nil, apierrors.NewBadRequest("invalid JSON patch: " + err.Error())
		}
		return p.Apply, nil
	}
	return nil, unsupportedPatch(mediaType, res)
}

func unsupportedPatch(mediaType string, res *resource) error {
	return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", res.groupResource(), "",
		fmt.Sprintf("the patch type %q is not supported for %s; use application/merge-patch+json, application/json-patch+json or application/strategic-merge-patch+json (core resources)", mediaType, res.name), 0, false)
}
