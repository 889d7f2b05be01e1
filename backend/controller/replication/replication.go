// Package replication is the replication manager: it keeps the number of
// live pods that match each ReplicationController's selector at
// spec.replicas, and reports what it sees in the controller's status.
//
//	RC or pod event, resync ──▶ queue (namespace/name) ──▶ sync:
//	  RC gone            ──▶ delete the pods it owned (garbage collection)
//	  RC being deleted   ──▶ finalizer orphan: release its pods; foregroundDeletion:
//	                         delete them, wait until gone; then drop the finalizer
//	  read pods of ns    ──▶ adopt matching orphans, release non-matching
//	  too few live pods  ──▶ create from spec.template (generateName <rc>-)
//	  too many           ──▶ delete unscheduled, then not ready, then newest
//	  write status       ──▶ replicas, ready, available, observedGeneration
//
// Pods being deleted (deletionTimestamp set) or finished count as gone.
// Each sync reads the pods from storage, not from the watch cache, so that
// pods it created a moment ago are never missed and never doubled.
package replication

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berthpaas/berth/backend/controller/cache"
	"github.com/berthpaas/berth/backend/controller/queue"
	"github.com/berthpaas/berth/backend/controller/record"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Component names the manager in events.
const Component = "replication-controller"

// DefaultResyncPeriod is how often every controller is synced even
// without a change.
const DefaultResyncPeriod = 30 * time.Second

// DefaultWorkers is how many controllers are synced at once.
const DefaultWorkers = 2

// errorRetryDelay is the pause before syncing again after a failure.
const errorRetryDelay = time.Second

// Options tune the manager; zero fields take the defaults.
type Options struct {
	ResyncPeriod time.Duration
	Workers      int
}

// Manager runs the replication controllers.
type Manager struct {
	rcs      Controllers
	pods     Pods
	recorder *record.Recorder
	logger   *slog.Logger
	opts     Options
}

// Controllers is what the manager needs of the replication controllers'
// registry.
type Controllers interface {
	cache.Source
	Get(ctx context.Context, ns, name string) (runtime.Object, error)
	Update(ctx context.Context, ns, name string, kind generic.UpdateKind, newObject generic.ObjectFunc, opts metav1.UpdateOptions) (runtime.Object, error)
}

// Pods is what the manager needs of the pods registry.
type Pods interface {
	cache.Source
	Create(ctx context.Context, ns string, obj runtime.Object, opts metav1.CreateOptions) (runtime.Object, error)
	Update(ctx context.Context, ns, name string, kind generic.UpdateKind, newObject generic.ObjectFunc, opts metav1.UpdateOptions) (runtime.Object, error)
	Delete(ctx context.Context, ns, name string, opts metav1.DeleteOptions) (runtime.Object, error)
}

// New returns a manager of the controllers in rcs, whose pods are in pods;
// it records events through events.
func New(rcs Controllers, pods Pods, events record.Events, logger *slog.Logger, opts Options) *Manager {
	if opts.ResyncPeriod <= 0 {
		opts.ResyncPeriod = DefaultResyncPeriod
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	logger = logger.With("component", Component)
	return &Manager{
		rcs:      rcs,
		pods:     pods,
		recorder: record.New(events, Component, logger),
		logger:   logger,
		opts:     opts,
	}
}

// run is the state of one Run.
type run struct {
	*Manager
	rcInformer  *cache.Informer[*v1.ReplicationController]
	podInformer *cache.Informer[*v1.Pod]
	queue       *queue.Queue
}

// Run syncs replication controllers until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	// The manager writes as itself: admission and audit see who.
	ctx = auth.WithIdentity(ctx, auth.ComponentIdentity(Component))
	r := &run{Manager: m, queue: queue.New()}
	defer r.queue.Stop()
	r.rcInformer = cache.New(m.rcs, "", generic.ListOptions{}, r.onRC, m.logger)
	r.podInformer = cache.New(m.pods, "", generic.ListOptions{}, r.onPod, m.logger)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { r.rcInformer.Run(ctx) })
	wg.Go(func() { r.podInformer.Run(ctx) })
	if !r.rcInformer.WaitForSync(ctx) || !r.podInformer.WaitForSync(ctx) {
		return
	}
	for range m.opts.Workers {
		wg.Go(func() { r.work(ctx) })
	}
	ticker := time.NewTicker(m.opts.ResyncPeriod)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			for _, rc := range r.rcInformer.List() {
				r.queue.Add(cache.Key(rc))
			}
		}
	}
}

func (r *run) work(ctx context.Context) {
	for {
		key, ok := r.queue.Get(ctx)
		if !ok {
			return
		}
		if err := r.sync(ctx, key); err != nil && ctx.Err() == nil {
			r.logger.Warn("sync", "replicationcontroller", key, "error", err)
			r.queue.AddAfter(key, errorRetryDelay)
		}
		r.queue.Done(key)
	}
}

func (r *run) onRC(old, cur *v1.ReplicationController) {
	if cur != nil {
		r.queue.Add(cache.Key(cur))
	} else {
		r.queue.Add(cache.Key(old))
	}
}

