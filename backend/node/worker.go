package node

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/client"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// defaultGrace is the termination grace of a pod that does not say.
const defaultGrace = 30 * time.Second

// podWorker owns one pod on this node: it alone calls the runtime's
// SyncPod and KillPod for the pod, so the calls for one pod are serial.
// See doc.go for its lifecycle.
type podWorker struct {
	agent *Agent
	uid   string
	log   *slog.Logger
	wake  chan struct{} // capacity 1: a pending request to sync
	done  chan struct{} // closed when run returns

	mu      sync.Mutex
	pod     *v1.Pod // guarded by mu; the latest object seen
	removed bool    // guarded by mu; the pod left the API
}

func (a *Agent) newPodWorker(pod *v1.Pod) *podWorker {
	w := &podWorker{
		agent: a,
		uid:   string(pod.UID),
		log:   a.log.With("pod", pod.Namespace+"/"+pod.Name, "pod_uid", string(pod.UID)),
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		pod:   pod,
	}
	w.poke()
	return w
}

// poke asks the worker to sync soon; pokes coalesce.
func (w *podWorker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// update hands the worker a newer object of its pod.
func (w *podWorker) update(pod *v1.Pod) {
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	w.poke()
}

// remove tells the worker the pod left the API: it stops the containers
// and ends.
func (w *podWorker) remove() {
	w.mu.Lock()
	w.removed = true
	w.mu.Unlock()
	w.poke()
}

func (w *podWorker) state() (*v1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.removed
}

// grace is the pod's termination grace period.
func (w *podWorker) grace() time.Duration {
	pod, _ := w.state()
	return podGrace(pod)
}

func podGrace(pod *v1.Pod) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return defaultGrace
}

func (w *podWorker) run(ctx context.Context) {
	defer close(w.done)
	bo := newBackOff(time.Second, 30*time.Second)
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		pod, removed := w.state()
		var err error
		finished := false
		if removed || pod.DeletionTimestamp != nil {
			finished, err = w.terminate(ctx, pod, removed)
		} else {
			err = w.sync(ctx, pod)
		}
		if finished {
			w.agent.forget(w)
			return
		}
		if err == nil {
			if failing {
				w.log.Info("pod in sync again")
			}
			failing = false
			bo.Reset()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if !failing {
			w.log.Warn("pod sync failed; retrying with back-off", "error", err)
		} else {
			w.log.Debug("pod sync failed again", "error", err)
		}
		failing = true
		if !bo.Wait(ctx) {
			return
		}
		w.poke()
	}
}

// sync makes the runtime match the pod and writes the status when it
// changed.
func (w *podWorker) sync(ctx context.Context, pod *v1.Pod) error {
	a := w.agent
	observed, err := a.rt.SyncPod(ctx, pod)
	if err != nil {
		return err
	}
	status := podStatus(pod, observed, a.hostIP, a.scheme, time.Now())
	if equality.Semantic.DeepEqual(status, pod.Status) {
		return nil
	}
	patch, err := mergePatch(map[string]any{"status": pod.Status}, map[string]any{"status": status})
	if err != nil {
		return err
	}
	var updated v1.Pod
	err = a.call(ctx, func(api *client.Client) error {
		return api.Patch(ctx, client.Pods, pod.Namespace, pod.Name+"/status", client.MergePatch, patch, &updated)
	})
	switch {
	case apierrors.IsNotFound(err):
		return nil // the watch brings the deletion
	case err != nil:
		return err
	}
	if updated.UID == pod.UID {
		w.mu.Lock()
		if w.pod.ResourceVersion == pod.ResourceVersion {
			w.pod = &updated
		}
		w.mu.Unlock()
	}
	if pod.Status.Phase != status.Phase {
		w.log.Info("pod phase", "phase", status.Phase, "pod_ip", status.PodIP)
	}
	return nil
}

// terminate stops the pod's containers within its grace period and, for a
// pod being deleted, removes the object: the node confirms the containers
// are gone. It reports whether the worker is done.
func (w *podWorker) terminate(ctx context.Context, pod *v1.Pod, removed bool) (bool, error) {
	a := w.agent
	grace := podGrace(pod)
	w.log.Info("stopping pod", "grace", grace, "reason", map[bool]string{true: "removed", false: "deleted"}[removed])
	if err := a.rt.KillPod(ctx, w.uid, grace); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return false, err
	}
	if !removed {
		if err := a.deletePod(ctx, pod); err != nil {
			return false, err
		}
	}
	w.log.Info("pod gone from the node")
	return true, nil
}

// deletePod removes the object of a pod whose containers are gone, with a
// zero grace period. The resourceVersion precondition keeps it from
// removing a new pod of the same name; on a conflict it reads the pod
// again and retries while it is still the same one.
func (a *Agent) deletePod(ctx context.Context, pod *v1.Pod) error {
	zero := int64(0)
	rv := pod.ResourceVersion
	for attempt := 0; ; attempt++ {
		opts := metav1.DeleteOptions{
			TypeMeta:           metav1.TypeMeta{Kind: "DeleteOptions", APIVersion: "v1"},
			GracePeriodSeconds: &zero,
			Preconditions:      &metav1.Preconditions{ResourceVersion: &rv},
		}
		err := a.call(ctx, func(api *client.Client) error {
			return api.Do(ctx, http.MethodDelete, client.Pods.Path(pod.Namespace, pod.Name), url.Values{"gracePeriodSeconds": {"0"}}, opts, nil)
		})
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case !apierrors.IsConflict(err) || attempt >= 5:
			return err
		}
		var current v1.Pod
		if err := a.call(ctx, func(api *client.Client) error {
			return api.Get(ctx, client.Pods, pod.Namespace, pod.Name, &current)
		}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
		if current.UID != pod.UID {
			return nil
		}
		rv = current.ResourceVersion
	}
}
