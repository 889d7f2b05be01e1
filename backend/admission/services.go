package admission

import (
	"context"
	"fmt"
	"reflect"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Lister lists the objects of a namespace (a pods or replication
// controllers registry).
type Lister interface {
	List(ctx context.Context, ns string, opts generic.ListOptions) (runtime.Object, error)
}

// ServiceTargetPorts refuses a service port whose targetPort names a port
// that no container of the pods the service selects has — those pods
// that exist, and those the project's replication controllers would make.
// Such a service would never have an endpoint for that port. A service
// that selects nothing yet (created before its pods) is not judged.
func ServiceTargetPorts(pods, rcs Lister) generic.Admission {
	return generic.AdmissionFunc(func(ctx context.Context, a *generic.Attributes) error {
		svc, ok := a.Object.(*v1.Service)
		if !ok || a.Operation == generic.Delete || a.Subresource != "" || len(svc.Spec.Selector) == 0 || !namesTargetPort(svc) {
			return nil
		}
		if old, ok := a.Old.(*v1.Service); ok && reflect.DeepEqual(old.Spec.Ports, svc.Spec.Ports) && reflect.DeepEqual(old.Spec.Selector, svc.Spec.Selector) {
			return nil
		}
		specs, err := selectedPodSpecs(ctx, pods, rcs, a.Namespace, labels.SelectorFromSet(svc.Spec.Selector))
		if err != nil || len(specs) == 0 {
			return err
		}
		var errs field.ErrorList
		for i, p := range svc.Spec.Ports {
			if p.TargetPort.Type != intstr.String || anyNamesPort(specs, p.TargetPort.StrVal) {
				continue
			}
			errs = append(errs, field.Invalid(field.NewPath("spec", "ports").Index(i).Child("targetPort"), p.TargetPort.StrVal,
				fmt.Sprintf("no container of the pods the service selects has a port named %q", p.TargetPort.StrVal)))
		}
		return errdefs.Invalid("Service", svc.Name, errs)
	})
}

func namesTargetPort(svc *v1.Service) bool {
	for _, p := range svc.Spec.Ports {
		if p.TargetPort.Type == intstr.String {
			return true
		}
	}
	return false
}

// selectedPodSpecs are the specs of the pods in ns that sel selects and
// of the pod templates of the replication controllers there that it
// selects.
func selectedPodSpecs(ctx context.Context, pods, rcs Lister, ns string, sel labels.Selector) ([]*v1.PodSpec, error) {
	var specs []*v1.PodSpec
	podList, err := pods.List(ctx, ns, generic.ListOptions{Labels: sel})
	if err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(podList)
	if err != nil {
		return nil, err
	}
	for _, o := range items {
		specs = append(specs, &o.(*v1.Pod).Spec)
	}
	rcList, err := rcs.List(ctx, ns, generic.ListOptions{})
	if err != nil {
		return nil, err
	}
	if items, err = meta.ExtractList(rcList); err != nil {
		return nil, err
	}
	for _, o := range items {
		if t := o.(*v1.ReplicationController).Spec.Template; t != nil && sel.Matches(labels.Set(t.Labels)) {
			specs = append(specs, &t.Spec)
		}
	}
	return specs, nil
}

func anyNamesPort(specs []*v1.PodSpec, name string) bool {
	for _, s := range specs {
		for _, c := range s.Containers {
			for _, p := range c.Ports {
				if p.Name == name {
					return true
				}
			}
		}
	}
	return false
}