// onPod queues the controller that owns the pod, or, for an orphan, the
// controllers that could adopt it.
func (r *run) onPod(old, cur *v1.Pod) {
	for _, pod := range []*v1.Pod{old, cur} {
		if pod == nil {
			continue
		}
		if ref := controllerRef(pod); ref != nil {
			if ref.Kind == kind && ref.APIVersion == "v1" {
				r.queue.Add(pod.Namespace + "/" + ref.Name)
			}
			continue
		}
		for _, rc := range r.rcInformer.List() {
			if rc.Namespace == pod.Namespace && selects(rc, pod) {
				r.queue.Add(cache.Key(rc))
			}
		}
	}
}

// sync brings one controller's pods to its replica count.
func (r *run) sync(ctx context.Context, key string) error {
	ns, name, _ := strings.Cut(key, "/")
	obj, err := r.rcs.Get(ctx, ns, name)
	if errors.Is(err, storage.ErrNotFound) {
		return r.collectGarbage(ctx, ns, name, "")
	}
	if err != nil {
		return err
	}
	rc := obj.(*v1.ReplicationController)
	podList, err := r.pods.List(ctx, ns, generic.ListOptions{})
	if err != nil {
		return err
	}
	if rc.DeletionTimestamp != nil {
		return r.finishDeletion(ctx, rc, podList.(*v1.PodList).Items)
	}
	pods, err := r.claim(ctx, rc, podList.(*v1.PodList).Items)
	if err != nil {
		return err
	}
	pods, manageErr := r.manage(ctx, rc, pods)
	requeue, err := r.updateStatus(ctx, rc, pods)
	if requeue > 0 {
		r.queue.AddAfter(key, requeue)
	}
	return errors.Join(manageErr, err)
}

// finishDeletion honours the finalizers of a controller being deleted,
// as Kubernetes' garbage collector does: orphan releases its pods (they
// lose their owner and keep running), foregroundDeletion deletes them and
// waits until they are gone. Then it removes the finalizer, and the
// registry deletes the controller.
func (r *run) finishDeletion(ctx context.Context, rc *v1.ReplicationController, all []v1.Pod) error {
	var owned []*v1.Pod
	for i := range all {
		if ref := controllerRef(&all[i]); ref != nil && ref.UID == rc.UID {
			owned = append(owned, &all[i])
		}
	}
	var errs []error
	switch {
	case slices.Contains(rc.Finalizers, metav1.FinalizerOrphanDependents):
		for _, pod := range owned {
			errs = append(errs, r.setOwner(ctx, pod, nil))
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		r.logger.Info("orphaned the pods of a deleted controller", "replicationcontroller", cache.Key(rc), "pods", len(owned))
		return r.removeFinalizer(ctx, rc, metav1.FinalizerOrphanDependents)
	case slices.Contains(rc.Finalizers, metav1.FinalizerDeleteDependents):
		for _, pod := range owned {
			if pod.DeletionTimestamp == nil {
				errs = append(errs, r.deletePod(ctx, pod))
			}
		}
		if err := errors.Join(errs...); err != nil || len(owned) > 0 {
			// The pods' deletion events bring the controller back here.
			return err
		}
		return r.removeFinalizer(ctx, rc, metav1.FinalizerDeleteDependents)
	}
	return nil
}

func (r *run) removeFinalizer(ctx context.Context, rc *v1.ReplicationController, fin string) error {
	_, err := r.rcs.Update(ctx, rc.Namespace, rc.Name, generic.UpdateSpec, func(cur runtime.Object) (runtime.Object, error) {
		c := cur.(*v1.ReplicationController)
		c.Finalizers = slices.DeleteFunc(c.Finalizers, func(f string) bool { return f == fin })
		return c, nil
	}, metav1.UpdateOptions{})
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return err
}

// collectGarbage deletes the pods whose controller was the replication
// controller ns/name with a uid other than keep (any uid when keep is
// empty): their owner is gone.
func (r *run) collectGarbage(ctx context.Context, ns, name, keep string) error {
	list, err := r.pods.List(ctx, ns, generic.ListOptions{})
	if err != nil {
		return err
	}
	var errs []error
	for i := range list.(*v1.PodList).Items {
		pod := &list.(*v1.PodList).Items[i]
		ref := controllerRef(pod)
		if ref == nil || ref.Kind != kind || ref.Name != name || (keep != "" && string(ref.UID) == keep) || pod.DeletionTimestamp != nil {
			continue
		}
		r.logger.Info("deleting pod of a deleted controller", "pod", cache.Key(pod), "replicationcontroller", ns+"/"+name)
		errs = append(errs, r.deletePod(ctx, pod))
	}
	return errors.Join(errs...)
}

// deletePod deletes a pod as an API client would: one that a node runs
// gracefully (the node stops its containers and then removes the object),
// by the pods' own rules.
func (r *run) deletePod(ctx context.Context, pod *v1.Pod) error {
	_, err := r.pods.Delete(ctx, pod.Namespace, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, errdefs.ErrConflict) {
		return nil
	}
	return err
}

// ready reports whether the pod's Ready condition is True, and since when.
func ready(pod *v1.Pod) (bool, time.Time) {
	for _, c := range pod.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue, c.LastTransitionTime.Time
		}
	}
	return false, time.Time{}
}

// live reports whether a pod counts toward the replicas.
func live(pod *v1.Pod) bool {
	return pod.DeletionTimestamp == nil && pod.Status.Phase != v1.PodSucceeded && pod.Status.Phase != v1.PodFailed
}

func selects(rc *v1.ReplicationController, pod *v1.Pod) bool {
	return len(rc.Spec.Selector) > 0 && labels.SelectorFromSet(rc.Spec.Selector).Matches(labels.Set(pod.Labels))
}
