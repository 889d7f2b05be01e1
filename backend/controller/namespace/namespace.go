// Package namespace finishes the deletion of namespaces. Deleting a
// namespace marks it Terminating, refuses new objects in it, removes its
// objects and memberships and then the namespace itself, all within the
// DELETE request (generic.Registry's Finalizer). When that work fails
// half-way (etcd or PostgreSQL away, the master stopped), the namespace
// stays Terminating; this controller resumes it until it is gone.
//
//	namespace with deletionTimestamp (list, watch)
//	      ──▶ Delete again: finalize (objects, memberships) ──▶ removed
//	      ──▶ failed: retried after the resync period
package namespace

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/controller/cache"
	"github.com/berthpaas/berth/backend/controller/queue"
	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/berthpaas/berth/backend/registry/storage"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Component names the controller in the audit log.
const Component = "namespace-controller"

// DefaultResyncPeriod is the wait before a failed finalization is tried
// again.
const DefaultResyncPeriod = 30 * time.Second

// Namespaces is what the controller needs of the namespaces registry.
type Namespaces interface {
	cache.Source
	Delete(ctx context.Context, ns, name string, opts metav1.DeleteOptions) (runtime.Object, error)
}

// Controller finishes namespace deletions.
type Controller struct {
	namespaces Namespaces
	logger     *slog.Logger
	resync     time.Duration
}

// New returns a controller of namespaces; resync zero takes the default.
func New(namespaces Namespaces, logger *slog.Logger, resync time.Duration) *Controller {
	if resync <= 0 {
		resync = DefaultResyncPeriod
	}
	return &Controller{namespaces: namespaces, logger: logger.With("component", Component), resync: resync}
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	ctx = auth.WithIdentity(ctx, auth.ComponentIdentity(Component))
	q := queue.New()
	defer q.Stop()
	informer := cache.New(c.namespaces, "", generic.ListOptions{}, func(_, cur *v1.Namespace) {
		if cur != nil && cur.DeletionTimestamp != nil {
			q.Add(cur.Name)
		}
	}, c.logger)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { informer.Run(ctx) })
	for {
		name, ok := q.Get(ctx)
		if !ok {
			return
		}
		_, err := c.namespaces.Delete(ctx, "", name, metav1.DeleteOptions{})
		switch {
		case err == nil:
			c.logger.Info("finished deleting namespace", "namespace", name)
		case errors.Is(err, storage.ErrNotFound):
		default:
			c.logger.Warn("finish deleting namespace; retrying", "namespace", name, "error", err, "retry_in", c.resync)
			q.AddAfter(name, c.resync)
		}
		q.Done(name)
	}
}
