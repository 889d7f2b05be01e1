package admission

import (
	"context"
	"maps"
	"reflect"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// HostPath lets only cluster admins (and the master's own components,
// which copy what was admitted) put hostPath volumes in pods and in the
// pod templates of replication controllers. It marks what they wrote with
// berthv1.AnnotationHostPathAllowed, the mark node agents honour, and
// removes the mark from everyone else's objects. An update that keeps an
// admin's host paths as they were keeps the mark, so that a project
// member may still relabel such a pod.
func HostPath() generic.Admission {
	return generic.AdmissionFunc(func(ctx context.Context, a *generic.Attributes) error {
		if a.Operation == generic.Delete || a.Subresource != "" {
			return nil
		}
		meta, spec, path := podSpecOf(a.Object)
		if spec == nil {
			return nil
		}
		id, _ := auth.IdentityFrom(ctx)
		wasMarked, oldVolumes := false, []v1.Volume(nil)
		if oldMeta, oldSpec, _ := podSpecOf(a.Old); oldSpec != nil {
			wasMarked = oldMeta.Annotations[berthv1.AnnotationHostPathAllowed] == "true"
			oldVolumes = hostPathVolumes(oldSpec.Volumes)
		}
		delete(meta.Annotations, berthv1.AnnotationHostPathAllowed)
		volumes := hostPathVolumes(spec.Volumes)
		if len(volumes) == 0 {
			return nil
		}
		keptFromAdmin := wasMarked && reflect.DeepEqual(volumes, oldVolumes)
		if !id.IsClusterAdmin() && !keptFromAdmin {
			for i, vol := range spec.Volumes {
				if vol.HostPath != nil {
					return errdefs.Invalid(kindOf(a.Object), meta.Name, field.ErrorList{
						field.Forbidden(path.Child("volumes").Index(i).Child("hostPath"),
							"only cluster admins may mount host paths (user \""+id.Name+"\" is not one)"),
					})
				}
			}
		}
		meta.Annotations = maps.Clone(meta.Annotations)
		if meta.Annotations == nil {
			meta.Annotations = map[string]string{}
		}
		meta.Annotations[berthv1.AnnotationHostPathAllowed] = "true"
		return nil
	})
}

func hostPathVolumes(vols []v1.Volume) []v1.Volume {
	var out []v1.Volume
	for _, v := range vols {
		if v.HostPath != nil {
			out = append(out, v)
		}
	}
	return out
}

// podSpecOf finds the pod metadata and spec in a pod or in a replication
// controller's template, with the path of the spec for messages.
func podSpecOf(obj runtime.Object) (*metav1.ObjectMeta, *v1.PodSpec, *field.Path) {
	switch o := obj.(type) {
	case *v1.Pod:
		return &o.ObjectMeta, &o.Spec, field.NewPath("spec")
	case *v1.ReplicationController:
		if o.Spec.Template == nil {
			return nil, nil, nil
		}
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, field.NewPath("spec", "template", "spec")
	}
	return nil, nil, nil
}

func kindOf(obj runtime.Object) string {
	switch obj.(type) {
	case *v1.Pod:
		return "Pod"
	case *v1.ReplicationController:
		return "ReplicationController"
	case *v1.Node:
		return "Node"
	case *v1.Event:
		return "Event"
	}
	return ""
}
