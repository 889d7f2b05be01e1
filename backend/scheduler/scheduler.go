// Package scheduler places pods on nodes. It watches the pods that no node
// runs yet (spec.nodeName empty), keeps every node that passes Filter,
// picks the one with the best Score, and binds the pod there with a
// compare-and-swap on spec.nodeName, so that no pod is ever bound twice,
// even by two schedulers. Each decision is recorded as an event on the pod.
//
//	unbound pod ──▶ queue ──▶ filter nodes ──none fit──▶ FailedScheduling,
//	                 ▲             │                     retry when nodes
//	                 │             ▼                     change or later ─┐
//	                 │       score, bind (CAS) ──▶ Scheduled              │
//	                 └────────────────────────────────────────────────────┘
package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/backend/auth"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/controller/cache"
	"github.com/berthpaas/berth/backend/controller/queue"
	"github.com/berthpaas/berth/backend/controller/record"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
)

// Name is the scheduler's name: the component of its events, and the
// spec.schedulerName of the pods it places ("" means it too).
const Name = "default-scheduler"

// DefaultRetryInterval is how often a pod that fits nowhere is tried
// again, besides whenever a node or a bound pod changes.
const DefaultRetryInterval = 5 * time.Second

// errorRetryDelay is the pause before trying again after a storage error.
const errorRetryDelay = time.Second

// maxBindAttempts bounds the compare-and-swap retries of one binding.
const maxBindAttempts = 5

var (
	errAlreadyBound = errors.New("pod already bound")
	errPodGone      = errors.New("pod deleted or being deleted")
)

// Scheduler binds pods to nodes. Set its exported fields before Run.
type Scheduler struct {
	// RetryInterval: see DefaultRetryInterval.
	RetryInterval time.Duration

	pods         Pods
	nodeRegistry cache.Source
	recorder     *record.Recorder
	logger       *slog.Logger
}

// Pods is what the scheduler needs of the pods registry.
type Pods interface {
	cache.Source
	Get(ctx context.Context, ns, name string) (runtime.Object, error)
	Update(ctx context.Context, ns, name string, kind generic.UpdateKind, newObject generic.ObjectFunc, opts metav1.UpdateOptions) (runtime.Object, error)
}

// New returns a scheduler that binds pods to nodes and records events
// through events.
func New(pods Pods, nodes cache.Source, events record.Events, logger *slog.Logger) *Scheduler {
	logger = logger.With("component", Name)
	return &Scheduler{
		RetryInterval: DefaultRetryInterval,
		pods:          pods,
		nodeRegistry:  nodes,
		recorder:      record.New(events, Name, logger),
		logger:        logger,
	}
}

// run is the state of one Run.
type run struct {
	*Scheduler
	unbound *cache.Informer[*v1.Pod]
	bound   *cache.Informer[*v1.Pod]
	nodes   *cache.Informer[*v1.Node]
	queue   *queue.Queue

	mu sync.Mutex
	// unschedulable holds the keys of the pods that fit nowhere at their
	// last try; guarded by mu.
	unschedulable map[string]bool
}

// Run schedules pods until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	ctx = auth.WithIdentity(ctx, auth.ComponentIdentity(Name))
	r := &run{Scheduler: s, queue: queue.New(), unschedulable: map[string]bool{}}
	defer r.queue.Stop()
	r.unbound = cache.New(s.pods, "", generic.ListOptions{Fields: fields.OneTermEqualSelector("spec.nodeName", "")}, r.onUnbound, s.logger)
	r.bound = cache.New(s.pods, "", generic.ListOptions{Fields: fields.OneTermNotEqualSelector("spec.nodeName", "")}, r.onBound, s.logger)
	r.nodes = cache.New(s.nodeRegistry, "", generic.ListOptions{}, r.onNode, s.logger)
	var wg sync.WaitGroup
	for _, informer := range []func(context.Context){r.unbound.Run, r.bound.Run, r.nodes.Run} {
		wg.Go(func() { informer(ctx) })
	}
	defer wg.Wait()
	if !r.bound.WaitForSync(ctx) || !r.nodes.WaitForSync(ctx) || !r.unbound.WaitForSync(ctx) {
		return
	}
	s.logger.Info("scheduler started")
	for {
		key, ok := r.queue.Get(ctx)
		if !ok {
			return
		}
		r.scheduleOne(ctx, key)
		r.queue.Done(key)
	}
}

func (r *run) onUnbound(_, pod *v1.Pod) {
	if pod != nil && wantsScheduling(pod) {
		r.queue.Add(cache.Key(pod))
	}
}

// onBound retries the waiting pods when a bound pod frees what it held.
func (r *run) onBound(old, pod *v1.Pod) {
	if pod == nil || (old != nil && !finished(old) && finished(pod)) {
		r.retryUnschedulable()
	}
}

// onNode retries the waiting pods when a node changes in a way that can
// change where they fit (not on mere heartbeats).
func (r *run) onNode(old, node *v1.Node) {
	if old == nil || node == nil || nodeReady(old) != nodeReady(node) || networkUnavailable(old) != networkUnavailable(node) ||
		old.Spec.Unschedulable != node.Spec.Unschedulable ||
		!apiequality.Semantic.DeepEqual(old.Labels, node.Labels) ||
		!apiequality.Semantic.DeepEqual(old.Spec.Taints, node.Spec.Taints) ||
		!apiequality.Semantic.DeepEqual(allocatableOf(old), allocatableOf(node)) {
		r.retryUnschedulable()
	}
}

