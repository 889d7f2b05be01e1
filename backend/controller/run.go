package controller

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/berthpaas/berth/backend/controller/nodelifecycle"
	"github.com/berthpaas/berth/backend/controller/replication"
	"github.com/berthpaas/berth/backend/registry/storage"
	"github.com/berthpaas/berth/backend/scheduler"
)

// ElectionName is the leader election the master's controllers run under
// (leader.Run's name).
const ElectionName = "controllers"

// Options tune the scheduler and the controllers; the zero value takes
// every default.
type Options struct {
	Replication   replication.Options
	NodeLifecycle nodelifecycle.Options
	// SchedulerRetryInterval: see scheduler.DefaultRetryInterval.
	SchedulerRetryInterval time.Duration
}

// RunAll runs the scheduler, the replication manager and the node
// lifecycle controller on store until ctx ends, and returns once all of
// them have stopped.
func RunAll(ctx context.Context, store *storage.Store, logger *slog.Logger, opts Options) {
	sched := scheduler.New(store, logger)
	if opts.SchedulerRetryInterval > 0 {
		sched.RetryInterval = opts.SchedulerRetryInterval
	}
	runners := []func(context.Context){
		sched.Run,
		replication.New(store, logger, opts.Replication).Run,
		nodelifecycle.New(store, logger, opts.NodeLifecycle).Run,
	}
	var wg sync.WaitGroup
	for _, run := range runners {
		wg.Go(func() { run(ctx) })
	}
	wg.Wait()
}
