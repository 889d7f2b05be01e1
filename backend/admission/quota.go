package admission

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/berthpaas/berth/backend/auth"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/quota"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Quotas is what the ResourceQuota charger needs of the quotas registry.
type Quotas interface {
	List(ctx context.Context, ns string, opts generic.ListOptions) (runtime.Object, error)
	Update(ctx context.Context, ns, name string, kind generic.UpdateKind, newObject generic.ObjectFunc, opts metav1.UpdateOptions) (runtime.Object, error)
}

// ResourceQuota charges a new object's cost (quota.Usage) to every quota
// of its namespace that limits some of it, each as a compare-and-swap of
// the quota's status.used: two creates racing for the last unit cannot
// both have it. The object that would exceed a quota is refused with
// Kubernetes' message; a pod that leaves a limited compute resource unset
// is refused too ("must specify").
func ResourceQuota(quotas Quotas) generic.Charger { return &resourceQuota{quotas: quotas} }

// ResourceQuotaComponent names the charger in the audit log.
const ResourceQuotaComponent = "resourcequota-admission"

type resourceQuota struct{ quotas Quotas }

func (rq *resourceQuota) Charge(ctx context.Context, a *generic.Attributes) (func(context.Context), error) {
	noop := func(context.Context) {}
	// The quota is the master's to write, whoever creates the object.
	ctx = auth.WithIdentity(ctx, auth.ComponentIdentity(ResourceQuotaComponent))
	if a.Operation != generic.Create || a.Namespace == "" || a.Resource == "events" {
		return noop, nil
	}
	list, err := rq.quotas.List(ctx, a.Namespace, generic.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("read the quotas of %q: %w", a.Namespace, err)
	}
	items := list.(*v1.ResourceQuotaList).Items
	if len(items) == 0 {
		return noop, nil
	}
	usage := quota.Usage(a.Resource, a.Object)
	var charged []string
	undo := func(ctx context.Context) {
		ctx = auth.WithIdentity(ctx, auth.ComponentIdentity(ResourceQuotaComponent))
		for _, name := range charged {
			_, _ = rq.quotas.Update(ctx, a.Namespace, name, generic.UpdateStatus, func(cur runtime.Object) (runtime.Object, error) {
				q := cur.(*v1.ResourceQuota).DeepCopy()
				q.Status.Used = quota.Subtract(q.Status.Used, quota.Limited(usage, q.Spec.Hard))
				return q, nil
			}, metav1.UpdateOptions{})
		}
	}
	for i := range items {
		q := &items[i]
		if pod, ok := a.Object.(*v1.Pod); ok && !quota.Terminal(pod) {
			if missing := quota.Missing(pod, q.Spec.Hard); len(missing) > 0 {
				undo(ctx)
				return nil, errdefs.Forbidden("failed quota: %s: must specify %s", q.Name, strings.Join(missing, ","))
			}
		}
		requested := quota.Limited(usage, q.Spec.Hard)
		if len(requested) == 0 {
			continue
		}
		if a.DryRun {
			if err := quota.Exceeded(q.Name, requested, q.Status.Used, q.Spec.Hard); err != nil {
				return nil, errdefs.Forbidden("%v", err)
			}
			continue
		}
		_, err := rq.quotas.Update(ctx, a.Namespace, q.Name, generic.UpdateStatus, func(cur runtime.Object) (runtime.Object, error) {
			q := cur.(*v1.ResourceQuota).DeepCopy()
			if err := quota.Exceeded(q.Name, requested, q.Status.Used, q.Spec.Hard); err != nil {
				return nil, errdefs.Forbidden("%v", err)
			}
			q.Status.Hard = q.Spec.Hard
			q.Status.Used = quota.Add(q.Status.Used, requested)
			return q, nil
		}, metav1.UpdateOptions{})
		switch {
		case errors.Is(err, storage.ErrNotFound):
			continue // deleted meanwhile: it limits nothing any more
		case err != nil:
			undo(ctx)
			return nil, err
		}
		charged = append(charged, q.Name)
	}
	return undo, nil
}

// LimitRanges is what LimitRanger needs of the limit ranges registry.
type LimitRanges interface {
	List(ctx context.Context, ns string, opts generic.ListOptions) (runtime.Object, error)
}

// LimitRanger gives a new pod's containers their project's defaults and
// refuses those out of its bounds, as Kubernetes' LimitRanger does.
func LimitRanger(ranges LimitRanges) generic.Admission {
	return generic.AdmissionFunc(func(ctx context.Context, a *generic.Attributes) error {
		pod, ok := a.Object.(*v1.Pod)
		if !ok || a.Operation != generic.Create {
			return nil
		}
		list, err := ranges.List(ctx, a.Namespace, generic.ListOptions{})
		if err != nil {
			return fmt.Errorf("read the limit ranges of %q: %w", a.Namespace, err)
		}
		if problems := quota.ApplyLimitRanges(pod, list.(*v1.LimitRangeList).Items); len(problems) > 0 {
			return errdefs.Forbidden("%s", strings.Join(problems, ", "))
		}
		return nil
	})
}
