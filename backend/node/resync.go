package node

import (
	"context"
	"errors"
	"time"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// orphanGrace is the grace period of containers whose pod the API no
// longer has.
const orphanGrace = 10 * time.Second

// resync runs every ResyncInterval: it asks every pod worker to sync
// (which catches crashed containers and a restarted engine) and, once the
// pods have been listed, stops the containers of pods that are not bound
// here any more (orphans: deleted while the agent was away, or force
// deleted). It also evicts the pods past their emptyDir limits
// (eviction.go). An engine that does not answer is retried with back-off.
func (a *Agent) resync(ctx context.Context) {
	log := a.log.With("runner", "resync")
	bo := newBackOff(a.cfg.ResyncInterval, time.Minute)
	engineDown := false
	for {
		wait := a.cfg.ResyncInterval
		if engineDown {
			wait = bo.Duration()
		}
		if !sleep(ctx, wait) {
			return
		}
		known, synced := a.pokeAll()
		pods, err := a.rt.ListPods(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !engineDown {
				log.Warn("container runtime does not answer; retrying with back-off", "error", err)
			}
			engineDown = true
			continue
		}
		if engineDown {
			log.Info("container runtime answers again")
			engineDown = false
			bo.Reset()
		}
		a.enforceVolumeLimits(ctx)
		if !synced {
			continue
		}
		for _, p := range pods {
			if known[p.UID] || a.worker(p.UID) != nil {
				continue
			}
			plog := log.With("pod", p.Namespace+"/"+p.Name, "pod_uid", p.UID)
			plog.Info("stopping the containers of a pod not bound to this node")
			if err := a.killPod(ctx, p.UID, orphanGrace); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				plog.Warn("cannot stop orphaned pod", "error", err)
			}
		}
	}
}
