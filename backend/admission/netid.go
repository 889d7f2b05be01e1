package admission

import (
	"context"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NetID lets only cluster admins (and the master's components) set or
// change a namespace's berthv1.AnnotationNetID, which decides whose pods
// its pods reach: a project admin who could write it would join another
// tenant's network, or make their own global. Others' writes that leave it
// as it was pass.
func NetID() generic.Admission {
	return generic.AdmissionFunc(func(ctx context.Context, a *generic.Attributes) error {
		ns, ok := a.Object.(*v1.Namespace)
		if !ok || a.Operation == generic.Delete {
			return nil
		}
		old := ""
		if o, ok := a.Old.(*v1.Namespace); ok {
			old = o.Annotations[berthv1.AnnotationNetID]
		}
		if ns.Annotations[berthv1.AnnotationNetID] == old {
			return nil
		}
		if id, _ := auth.IdentityFrom(ctx); id.IsClusterAdmin() {
			return nil
		}
		return errdefs.Invalid("Namespace", ns.Name, field.ErrorList{
			field.Forbidden(field.NewPath("metadata", "annotations").Key(berthv1.AnnotationNetID),
				"only cluster admins join projects' networks (berth project network)"),
		})
	})
}
