// Package nodelifecycle watches the heartbeats of nodes and moves the pods
// of nodes that are gone elsewhere.
//
//	Ready ──no heartbeat (lease renewal or Ready condition) for GracePeriod
//	      ──▶ Unknown (NodeStatusUnknown)
//	NotReady/Unknown for EvictionTimeout ──▶ delete its pods; their
//	                                         controllers replace them
//	node object deleted                 ──▶ delete its pods for good
//	pod being deleted on a node that cannot finish it (gone, or not ready
//	for GracePeriod)                    ──▶ delete it for good
package nodelifecycle

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/berthpaas/berth/backend/auth"

	"github.com/berthpaas/berth/backend/controller/cache"
	"github.com/berthpaas/berth/backend/controller/record"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
)

// Component names the controller in events.
const Component = "node-controller"

// Defaults of Options.
const (
	DefaultGracePeriod     = 40 * time.Second
	DefaultEvictionTimeout = 5 * time.Minute
	DefaultMonitorPeriod   = 5 * time.Second
)

// Options tune the controller; zero fields take the defaults.
type Options struct {
	// GracePeriod is how long a node may go without a heartbeat before
	// its Ready condition becomes Unknown.
	GracePeriod time.Duration
	// EvictionTimeout is how long a node may stay NotReady or Unknown
	// before its pods are deleted.
	EvictionTimeout time.Duration
	// MonitorPeriod is how often the nodes are checked.
	MonitorPeriod time.Duration
}

// Controller runs the node lifecycle.
type Controller struct {
	nodes    Nodes
	pods     Pods
	leases   cache.Source
	recorder *record.Recorder
	logger   *slog.Logger
	opts     Options
	now      func() time.Time
}

// Nodes is what the controller needs of the nodes registry.
type Nodes interface {
	cache.Source
	Get(ctx context.Context, ns, name string) (runtime.Object, error)
	Update(ctx context.Context, ns, name string, kind generic.UpdateKind, newObject generic.ObjectFunc, opts metav1.UpdateOptions) (runtime.Object, error)
}

// Pods is what the controller needs of the pods registry.
type Pods interface {
	cache.Source
	Delete(ctx context.Context, ns, name string, opts metav1.DeleteOptions) (runtime.Object, error)
}

// New returns a controller of nodes, which evicts their pods from pods and
// records events through events.
func New(nodes Nodes, pods Pods, leases cache.Source, events record.Events, logger *slog.Logger, opts Options) *Controller {
	if opts.GracePeriod <= 0 {
		opts.GracePeriod = DefaultGracePeriod
	}
	if opts.EvictionTimeout <= 0 {
		opts.EvictionTimeout = DefaultEvictionTimeout
	}
	if opts.MonitorPeriod <= 0 {
		opts.MonitorPeriod = DefaultMonitorPeriod
	}
	logger = logger.With("component", Component)
	return &Controller{
		nodes:    nodes,
		pods:     pods,
		leases:   leases,
		recorder: record.New(events, Component, logger),
		logger:   logger,
		opts:     opts,
		now:      time.Now,
	}
}

