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

	// admitted: the pod passed admission and counts against the node's
	// resources. Set before run starts.
	admitted bool
	// killed: the containers of a failed pod are gone. Only run uses it.
	killed bool

	mu      sync.Mutex
	pod     *v1.Pod // guarded by mu; the latest object seen
	removed bool    // guarded by mu; the pod left the API
	// failure, once set, is the status the agent decided for the pod
	// (rejected at admission, evicted): the worker kills the containers,
	// writes it, and never runs the pod again. Guarded by mu.
	failure *v1.PodStatus
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

// fail makes the worker kill the pod's containers and write status, for
// good.
func (w *podWorker) fail(status *v1.PodStatus) {
	w.mu.Lock()
	if w.failure == nil {
		w.failure = status
	}
	w.mu.Unlock()
	w.poke()
}

// failed returns the status the agent decided for the pod, nil while it
// runs.
func (w *podWorker) failed() *v1.PodStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failure
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
		switch failure := w.failed(); {
		case removed || pod.DeletionTimestamp != nil:
			finished, err = w.terminate(ctx, pod, removed)
		case failure != nil:
			err = w.settle(ctx, pod, failure)
		default:
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
	resolved, err := a.resolvePod(pod)
	if err != nil {
		return err
	}
	data, err := a.podData(ctx, resolved)
	if err != nil {
		return err
	}
	// A container may have exited on its own: its last window is recorded
	// once the status is written, which should not wait for it.
	defer a.usage.recordFinished(ctx, w.uid)
	observed, err := a.rt.SyncPod(ctx, resolved, data)
	if err != nil {
		return err
	}
	if observed.IP != pod.Status.PodIP {
		a.pokeNetwork() // the other nodes must hear of the address
	}
	return w.writeStatus(ctx, pod, podStatus(pod, observed, a.hostIP, a.scheme, time.Now()))
}

// settle kills the containers of a pod the agent failed, at once, and
// writes the status it decided.
func (w *podWorker) settle(ctx context.Context, pod *v1.Pod, status *v1.PodStatus) error {
	if !w.killed {
		if err := w.agent.killPod(ctx, w.uid, 0); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return err
		}
		w.killed = true
	}
	if pod.Status.Phase == status.Phase && pod.Status.Reason == status.Reason {
		return nil
	}
	return w.writeStatus(ctx, pod, *status)
}

// writeStatus patches the pod's status to status when it changed.
func (w *podWorker) writeStatus(ctx context.Context, pod *v1.Pod, status v1.PodStatus) error {
	a := w.agent
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
		w.log.Info("pod phase", "phase", status.Phase, "pod_ip", status.PodIP, "reason", status.Reason)
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
	if err := a.killPod(ctx, w.uid, grace); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return false, err
	}
	a.pokeNetwork() // its address is free: no one may reach it as its project's
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
