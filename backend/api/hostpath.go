package api

import (
	"fmt"

	"github.com/berthpaas/berth/backend/errdefs"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/labstack/echo/v4"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// admitHostPath lets only cluster admins put hostPath volumes in pods (and
// in the pod templates of replication controllers, whose pods the
// controller creates). It marks what an admin wrote with the annotation
// the node agents check, and strips that annotation from everyone else's.
func admitHostPath(c echo.Context, obj k8sruntime.Object) error {
	id := identity(c)
	admin := id.ClusterAdmin && id.TokenKind != auth.TokenKindNode
	var meta *metav1.ObjectMeta
	var spec *v1.PodSpec
	path := field.NewPath("spec")
	switch o := obj.(type) {
	case *v1.Pod:
		meta, spec = &o.ObjectMeta, &o.Spec
	case *v1.ReplicationController:
		if o.Spec.Template == nil {
			return nil
		}
		meta, spec = &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
		path = path.Child("template", "spec")
	default:
		return nil
	}
	delete(meta.Annotations, runtime.AnnotationHostPathAllowed)
	for i, vol := range spec.Volumes {
		if vol.HostPath == nil {
			continue
		}
		if !admin {
			return &errdefs.InvalidError{Kind: kindOf(obj), Name: objectName(obj), Errs: field.ErrorList{
				field.Forbidden(path.Child("volumes").Index(i).Child("hostPath"),
					fmt.Sprintf("only cluster admins may mount host paths (user %q is not one)", id.Name)),
			}}
		}
		if meta.Annotations == nil {
			meta.Annotations = map[string]string{}
		}
		meta.Annotations[runtime.AnnotationHostPathAllowed] = "true"
	}
	return nil
}

func kindOf(obj k8sruntime.Object) string {
	if _, ok := obj.(*v1.Pod); ok {
		return "Pod"
	}
	return "ReplicationController"
}
