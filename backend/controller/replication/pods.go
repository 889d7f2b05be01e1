package replication

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/berthpaas/berth/backend/controller/record"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// kind is the owner kind of the pods this manager controls.
const kind = "ReplicationController"

// maxBurst bounds the pods created or deleted in one sync.
const maxBurst = 500

// controllerRef is the owner reference of the pod's controller, or nil.
func controllerRef(pod *v1.Pod) *metav1.OwnerReference {
	for i := range pod.OwnerReferences {
		if ref := &pod.OwnerReferences[i]; ref.Controller != nil && *ref.Controller {
			return ref
		}
	}
	return nil
}

// ownerRef points a pod at rc as its controller.
func ownerRef(rc *v1.ReplicationController) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{
		APIVersion: "v1", Kind: kind, Name: rc.Name, UID: rc.UID,
		Controller: &yes, BlockOwnerDeletion: &yes,
	}
}

// claim returns the pods rc controls: those it owns that still match its
// selector, plus orphans it adopts. It releases owned pods that no longer
// match and deletes pods owned by an earlier controller of the same name.
func (r *run) claim(ctx context.Context, rc *v1.ReplicationController, all []v1.Pod) ([]*v1.Pod, error) {
	var owned []*v1.Pod
	var errs []error
	for i := range all {
		pod := &all[i]
		ref := controllerRef(pod)
		switch {
		case ref != nil && ref.UID == rc.UID:
			if selects(rc, pod) {
				owned = append(owned, pod)
			} else if live(pod) {
				errs = append(errs, r.setOwner(ctx, pod, nil))
			}
		case ref != nil && ref.Kind == kind && ref.Name == rc.Name:
			if pod.DeletionTimestamp == nil {
				errs = append(errs, r.deletePod(ctx, pod))
			}
		case ref == nil && live(pod) && selects(rc, pod):
			owner := ownerRef(rc)
			if err := r.setOwner(ctx, pod, &owner); err != nil {
				errs = append(errs, err)
				continue
			}
			r.logger.Info("adopted pod", "pod", pod.Namespace+"/"+pod.Name, "replicationcontroller", rc.Namespace+"/"+rc.Name)
			owned = append(owned, pod)
		}
	}
	return owned, errors.Join(errs...)
}

// setOwner makes owner the pod's controller (nil: releases it), as a
// compare-and-swap on the version that was read, so that a pod that
// changed meanwhile is judged again on the next sync.
func (r *run) setOwner(ctx context.Context, pod *v1.Pod, owner *metav1.OwnerReference) error {
	updated, err := r.pods.Update(ctx, pod.Namespace, pod.Name, generic.UpdateSpec, func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*v1.Pod)
		p.ResourceVersion = pod.ResourceVersion
		refs := slices.DeleteFunc(p.OwnerReferences, func(ref metav1.OwnerReference) bool {
			return ref.Controller != nil && *ref.Controller
		})
		if owner != nil {
			refs = append(refs, *owner)
		}
		p.OwnerReferences = refs
		return p, nil
	}, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	*pod = *updated.(*v1.Pod)
	return nil
}

