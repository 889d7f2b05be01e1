package node

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/berthpaas/berth/client"
	v1 "k8s.io/api/core/v1"
)

// watchPods keeps the agent's set of pod workers equal to the pods bound
// to the node: list, then watch from the list's resourceVersion; list
// again when the watch ends (410 Gone, the stream closed or broke), backing
// off while the master does not answer. The containers keep running
// meanwhile.
func (a *Agent) watchPods(ctx context.Context) {
	log := a.log.With("runner", "pod-watch")
	bo := newBackOff(500*time.Millisecond, 30*time.Second)
	failing := false
	listed := func() {
		bo.Reset()
		if failing {
			log.Info("listing the node's pods again")
			failing = false
		}
	}
	for ctx.Err() == nil {
		err := a.listAndWatch(ctx, listed)
		if ctx.Err() != nil {
			return
		}
		if err == nil || (apierrors.IsGone(err) || apierrors.IsResourceExpired(err)) {
			log.Debug("pod watch ended; listing again", "error", err)
			continue
		}
		if !failing {
			log.Warn("cannot watch the node's pods; retrying with back-off, containers keep running", "error", err)
			failing = true
		}
		if !bo.Wait(ctx) {
			return
		}
	}
}

func (a *Agent) podOptions() client.ListOptions {
	return client.ListOptions{FieldSelector: "spec.nodeName=" + a.cfg.Name}
}

// listAndWatch lists the node's pods, reconciles the workers with them and
// follows the changes until the watch ends. listed is called after a
// successful list.
func (a *Agent) listAndWatch(ctx context.Context, listed func()) error {
	var list v1.PodList
	if err := a.call(ctx, func(api *client.Client) error {
		return api.List(ctx, client.Pods, "", a.podOptions(), &list)
	}); err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	a.replacePods(ctx, list.Items)
	listed()

	opts := a.podOptions()
	opts.ResourceVersion = list.ResourceVersion
	var events <-chan client.Event
	if err := a.call(ctx, func(api *client.Client) error {
		var err error
		events, err = api.Watch(ctx, client.Pods, "", opts)
		return err
	}); err != nil {
		return fmt.Errorf("watch pods: %w", err)
	}
	for ev := range events {
		switch ev.Type {
		case client.Added, client.Modified:
			var pod v1.Pod
			if err := ev.Decode(&pod); err != nil {
				return fmt.Errorf("decode pod event: %w", err)
			}
			if pod.Spec.NodeName == a.cfg.Name {
				a.upsertPod(ctx, &pod)
			}
		case client.Deleted:
			var pod v1.Pod
			if err := ev.Decode(&pod); err != nil {
				return fmt.Errorf("decode pod event: %w", err)
			}
			a.removePod(string(pod.UID))
		case client.Error:
			return ev.Err
		}
	}
	return nil
}

// replacePods makes the workers match a full list of the node's pods.
func (a *Agent) replacePods(ctx context.Context, pods []v1.Pod) {
	// In the order of their creation, as the kubelet admits them.
	slices.SortStableFunc(pods, func(a, b v1.Pod) int {
		return a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time)
	})
	seen := make(map[string]bool, len(pods))
	for i := range pods {
		seen[string(pods[i].UID)] = true
		a.upsertPod(ctx, &pods[i])
	}
	a.mu.Lock()
	a.synced = true
	var gone []*podWorker
	for uid, w := range a.workers {
		if !seen[uid] {
			gone = append(gone, w)
		}
	}
	a.mu.Unlock()
	for _, w := range gone {
		w.remove()
	}
}

// upsertPod hands the latest object of a pod to its worker, starting one
// for a pod the agent did not know.
func (a *Agent) upsertPod(ctx context.Context, pod *v1.Pod) {
	uid := string(pod.UID)
	a.mu.Lock()
	if _, gone := a.gone[uid]; gone {
		a.mu.Unlock()
		return
	}
	w, ok := a.workers[uid]
	if !ok {
		w = a.newPodWorker(pod)
		a.admitLocked(w, pod)
		a.workers[uid] = w
	}
	a.mu.Unlock()
	if ok {
		w.update(pod)
		return
	}
	go w.run(ctx)
}

// admitLocked decides whether a new worker's pod may run (see
// admission.go); the caller holds a.mu, so that admissions are serial.
func (a *Agent) admitLocked(w *podWorker, pod *v1.Pod) {
	switch {
	case failedByNode(pod):
		w.failure = &pod.Status
		return
	case terminal(pod) || pod.DeletionTimestamp != nil:
		return
	}
	var admitted []*v1.Pod
	for _, other := range a.workers {
		if p, _ := other.state(); other.admitted && other.failed() == nil && !terminal(p) {
			admitted = append(admitted, p)
		}
	}
	rej := admit(pod, admitted, a.allocatable)
	if rej == nil {
		w.admitted = true
		return
	}
	w.log.Warn("pod rejected", "reason", rej.reason, "message", rej.message)
	w.failure = &v1.PodStatus{
		Phase:   v1.PodFailed,
		Reason:  rej.reason,
		Message: rej.message,
		HostIP:  a.hostIP,
		HostIPs: []v1.HostIP{{IP: a.hostIP}},
	}
}

// removePod tells the worker of a pod that left the API to stop its
// containers.
func (a *Agent) removePod(uid string) {
	a.mu.Lock()
	w := a.workers[uid]
	a.mu.Unlock()
	if w != nil {
		w.remove()
	}
}

// goneRetention is how long the agent remembers a terminated pod.
const goneRetention = 10 * time.Minute

// forget drops a worker that terminated its pod, and remembers the pod as
// gone.
func (a *Agent) forget(w *podWorker) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.workers[w.uid] == w {
		delete(a.workers, w.uid)
	}
	now := time.Now()
	a.gone[w.uid] = now
	for uid, at := range a.gone {
		if now.Sub(at) > goneRetention {
			delete(a.gone, uid)
		}
	}
}

// worker returns the worker of a pod, nil when there is none.
func (a *Agent) worker(uid string) *podWorker {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.workers[uid]
}

// pokeAll asks every worker to sync and reports the pod UIDs that have
// one, and whether the agent has listed its pods yet.
func (a *Agent) pokeAll() (known map[string]bool, synced bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	known = make(map[string]bool, len(a.workers))
	for uid, w := range a.workers {
		known[uid] = true
		w.poke()
	}
	return known, a.synced
}

// waitWorkers waits for the workers to return after the agent's context
// ended.
func (a *Agent) waitWorkers() {
	a.mu.Lock()
	workers := make([]*podWorker, 0, len(a.workers))
	for _, w := range a.workers {
		workers = append(workers, w)
	}
	a.mu.Unlock()
	for _, w := range workers {
		<-w.done
	}
}
