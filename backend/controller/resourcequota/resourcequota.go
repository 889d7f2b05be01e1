// Package resourcequota is the resource quota controller: it keeps each
// quota's status.used equal to what the objects of its project cost, as
// Kubernetes' resource quota controller does. The ResourceQuota charger
// (backend/admission) adds a new object's cost as it is created; this
// controller gives back what deleted or finished objects held, and counts
// a new quota's use:
//
//	quota created or changed, pod deleted or finished, every resync ──▶
//	queue (namespace/quota) ──▶ sync:
//	  read the quota (its resourceVersion) ──▶ list the objects its hard
//	  limits name ──▶ used = Σ quota.Usage ──▶ differs? write status, only
//	  if the quota is still at that resourceVersion (a charge in between
//	  makes the count stale: count again)
package resourcequota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/controller/cache"
	"github.com/berthpaas/berth/backend/controller/queue"
	"github.com/berthpaas/berth/backend/quota"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
)

// Component names the controller in audit entries.
const Component = "resourcequota-controller"

// Defaults of Options.
const (
	DefaultWorkers      = 2
	DefaultResyncPeriod = 30 * time.Second
)

const errorRetryDelay = time.Second

// Options tune the controller; zero fields take the defaults.
type Options struct {
	Workers int
	// ResyncPeriod is how often every quota is counted again: objects
	// other than pods give their use back at the latest then.
	ResyncPeriod time.Duration
}

// Quotas is what the controller needs of the quotas registry.
type Quotas interface {
	cache.Source
	Get(ctx context.Context, ns, name string) (runtime.Object, error)
	Update(ctx context.Context, ns, name string, kind generic.UpdateKind, newObject generic.ObjectFunc, opts metav1.UpdateOptions) (runtime.Object, error)
}

// Lister lists the objects of one resource.
type Lister interface {
	List(ctx context.Context, ns string, opts generic.ListOptions) (runtime.Object, error)
}

// Controller keeps quotas' use.
type Controller struct {
	quotas Quotas
	pods   cache.Source
	// resources are the registries whose objects quotas count, by
	// resource ("pods", "services" ...).
	resources map[string]Lister
	logger    *slog.Logger
	opts      Options
}

// New returns a resource quota controller over the registries of the
// resources quotas count.
func New(quotas Quotas, pods cache.Source, resources map[string]Lister, logger *slog.Logger, opts Options) *Controller {
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.ResyncPeriod <= 0 {
		opts.ResyncPeriod = DefaultResyncPeriod
	}
	return &Controller{quotas: quotas, pods: pods, resources: resources, logger: logger.With("component", Component), opts: opts}
}

type run struct {
	*Controller
	quotaInformer *cache.Informer[*v1.ResourceQuota]
	podInformer   *cache.Informer[*v1.Pod]
	queue         *queue.Queue
}

// Run keeps quotas until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	ctx = auth.WithIdentity(ctx, auth.ComponentIdentity(Component))
	r := &run{Controller: c, queue: queue.New()}
	defer r.queue.Stop()
	r.quotaInformer = cache.New(c.quotas, "", generic.ListOptions{}, r.onQuota, c.logger)
	r.podInformer = cache.New(c.pods, "", generic.ListOptions{}, r.onPod, c.logger)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { r.quotaInformer.Run(ctx) })
	wg.Go(func() { r.podInformer.Run(ctx) })
	if !r.quotaInformer.WaitForSync(ctx) || !r.podInformer.WaitForSync(ctx) {
		return
	}
	r.queueAll()
	for range c.opts.Workers {
		wg.Go(func() { r.work(ctx) })
	}
	ticker := time.NewTicker(c.opts.ResyncPeriod)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			r.queueAll()
		}
	}
}

func (r *run) queueAll() {
	for _, q := range r.quotaInformer.List() {
		r.queue.Add(cache.Key(q))
	}
}

func (r *run) onQuota(old, cur *v1.ResourceQuota) {
	if cur != nil && (old == nil || !apiequality.Semantic.DeepEqual(old.Spec, cur.Spec)) {
		r.queue.Add(cache.Key(cur))
	}
}

// onPod counts again the quotas of a project whose pod went or finished.
func (r *run) onPod(old, cur *v1.Pod) {
	switch {
	case cur == nil && old != nil:
	case old != nil && cur != nil && !quota.Terminal(old) && quota.Terminal(cur):
	default:
		return
	}
	for _, q := range r.quotaInformer.List() {
		if q.Namespace == old.Namespace {
			r.queue.Add(cache.Key(q))
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
			r.logger.Warn("sync", "quota", key, "error", err)
			r.queue.AddAfter(key, errorRetryDelay)
		}
		r.queue.Done(key)
	}
}

// errStale: the quota was charged while its objects were counted.
var errStale = errors.New("the quota changed while its use was counted")

// sync counts one quota's use.
func (r *run) sync(ctx context.Context, key string) error {
	ns, name, _ := strings.Cut(key, "/")
	obj, err := r.quotas.Get(ctx, ns, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	q := obj.(*v1.ResourceQuota)
	used, err := r.count(ctx, ns, q.Spec.Hard)
	if err != nil {
		return err
	}
	if apiequality.Semantic.DeepEqual(used, q.Status.Used) && apiequality.Semantic.DeepEqual(q.Spec.Hard, q.Status.Hard) {
		return nil
	}
	_, err = r.quotas.Update(ctx, ns, name, generic.UpdateStatus, func(cur runtime.Object) (runtime.Object, error) {
		c := cur.(*v1.ResourceQuota).DeepCopy()
		if c.ResourceVersion != q.ResourceVersion {
			return nil, errStale
		}
		c.Status.Hard, c.Status.Used = c.Spec.Hard, used
		return c, nil
	}, metav1.UpdateOptions{})
	if errors.Is(err, errStale) {
		r.queue.Add(key)
		return nil
	}
	return err
}

// count sums the use of every object of ns of the resources hard names.
func (r *run) count(ctx context.Context, ns string, hard v1.ResourceList) (v1.ResourceList, error) {
	used := v1.ResourceList{}
	for name := range hard {
		used[name] = *resource.NewQuantity(0, resource.DecimalSI)
	}
	for res := range quota.ResourcesOf(hard) {
		lister, ok := r.resources[res]
		if !ok {
			continue // a resource this server does not serve: none
		}
		list, err := lister.List(ctx, ns, generic.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", res, err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return nil, err
		}
		for _, item := range items {
			used = quota.Add(used, quota.Limited(quota.Usage(res, item), hard))
		}
	}
	return quota.Limited(used, hard), nil
}