// manage creates or deletes pods so that rc has spec.replicas live ones;
// it returns the pods rc controls afterwards.
func (r *run) manage(ctx context.Context, rc *v1.ReplicationController, pods []*v1.Pod) ([]*v1.Pod, error) {
	var active []*v1.Pod
	for _, p := range pods {
		if live(p) {
			active = append(active, p)
		}
	}
	want := 1
	if rc.Spec.Replicas != nil {
		want = int(*rc.Spec.Replicas)
	}
	switch diff := len(active) - want; {
	case diff < 0 && rc.Spec.Template != nil:
		created, err := r.createPods(ctx, rc, min(-diff, maxBurst))
		return append(pods, created...), err
	case diff > 0:
		victims := slices.Clone(active)
		slices.SortStableFunc(victims, deletionOrder)
		victims = victims[:min(diff, maxBurst)]
		var errs []error
		for _, p := range victims {
			if err := r.deletePod(ctx, p); err != nil {
				errs = append(errs, err)
				continue
			}
			r.recorder.Eventf(ctx, record.Reference(kind, rc), v1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
			p.DeletionTimestamp = &metav1.Time{Time: time.Now()}
		}
		return pods, errors.Join(errs...)
	}
	return pods, nil
}

// createPods creates n pods from rc's template in batches that double
// while they succeed (1, 2, 4, ...), so that a template the API rejects
// fails once, not n times.
func (r *run) createPods(ctx context.Context, rc *v1.ReplicationController, n int) ([]*v1.Pod, error) {
	var created []*v1.Pod
	var mu sync.Mutex
	for batch := 1; n > 0; batch = min(2*batch, n) {
		batch = min(batch, n)
		var wg sync.WaitGroup
		var errs []error
		for range batch {
			wg.Go(func() {
				obj, err := r.pods.Create(ctx, rc.Namespace, newPod(rc), metav1.CreateOptions{})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				pod := obj.(*v1.Pod)
				created = append(created, pod)
				r.recorder.Eventf(ctx, record.Reference(kind, rc), v1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", pod.Name)
			})
		}
		wg.Wait()
		n -= batch
		if err := errors.Join(errs...); err != nil {
			r.recorder.Eventf(ctx, record.Reference(kind, rc), v1.EventTypeWarning, "FailedCreate", "Error creating: %v", errs[0])
			return created, err
		}
	}
	return created, nil
}

// newPod is a pod from rc's template, controlled by rc.
func newPod(rc *v1.ReplicationController) *v1.Pod {
	t := rc.Spec.Template
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    rc.Name + "-",
			Namespace:       rc.Namespace,
			Labels:          maps.Clone(t.Labels),
			Annotations:     maps.Clone(t.Annotations),
			OwnerReferences: []metav1.OwnerReference{ownerRef(rc)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
}

// deletionOrder sorts the pods to delete first to the front: unscheduled
// before scheduled, pending before unknown before running, not ready
// before ready, the most recently created first.
func deletionOrder(a, b *v1.Pod) int {
	if c := cmp.Compare(boolRank(a.Spec.NodeName != ""), boolRank(b.Spec.NodeName != "")); c != 0 {
		return c
	}
	if c := cmp.Compare(phaseRank(a.Status.Phase), phaseRank(b.Status.Phase)); c != 0 {
		return c
	}
	readyA, _ := ready(a)
	readyB, _ := ready(b)
	if c := cmp.Compare(boolRank(readyA), boolRank(readyB)); c != 0 {
		return c
	}
	return b.CreationTimestamp.Compare(a.CreationTimestamp.Time)
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func phaseRank(p v1.PodPhase) int {
	switch p {
	case v1.PodPending:
		return 0
	case v1.PodUnknown:
		return 1
	case v1.PodRunning:
		return 2
	}
	return 3
}

// updateStatus writes what rc's live pods are; it returns when to look
// again for pods about to become available (0: no need).
func (r *run) updateStatus(ctx context.Context, rc *v1.ReplicationController, pods []*v1.Pod) (time.Duration, error) {
	now := time.Now()
	minReady := time.Duration(rc.Spec.MinReadySeconds) * time.Second
	status := v1.ReplicationControllerStatus{ObservedGeneration: rc.Generation, Conditions: rc.Status.Conditions}
	var templateLabels labels.Selector
	if rc.Spec.Template != nil {
		templateLabels = labels.SelectorFromSet(rc.Spec.Template.Labels)
	}
	var requeue time.Duration
	for _, p := range pods {
		if !live(p) {
			continue
		}
		status.Replicas++
		if templateLabels != nil && templateLabels.Matches(labels.Set(p.Labels)) {
			status.FullyLabeledReplicas++
		}
		isReady, since := ready(p)
		if !isReady {
			continue
		}
		status.ReadyReplicas++
		if wait := since.Add(minReady).Sub(now); minReady == 0 || wait <= 0 {
			status.AvailableReplicas++
		} else if requeue == 0 || wait < requeue {
			requeue = wait
		}
	}
	if apiequality.Semantic.DeepEqual(status, rc.Status) {
		return requeue, nil
	}
	_, err := r.rcs.Update(ctx, rc.Namespace, rc.Name, generic.UpdateStatus, func(cur runtime.Object) (runtime.Object, error) {
		c := cur.(*v1.ReplicationController)
		if c.UID != rc.UID {
			return nil, storage.ErrNotFound
		}
		c.Status = status
		return c, nil
	}, metav1.UpdateOptions{})
	if errors.Is(err, storage.ErrNotFound) {
		return 0, nil
	}
	return requeue, err
}