// Run checks the nodes every MonitorPeriod until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	ctx = auth.WithIdentity(ctx, auth.ComponentIdentity(Component))
	nodes := cache.New[*v1.Node](c.nodes, "", generic.ListOptions{}, nil, c.logger)
	pods := cache.New[*v1.Pod](c.pods, "", generic.ListOptions{Fields: fields.OneTermNotEqualSelector("spec.nodeName", "")}, nil, c.logger)
	leases := cache.New[*coordinationv1.Lease](c.leases, NodeLeaseNamespace, generic.ListOptions{}, nil, c.logger)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { nodes.Run(ctx) })
	wg.Go(func() { pods.Run(ctx) })
	wg.Go(func() { leases.Run(ctx) })
	if !nodes.WaitForSync(ctx) || !pods.WaitForSync(ctx) || !leases.WaitForSync(ctx) {
		return
	}
	ticker := time.NewTicker(c.opts.MonitorPeriod)
	defer ticker.Stop()
	for {
		if err := c.monitor(ctx, withLeases(nodes.List(), leases), pods.List()); err != nil && ctx.Err() == nil {
			c.logger.Warn("monitor nodes", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// monitor runs one pass over the nodes and the pods bound to them.
func (c *Controller) monitor(ctx context.Context, nodes []*v1.Node, pods []*v1.Pod) error {
	now := c.now()
	byName := make(map[string]*v1.Node, len(nodes))
	var errs []error
	for _, node := range nodes {
		byName[node.Name] = node
		if stale(node, now, c.opts.GracePeriod) {
			updated, err := c.markUnknown(ctx, node, now)
			if err != nil {
				errs = append(errs, err)
			} else if updated != nil {
				byName[node.Name] = updated
			}
		}
	}
	for _, pod := range pods {
		node, ok := byName[pod.Spec.NodeName]
		if !ok {
			gone, err := c.nodeGone(ctx, pod.Spec.NodeName)
			if err != nil {
				errs = append(errs, err)
			}
			if gone {
				errs = append(errs, c.deletePod(ctx, pod, "node "+pod.Spec.NodeName+" no longer exists"))
			}
			continue
		}
		since, down := notReadySince(node)
		switch {
		case !down:
		case pod.DeletionTimestamp != nil && now.Sub(since) >= c.opts.GracePeriod:
			errs = append(errs, c.deletePod(ctx, pod, "node "+node.Name+" cannot finish deleting it"))
		case pod.DeletionTimestamp == nil && now.Sub(since) >= c.opts.EvictionTimeout:
			errs = append(errs, c.deletePod(ctx, pod, "node "+node.Name+" not ready for "+now.Sub(since).Round(time.Second).String()))
		}
	}
	return errors.Join(errs...)
}

// stale reports whether a node's heartbeat is older than grace while its
// Ready condition does not already say Unknown.
func stale(node *v1.Node, now time.Time, grace time.Duration) bool {
	cond := readyCondition(node)
	if cond == nil {
		return now.Sub(node.CreationTimestamp.Time) > grace
	}
	if cond.Status == v1.ConditionUnknown {
		return false
	}
	heartbeat := cond.LastHeartbeatTime.Time
	if heartbeat.IsZero() {
		heartbeat = node.CreationTimestamp.Time
	}
	return now.Sub(heartbeat) > grace
}

// NodeLeaseNamespace holds the nodes' heartbeat leases.
const NodeLeaseNamespace = "kube-node-lease"

// withLeases folds each node's lease into the node seen by monitor: a
// lease renewed after the Ready condition's last heartbeat is the newer
// heartbeat (agents renew the lease, and write the Node only on change).
func withLeases(nodes []*v1.Node, leases *cache.Informer[*coordinationv1.Lease]) []*v1.Node {
	out := make([]*v1.Node, len(nodes))
	for i, node := range nodes {
		out[i] = node
		lease, ok := leases.Get(NodeLeaseNamespace + "/" + node.Name)
		if !ok || lease.Spec.RenewTime == nil {
			continue
		}
		cond := readyCondition(node)
		if cond == nil || cond.Status == v1.ConditionUnknown || !lease.Spec.RenewTime.After(cond.LastHeartbeatTime.Time) {
			continue
		}
		node = node.DeepCopy()
		readyCondition(node).LastHeartbeatTime = metav1.NewTime(lease.Spec.RenewTime.Time)
		out[i] = node
	}
	return out
}

// notReadySince reports whether a node is NotReady or Unknown, and since
// when.
func notReadySince(node *v1.Node) (time.Time, bool) {
	cond := readyCondition(node)
	if cond == nil {
		return node.CreationTimestamp.Time, true
	}
	if cond.Status == v1.ConditionTrue {
		return time.Time{}, false
	}
	return cond.LastTransitionTime.Time, true
}

func readyCondition(node *v1.Node) *v1.NodeCondition {
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == v1.NodeReady {
			return &node.Status.Conditions[i]
		}
	}
	return nil
}

// markUnknown sets the node's Ready condition to Unknown through the
// status subresource, as a compare-and-swap: a heartbeat that lands
// first wins. It returns the updated node, or nil if it lost that race.
func (c *Controller) markUnknown(ctx context.Context, node *v1.Node, now time.Time) (*v1.Node, error) {
	obj, err := c.nodes.Update(ctx, "", node.Name, generic.UpdateStatus, func(cur runtime.Object) (runtime.Object, error) {
		n := cur.(*v1.Node)
		n.ResourceVersion = node.ResourceVersion
		cond := readyCondition(n)
		if cond == nil {
			n.Status.Conditions = append(n.Status.Conditions, v1.NodeCondition{
				Type: v1.NodeReady, Status: v1.ConditionUnknown,
				Reason: "NodeStatusNeverUpdated", Message: "Kubelet never posted node status.",
				LastHeartbeatTime: n.CreationTimestamp, LastTransitionTime: metav1.NewTime(now),
			})
			return n, nil
		}
		cond.Status = v1.ConditionUnknown
		cond.Reason = "NodeStatusUnknown"
		cond.Message = "Kubelet stopped posting node status."
		cond.LastTransitionTime = metav1.NewTime(now)
		return n, nil
	}, metav1.UpdateOptions{})
	switch {
	case errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	updated := obj.(*v1.Node)
	c.logger.Warn("node stopped posting status", "node", node.Name)
	c.recorder.Eventf(ctx, record.Reference("Node", updated), v1.EventTypeNormal, "NodeNotReady", "Node %s status is now: NodeNotReady", node.Name)
	return updated, nil
}

// nodeGone confirms in storage that a node the cache lacks is deleted,
// not merely newer than the cache.
func (c *Controller) nodeGone(ctx context.Context, name string) (bool, error) {
	_, err := c.nodes.Get(ctx, "", name)
	if errors.Is(err, storage.ErrNotFound) {
		return true, nil
	}
	return false, err
}

func (c *Controller) deletePod(ctx context.Context, pod *v1.Pod, why string) error {
	// The version read is the precondition: a pod that changed (or was
	// replaced under the same name) is judged again on the next pass.
	// Its node is gone: nothing would finish a graceful deletion.
	zero := int64(0)
	_, err := c.pods.Delete(ctx, pod.Namespace, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{ResourceVersion: &pod.ResourceVersion},
	})
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict) {
		return nil
	}
	if err != nil {
		return err
	}
	c.logger.Info("deleted pod", "pod", cache.Key(pod), "node", pod.Spec.NodeName, "reason", why)
	c.recorder.Eventf(ctx, record.Reference("Pod", pod), v1.EventTypeNormal, "Evicted", "Deleting pod: %s", why)
	return nil
}
