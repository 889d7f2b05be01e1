package docker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// KillPod stops and removes every container of the pod and its state
// directory; see runtime.Runtime.
func (r *Runtime) KillPod(ctx context.Context, uid string, grace time.Duration) error {
	ps, unlock := r.lockPod(uid)
	defer unlock()
	pc, err := r.listPod(ctx, uid)
	if err != nil {
		return err
	}
	_, statErr := os.Stat(r.podDir(uid))
	if pc.empty() && errors.Is(statErr, os.ErrNotExist) && !r.hasPodCgroups(uid) {
		r.forget(ps)
		return fmt.Errorf("pod %q: %w", uid, runtime.ErrNotFound)
	}
	// App containers first, all at once: each gets the whole grace period.
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ins := range pc.apps {
		for _, in := range ins {
			wg.Go(func() {
				if err := r.removeContainer(ctx, in.id, grace); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for _, in := range pc.infra {
		errs = append(errs, r.removeContainer(ctx, in.id, 0))
	}
	// Unmounted first: RemoveAll would descend into a staged subPath and
	// delete what it shows of the volume or the host.
	if err := unmountSubPaths(r.podDir(uid)); err != nil {
		errs = append(errs, fmt.Errorf("pod %q: %w", uid, err))
	} else if err := os.RemoveAll(r.podDir(uid)); err != nil {
		errs = append(errs, fmt.Errorf("removing the state of pod %q: %w", uid, err))
	}
	if err := r.removePodCgroups(uid); err != nil {
		errs = append(errs, fmt.Errorf("pod %q: %w", uid, err))
	}
	r.forget(ps)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("killing pod %q: %w", uid, err)
	}
	r.logger.Info("pod killed", "pod_uid", uid, "containers", len(pc.all()))
	return nil
}

// forget drops what the runtime remembers of a pod.
func (r *Runtime) forget(ps *podState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps.stopped = false
	ps.pulls = nil
	ps.waiting = nil
}

// StopPod stops the pod's app containers and keeps them, and its infra;
// SyncPod leaves the pod stopped until StartPod. ErrNotFound if the pod has
// no containers.
func (r *Runtime) StopPod(ctx context.Context, uid string, grace time.Duration) error {
	ps, unlock := r.lockPod(uid)
	defer unlock()
	pc, err := r.listPod(ctx, uid)
	if err != nil {
		return err
	}
	if pc.empty() {
		return fmt.Errorf("pod %q: %w", uid, runtime.ErrNotFound)
	}
	// Marked first, so that a sync after a failed stop does not restart
	// what did stop.
	if err := r.setStopped(ps, uid, true); err != nil {
		return err
	}
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ins := range pc.apps {
		if !running(ins[0].summary.State) {
			continue
		}
		wg.Go(func() {
			if err := r.stopContainer(ctx, ins[0].id, grace); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.logger.Info("pod stopped", "pod_uid", uid)
	return errors.Join(errs...)
}

// StartPod starts a stopped pod's containers again, its infra first, and
// lets SyncPod manage it again. ErrNotFound if the pod has no containers.
func (r *Runtime) StartPod(ctx context.Context, uid string) error {
	ps, unlock := r.lockPod(uid)
	defer unlock()
	pc, err := r.listPod(ctx, uid)
	if err != nil {
		return err
	}
	if pc.empty() {
		return fmt.Errorf("pod %q: %w", uid, runtime.ErrNotFound)
	}
	if err := r.setStopped(ps, uid, false); err != nil {
		return err
	}
	var errs []error
	if len(pc.infra) > 0 && !running(pc.infra[0].summary.State) {
		if err := r.releaseInstance(uid, pc.infra[0]); err != nil {
			return fmt.Errorf("starting the infra container of pod %q: %w", uid, err)
		}
		if err := r.cli.ContainerStart(ctx, pc.infra[0].id, container.StartOptions{}); err != nil {
			return fmt.Errorf("starting the infra container of pod %q: %w", uid, err)
		}
	}
	for _, ins := range pc.apps {
		if running(ins[0].summary.State) {
			continue
		}
		if err := r.releaseInstance(uid, ins[0]); err != nil {
			errs = append(errs, fmt.Errorf("starting container %q of pod %q: %w", ins[0].name, uid, err))
			continue
		}
		if err := r.cli.ContainerStart(ctx, ins[0].id, container.StartOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("starting container %q of pod %q: %w", ins[0].name, uid, err))
		}
	}
	r.logger.Info("pod started", "pod_uid", uid)
	return errors.Join(errs...)
}

// stopContainer stops a container as `docker stop` does: SIGTERM, then
// SIGKILL after grace.
func (r *Runtime) stopContainer(ctx context.Context, id string, grace time.Duration) error {
	secs := int(math.Ceil(grace.Seconds()))
	err := r.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stopping container %s: %w", shortID(id), err)
	}
	return nil
}

// removeContainer stops a container with grace and removes it; a container
// that is gone already is no error.
func (r *Runtime) removeContainer(ctx context.Context, id string, grace time.Duration) error {
	if grace > 0 {
		if err := r.stopContainer(ctx, id, grace); err != nil {
			return err
		}
	}
	err := r.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing container %s: %w", shortID(id), err)
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
