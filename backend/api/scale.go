package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/manifest"
	"github.com/berthpaas/berth/backend/registry/core"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/labstack/echo/v4"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// serveScale serves a replication controller's scale subresource (an
// autoscaling/v1 Scale), which `kubectl scale` reads and writes.
func (a *API) serveScale(c echo.Context, ri auth.RequestInfo, res *resource) error {
	ctx := c.Request().Context()
	reg := res.registry
	switch ri.Verb {
	case "get":
		obj, err := reg.Get(ctx, ri.Namespace, ri.Name)
		if err != nil {
			return statusError(err, res.groupResource(), ri.Name)
		}
		return writeJSON(c, http.StatusOK, scaleOf(obj.(*v1.ReplicationController)))
	case "update", "patch":
	default:
		return echo.NewHTTPError(http.StatusMethodNotAllowed)
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return statusError(err, res.groupResource(), ri.Name)
	}
	contentType := c.Request().Header.Get("Content-Type")
	updated, err := reg.Update(ctx, ri.Namespace, ri.Name, generic.UpdateSpec, func(current runtime.Object) (runtime.Object, error) {
		rc := current.(*v1.ReplicationController)
		want, err := desiredScale(ri.Verb, body, contentType, scaleOf(rc))
		if err != nil {
			return nil, err
		}
		if want.ResourceVersion != "" && want.ResourceVersion != rc.ResourceVersion {
			return nil, apierrors.NewConflict(res.groupResource(), ri.Name, fmt.Errorf("the scale is stale"))
		}
		replicas := want.Spec.Replicas
		rc.Spec.Replicas = &replicas
		return rc, nil
	}, metav1.UpdateOptions{DryRun: dryRun(c)})
	if err != nil {
		return statusError(err, res.groupResource(), ri.Name)
	}
	return writeJSON(c, http.StatusOK, scaleOf(updated.(*v1.ReplicationController)))
}

// desiredScale decodes a PUT body, or applies a PATCH to the current
// scale within the bounds every patch has.
func desiredScale(verb string, body []byte, contentType string, current *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
	var want autoscalingv1.Scale
	if verb == "update" {
		if _, err := manifest.Decode(body, contentType, &want); err != nil {
			return nil, err
		}
		return &want, nil
	}
	apply, err := patcher(contentType, body, &autoscalingv1.Scale{})
	if err != nil {
		return nil, err
	}
	cur, err := json.Marshal(current)
	if err != nil {
		return nil, err
	}
	patched, err := apply(cur)
	if err != nil {
		return nil, err
	}
	if _, err := manifest.Decode(patched, "application/json", &want); err != nil {
		return nil, err
	}
	return &want, nil
}

func scaleOf(rc *v1.ReplicationController) *autoscalingv1.Scale {
	replicas := int32(1)
	if rc.Spec.Replicas != nil {
		replicas = *rc.Spec.Replicas
	}
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name: rc.Name, Namespace: rc.Namespace, UID: rc.UID,
			ResourceVersion: rc.ResourceVersion, CreationTimestamp: rc.CreationTimestamp,
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: replicas},
		Status: autoscalingv1.ScaleStatus{Replicas: rc.Status.Replicas, Selector: core.SelectorString(rc.Spec.Selector)},
	}
}