func (r *run) retryUnschedulable() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key := range r.unschedulable {
		r.queue.Add(key)
		delete(r.unschedulable, key)
	}
}

// wantsScheduling reports whether this scheduler should place pod.
func wantsScheduling(pod *v1.Pod) bool {
	return pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil && !finished(pod) &&
		(pod.Spec.SchedulerName == "" || pod.Spec.SchedulerName == Name)
}

func finished(pod *v1.Pod) bool {
	return pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed
}

func (r *run) scheduleOne(ctx context.Context, key string) {
	pod, ok := r.unbound.Get(key)
	if !ok || !wantsScheduling(pod) {
		return
	}
	if b, ok := r.bound.Get(key); ok && b.UID == pod.UID {
		return
	}
	logger := r.logger.With("pod", key)
	node, reasons := r.pickNode(pod)
	if node == "" {
		msg := FailureMessage(len(r.nodes.List()), reasons)
		logger.Debug("no node fits", "reason", msg)
		r.recorder.Eventf(ctx, record.Reference("Pod", pod), v1.EventTypeWarning, "FailedScheduling", "%s", msg)
		r.mu.Lock()
		r.unschedulable[key] = true
		r.mu.Unlock()
		r.queue.AddAfter(key, r.RetryInterval)
		return
	}
	boundPod, err := r.bind(ctx, pod, node)
	switch {
	case errors.Is(err, errAlreadyBound), errors.Is(err, errPodGone):
		logger.Debug("not bound", "reason", err)
		return
	case err != nil:
		if ctx.Err() == nil {
			logger.Warn("bind", "node", node, "error", err)
			r.queue.AddAfter(key, errorRetryDelay)
		}
		return
	}
	r.bound.Assume(boundPod)
	r.unbound.Assume(boundPod)
	logger.Info("bound", "node", node)
	r.recorder.Eventf(ctx, record.Reference("Pod", boundPod), v1.EventTypeNormal, "Scheduled",
		"Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
}

// pickNode returns the best node for pod, or "" and the number of nodes
// that failed for each reason.
func (r *run) pickNode(pod *v1.Pod) (string, map[string]int) {
	podsByNode := map[string][]*v1.Pod{}
	for _, p := range r.bound.List() {
		podsByNode[p.Spec.NodeName] = append(podsByNode[p.Spec.NodeName], p)
	}
	reasons := map[string]int{}
	var best []string
	bestScore := int64(-1)
	for _, node := range r.nodes.List() {
		onNode := podsByNode[node.Name]
		if ok, reason := Filter(pod, node, onNode); !ok {
			reasons[reason]++
			continue
		}
		switch score := Score(pod, node, onNode); {
		case score > bestScore:
			best, bestScore = []string{node.Name}, score
		case score == bestScore:
			best = append(best, node.Name)
		}
	}
	if len(best) == 0 {
		return "", reasons
	}
	// Ties go to a random node, so equal nodes share the load.
	return best[rand.IntN(len(best))], reasons
}

// FailureMessage is the message of a FailedScheduling event: how many of
// the total nodes failed for each reason, the most common first, as in
// "0/3 nodes are available: 2 insufficient memory, 1 not ready."
func FailureMessage(total int, reasons map[string]int) string {
	type count struct {
		reason string
		n      int
	}
	counts := make([]count, 0, len(reasons))
	for reason, n := range reasons {
		counts = append(counts, count{reason, n})
	}
	slices.SortFunc(counts, func(a, b count) int {
		return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.reason, b.reason))
	})
	parts := make([]string, len(counts))
	for i, c := range counts {
		parts[i] = fmt.Sprintf("%d %s", c.n, c.reason)
	}
	if len(parts) == 0 {
		return fmt.Sprintf("0/%d nodes are available.", total)
	}
	return fmt.Sprintf("0/%d nodes are available: %s.", total, strings.Join(parts, ", "))
}

// bind sets spec.nodeName of pod, as a compare-and-swap on the version
// the decision was made on. When the pod changed meanwhile it reads it
// again and, if it is still unbound, binds that version. It returns
// errAlreadyBound or errPodGone when there is nothing to bind any more.
func (s *Scheduler) bind(ctx context.Context, pod *v1.Pod, node string) (*v1.Pod, error) {
	for range maxBindAttempts {
		obj, err := s.pods.Update(ctx, pod.Namespace, pod.Name, generic.UpdateSpec, func(cur runtime.Object) (runtime.Object, error) {
			current := cur.(*v1.Pod)
			if current.UID != pod.UID || current.DeletionTimestamp != nil {
				return nil, errPodGone
			}
			if current.Spec.NodeName != "" {
				return nil, errAlreadyBound
			}
			current.ResourceVersion = pod.ResourceVersion
			current.Spec.NodeName = node
			return current, nil
		}, metav1.UpdateOptions{})
		switch {
		case err == nil:
			return obj.(*v1.Pod), nil
		case errors.Is(err, storage.ErrNotFound):
			return nil, errPodGone
		case !errors.Is(err, storage.ErrConflict):
			return nil, err
		}
		fresh, err := s.pods.Get(ctx, pod.Namespace, pod.Name)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, errPodGone
		}
		if err != nil {
			return nil, err
		}
		pod = fresh.(*v1.Pod)
	}
	return nil, fmt.Errorf("bind %s/%s: %w", pod.Namespace, pod.Name, storage.ErrConflict)
}
