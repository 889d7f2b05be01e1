package admission

import (
	"context"
	"maps"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Attribution records whom a pod's usage is attributed to, in
// berthv1.AnnotationCreatedBy: the user who creates a pod or a replication
// controller (whose pod template carries it on to the pods the controller
// makes). The master's components keep what the template said; nobody
// sets or changes it by hand: an update keeps the value the object had.
func Attribution() generic.Admission {
	return generic.AdmissionFunc(func(ctx context.Context, a *generic.Attributes) error {
		if a.Operation == generic.Delete || a.Subresource != "" {
			return nil
		}
		meta, spec, _ := podSpecOf(a.Object)
		if spec == nil {
			return nil
		}
		objMeta := meta
		if rc, ok := a.Object.(*v1.ReplicationController); ok {
			objMeta = &rc.ObjectMeta
		}
		id, _ := auth.IdentityFrom(ctx)
		var creator string
		switch {
		case a.Operation == generic.Update:
			if m, ok := a.Old.(metav1.Object); ok {
				creator = m.GetAnnotations()[berthv1.AnnotationCreatedBy]
			}
		case id.Component != "":
			// A controller's pod: its template said who created the
			// controller.
			creator = objMeta.Annotations[berthv1.AnnotationCreatedBy]
		default:
			creator = id.Name
		}
		setCreator(objMeta, creator)
		if meta != objMeta {
			setCreator(meta, creator)
		}
		return nil
	})
}

func setCreator(meta *metav1.ObjectMeta, creator string) {
	if v, ok := meta.Annotations[berthv1.AnnotationCreatedBy]; ok == (creator != "") && v == creator {
		return
	}
	meta.Annotations = maps.Clone(meta.Annotations)
	if creator == "" {
		delete(meta.Annotations, berthv1.AnnotationCreatedBy)
		return
	}
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	meta.Annotations[berthv1.AnnotationCreatedBy] = creator
}
