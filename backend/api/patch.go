package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"

	"github.com/berthpaas/berth/backend/registry/generic"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/manifest"
	"github.com/labstack/echo/v4"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// Bounds on what a patch may cost the master, as kube-apiserver sets
// them: a 2 KB JSON patch of self-copies doubles the document with each
// operation and would exhaust the master's memory in about 24.
const (
	// maxJSONPatchOperations is kube-apiserver's limit.
	maxJSONPatchOperations = 10000
	// maxCopySize bounds the bytes a JSON patch's copy operations add, in
	// total (kube-apiserver's 10 MB).
	maxCopySize = 10 << 20
	// maxPatchedSize bounds the patched object: no larger than a body may
	// be, which is what a PUT could store.
	maxPatchedSize = MaxBodyBytes
)

func init() {
	// The library keeps this limit in a package variable, read by every
	// Apply; Berth applies JSON patches only here.
	jsonpatch.AccumulatedCopySizeLimit = maxCopySize
}

// patch applies a JSON merge patch, a strategic merge patch (core types)
// or a JSON patch to the stored object, retrying on concurrent writes; a
// resourceVersion in the patch makes it a compare-and-swap.
func (a *API) patch(c echo.Context, ri auth.RequestInfo, res *resource, ns string) (runtime.Object, error) {
	req := c.Request()
	patchBody, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt == applyPatchType {
		return a.apply(c, ri, res, ns, patchBody)
	}
	if res.group != "" && isStrategic(req.Header.Get("Content-Type")) {
		return nil, errdefs.Newf(errdefs.ErrUnsupportedMediaType, "strategic merge patches are for core resources; use application/merge-patch+json or application/json-patch+json for %s", res.name)
	}
	apply, err := patcher(req.Header.Get("Content-Type"), patchBody, res.registry.Strategy.New())
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
			return nil, err
		}
		obj := res.registry.Strategy.New()
		problems, err := manifest.Decode(patched, "application/json", obj)
		if err != nil {
			return nil, err
		}
		if err := a.fieldValidation(c, problems); err != nil {
			return nil, err
		}
		return obj, checkKind(obj, res)
	}, metav1.UpdateOptions{DryRun: dryRun(c), FieldManager: fieldManager(c)})
}

// applyCreatedKey marks a request whose apply created the object: it is
// answered 201, as a create.
const applyCreatedKey = "applyCreated"

// applyPatchType is server-side apply's patch type (JSON or YAML).
const applyPatchType = "application/apply-patch+yaml"

// apply serves a server-side apply: the body is the configuration the
// manager (the fieldManager parameter, required) wants, merged into the
// stored object, which is created when missing.
func (a *API) apply(c echo.Context, ri auth.RequestInfo, res *resource, ns string, body []byte) (runtime.Object, error) {
	if len(body) > maxPatchedSize {
		return nil, errdefs.Newf(errdefs.ErrTooLarge, "the apply configuration is %d bytes, more than the %d allowed", len(body), maxPatchedSize)
	}
	data, _, err := manifest.ToJSON(body, "application/yaml")
	if err != nil {
		return nil, err
	}
	applied := &unstructured.Unstructured{}
	if err := applied.UnmarshalJSON(data); err != nil {
		return nil, errdefs.BadRequest("the apply configuration is not an object: %v", err)
	}
	want := schema.GroupVersionKind{Group: res.group, Version: "v1", Kind: res.kind}
	if applied.GroupVersionKind() != want {
		return nil, errdefs.BadRequest("the apply configuration is a %s, but this endpoint serves %s", applied.GroupVersionKind(), want)
	}
	if applied.GetNamespace() != "" && applied.GetNamespace() != ns && res.namespaced {
		return nil, errdefs.BadRequest("the namespace of the object (%s) does not match the namespace on the URL (%s)", applied.GetNamespace(), ns)
	}
	force, err := boolParam(c, "force")
	if err != nil {
		return nil, err
	}
	obj, created, err := res.registry.Apply(c.Request().Context(), ns, ri.Name, updateKind(ri), applied, generic.ApplyOptions{
		Manager: c.QueryParam("fieldManager"), Force: force != nil && *force, DryRun: dryRun(c),
	})
	if err != nil {
		return nil, err
	}
	if created {
		c.Set(applyCreatedKey, true)
	}
	return obj, nil
}

func isStrategic(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/strategic-merge-patch+json"
}

// patcher returns what applies patchBody, of the given content type, to
// a JSON document, within the bounds above. schema is an object of the
// patched type, for strategic merge patches.
func patcher(contentType string, patchBody []byte, schema runtime.Object) (func([]byte) ([]byte, error), error) {
	if len(patchBody) > 0 && patchBody[0] != '{' && patchBody[0] != '[' {
		converted, _, err := manifest.ToJSON(patchBody, "application/yaml")
		if err != nil {
			return nil, err
		}
		patchBody = converted
	}
	var apply func([]byte) ([]byte, error)
	switch mt, _, _ := mime.ParseMediaType(contentType); mt {
	case "application/merge-patch+json":
		apply = func(cur []byte) ([]byte, error) { return jsonpatch.MergePatch(cur, patchBody) }
	case "application/strategic-merge-patch+json":
		apply = func(cur []byte) ([]byte, error) {
			return strategicpatch.StrategicMergePatch(cur, patchBody, schema)
		}
	case "application/json-patch+json":
		p, err := jsonpatch.DecodePatch(patchBody)
		if err != nil {
			return nil, errdefs.BadRequest("invalid JSON patch: %v", err)
		}
		if len(p) > maxJSONPatchOperations {
			return nil, errdefs.Newf(errdefs.ErrTooLarge, "the JSON patch has %d operations, more than the %d allowed", len(p), maxJSONPatchOperations)
		}
		apply = p.Apply
	default:
		return nil, errdefs.Newf(errdefs.ErrUnsupportedMediaType, "the patch type %q is not supported; use application/merge-patch+json, application/json-patch+json or application/strategic-merge-patch+json", mt)
	}
	return func(cur []byte) ([]byte, error) {
		patched, err := apply(cur)
		var copyErr *jsonpatch.AccumulatedCopySizeError
		switch {
		case errors.As(err, &copyErr):
			return nil, errdefs.Newf(errdefs.ErrTooLarge, "the JSON patch copies more than %d bytes", maxCopySize)
		case err != nil:
			return nil, errdefs.BadRequest("the patch could not be applied: %v", err)
		case len(patched) > maxPatchedSize:
			return nil, errdefs.Newf(errdefs.ErrTooLarge, "the patched object would be %d bytes, more than the %d allowed", len(patched), maxPatchedSize)
		}
		return patched, nil
	}, nil
}
