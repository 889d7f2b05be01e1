package controller

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/berthpaas/berth/backend/controller/endpoints"
	"github.com/berthpaas/berth/backend/controller/hostimagebuild"
	"github.com/berthpaas/berth/backend/controller/namespace"
	"github.com/berthpaas/berth/backend/controller/nodeupgrade"
	"github.com/berthpaas/berth/backend/controller/podcidr"
	"github.com/berthpaas/berth/backend/controller/resourcequota"

	"github.com/berthpaas/berth/backend/registry/core"

	"github.com/berthpaas/berth/backend/controller/nodelifecycle"
	"github.com/berthpaas/berth/backend/controller/replication"
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
	Endpoints     endpoints.Options
	ResourceQuota resourcequota.Options
	// SchedulerRetryInterval: see scheduler.DefaultRetryInterval.
	SchedulerRetryInterval time.Duration
	// HostImages, when set, runs the host image builder and the node
	// upgrade controller.
	HostImages *hostimagebuild.Config
}

// quotaCounted are the registries whose objects quotas count, by resource.
func quotaCounted(regs *core.Registries) map[string]resourcequota.Lister {
	out := map[string]resourcequota.Lister{}
	for _, r := range regs.All() {
		if r.Strategy.NamespaceScoped() {
			out[r.Resource] = r
		}
	}
	return out
}

// RunAll runs the scheduler, the replication manager, the node
// lifecycle, namespace, endpoints, resource quota and pod subnet controllers on the
// registries, and the host image builder when configured, until ctx ends,
// and returns once all of them have stopped.
func RunAll(ctx context.Context, regs *core.Registries, logger *slog.Logger, opts Options) {
	sched := scheduler.New(regs.Pods, regs.Nodes, regs.Events, logger)
	if opts.SchedulerRetryInterval > 0 {
		sched.RetryInterval = opts.SchedulerRetryInterval
	}
	runners := []func(context.Context){
		sched.Run,
		replication.New(regs.ReplicationControllers, regs.Pods, regs.Events, logger, opts.Replication).Run,
		nodelifecycle.New(regs.Nodes, regs.Pods, regs.Leases, regs.Events, logger, opts.NodeLifecycle).Run,
		namespace.New(regs.Namespaces, logger, 0).Run,
		endpoints.New(regs.Services, regs.Pods, regs.Endpoints, regs.Events, logger, opts.Endpoints).Run,
		resourcequota.New(regs.ResourceQuotas, regs.Pods, quotaCounted(regs), logger, opts.ResourceQuota).Run,
	}
	if opts.HostImages != nil {
		cfg := *opts.HostImages
		if cfg.Logger == nil {
			cfg.Logger = logger
		}
		runners = append(runners, hostimagebuild.New(cfg).Run,
			nodeupgrade.New(regs.Nodes, regs.Pods, cfg.Store, logger, nodeupgrade.Options{}).Run)
	}
	if regs.PodSubnets != nil {
		runners = append(runners, podcidr.New(regs.Nodes, regs.PodSubnets, regs.Events, logger, 0).Run)
	}
	var wg sync.WaitGroup
	for _, run := range runners {
		wg.Go(func() { run(ctx) })
	}
	wg.Wait()
}
