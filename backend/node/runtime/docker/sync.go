package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	v1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// Waiting reasons of app containers that have no running instance.
const (
	reasonCrashLoop     = "CrashLoopBackOff"
	reasonPull          = "ErrImagePull"
	reasonPullBackOff   = "ImagePullBackOff"
	reasonNeverPull     = "ErrImageNeverPull"
	reasonConfig        = "CreateContainerConfigError"
	reasonCreate        = "CreateContainerError"
	reasonCreating      = "ContainerCreating"
	defaultGracePeriod  = 30 * time.Second
	staleContainerGrace = 2 * time.Second
)

// SyncPod makes the host match the pod; see runtime.Runtime. A pod that was
// stopped with StopPod is only observed.
func (r *Runtime) SyncPod(ctx context.Context, pod *v1.Pod, data runtime.PodData) (runtime.PodStatus, error) {
	uid := string(pod.UID)
	if uid == "" {
		return runtime.PodStatus{}, fmt.Errorf("pod %s/%s has no uid", pod.Namespace, pod.Name)
	}
	ps, unlock := r.lockPod(uid)
	defer unlock()
	log := r.logger.With("pod", pod.Namespace+"/"+pod.Name, "pod_uid", uid)

	pc, err := r.listPod(ctx, uid)
	if err != nil {
		return runtime.PodStatus{}, err
	}
	status := runtime.PodStatus{UID: uid, Namespace: pod.Namespace, Name: pod.Name}
	if r.isStopped(ps) {
		return r.specStatus(ctx, pod, ps, pc)
	}

	infra, interrupted, err := r.ensureInfra(ctx, pod, pc, log)
	if err != nil {
		return status, err
	}
	status.InfraRunning = true
	status.IP = podIP(infra)
	// After the infra container: a pod with a container is one KillPod
	// finds, and unmounts.
	in := podInputs{data: data, volumeErrs: r.syncDataVolumes(pod, data)}

	var errs []error
	inSpec := map[string]bool{}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		inSpec[c.Name] = true
		st, err := r.syncContainer(ctx, pod, c, ps, pc.apps[c.Name], infra, interrupted[c.Name], in, log)
		if err != nil {
			errs = append(errs, err)
		}
		status.Containers = append(status.Containers, st)
	}
	for name, instances := range pc.apps {
		if inSpec[name] {
			continue
		}
		log.Info("removing a container that left the pod spec", "container", name)
		for _, in := range instances {
			errs = append(errs, r.removeContainer(ctx, in.id, podGrace(pod)))
		}
	}
	return status, errors.Join(errs...)
}

// ensureInfra makes sure the pod's infra container runs. When it has to
// replace one, the app containers that ran in the old network namespace are
// stopped, and reported as interrupted: they are replaced without back-off.
func (r *Runtime) ensureInfra(ctx context.Context, pod *v1.Pod, pc *podContainers, log *slog.Logger) (container.InspectResponse, map[string]bool, error) {
	interrupted := map[string]bool{}
	next := 0
	if len(pc.infra) > 0 {
		cur := pc.infra[0]
		for _, old := range pc.infra[1:] {
			if err := r.removeContainer(ctx, old.id, 0); err != nil {
				log.Warn("removing an old infra container", "container_id", old.id, "error", err)
			}
		}
		if running(cur.summary.State) {
			info, err := r.cli.ContainerInspect(ctx, cur.id)
			if err != nil {
				return info, nil, fmt.Errorf("inspecting the infra container of pod %q: %w", pod.UID, err)
			}
			attached, err := r.attachInfra(ctx, string(pod.UID), info, log)
			if err != nil {
				return info, nil, err
			}
			if attached {
				info, err = r.cli.ContainerInspect(ctx, cur.id)
				if err != nil {
					return info, nil, fmt.Errorf("inspecting the infra container of pod %q: %w", pod.UID, err)
				}
				return info, interrupted, nil
			}
		}
		log.Info("replacing the infra container", "container_id", cur.id, "state", cur.summary.State)
		for name, instances := range pc.apps {
			if running(instances[0].summary.State) {
				interrupted[name] = true
				if err := r.stopContainer(ctx, instances[0].id, staleContainerGrace); err != nil {
					return container.InspectResponse{}, nil, err
				}
			}
		}
		if err := r.removeContainer(ctx, cur.id, 0); err != nil {
			return container.InspectResponse{}, nil, err
		}
		next = cur.restarts + 1
	}

	image := r.infra()
	if image == "" {
		return container.InspectResponse{}, nil, errors.New("no infra image: EnsureInfraImage has not been called")
	}
	mode, networking, err := r.podNetworking(string(pod.UID))
	if err != nil {
		return container.InspectResponse{}, nil, err
	}
	cfg, host := infraConfig(pod, image, next)
	host.NetworkMode = mode
	r.limits.apply(host)
	host.CgroupParent = r.cgroupParent(string(pod.UID), runtime.InfraContainerName, next)
	cfg.Labels[LabelScope] = r.scope
	name := containerName(pod, runtime.InfraContainerName, next)
	created, err := r.cli.ContainerCreate(ctx, cfg, host, networking, nil, name)
	if err != nil {
		return container.InspectResponse{}, nil, fmt.Errorf("creating infra container %q: %w", name, err)
	}
	if err := r.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		if rmErr := r.removeContainer(ctx, created.ID, 0); rmErr != nil {
			log.Warn("removing an infra container that did not start", "container_id", created.ID, "error", rmErr)
		}
		return container.InspectResponse{}, nil, fmt.Errorf("starting infra container %q: %w", name, err)
	}
	log.Info("infra container started", "container_id", created.ID, "name", name)
	info, err := r.cli.ContainerInspect(ctx, created.ID)
	if err != nil {
		return info, nil, fmt.Errorf("inspecting infra container %q: %w", name, err)
	}
	return info, interrupted, nil
}

// podInputs are what a pod's containers are made of besides its spec:
// the secrets and config maps it uses, and why some of its volumes could
// not be made (by volume name).
type podInputs struct {
	data       runtime.PodData
	volumeErrs map[string]error
}

// syncContainer brings one app container in line with the pod's restart
// policy and reports its state. Problems of the pod spec or its image are
// reported in the status; the error is for the engine's failures.
func (r *Runtime) syncContainer(ctx context.Context, pod *v1.Pod, c *v1.Container, ps *podState,
	instances []instance, infra container.InspectResponse, interrupted bool, in podInputs, log *slog.Logger,
) (runtime.ContainerStatus, error) {
	log = log.With("container", c.Name)
	if len(instances) > 2 {
		for _, old := range instances[2:] {
			if err := r.removeContainer(ctx, old.id, 0); err != nil {
				log.Warn("removing an old instance", "container_id", old.id, "error", err)
			}
		}
	}
	next := 0
	if len(instances) > 0 {
		cur := instances[0]
		st, err := r.observe(ctx, cur)
		if err != nil {
			return st, err
		}
		stale := cur.summary.HostConfig.NetworkMode != "container:"+infra.ID
		switch {
		case st.State == runtime.StateRunning && !stale:
			return st, nil
		case st.State == runtime.StateRunning:
			// Its network namespace is gone with the infra it joined.
			if err := r.stopContainer(ctx, cur.id, staleContainerGrace); err != nil {
				return st, err
			}
			interrupted = true
		case st.State == runtime.StateWaiting && !stale:
			// Created, never started: the agent stopped in between.
			if err := r.cli.ContainerStart(ctx, cur.id, container.StartOptions{}); err != nil {
				log.Warn("starting a created container", "container_id", cur.id, "error", err)
			}
			return r.observe(ctx, cur)
		case st.State == runtime.StateExited && !interrupted && !runtime.Restarts(pod.Spec.RestartPolicy, st.ExitCode):
			return st, nil
		}
		if !interrupted && st.State == runtime.StateExited {
			end, ran := st.FinishedAt, st.FinishedAt.Sub(st.StartedAt)
			if end.IsZero() {
				end, ran = time.Unix(cur.summary.Created, 0), 0
			}
			delay := r.restartBackOff.RestartDelay(cur.restarts, ran)
			if r.now().Before(end.Add(delay)) {
				st.State = runtime.StateWaiting
				st.Reason = reasonCrashLoop
				st.Message = fmt.Sprintf("back-off %s restarting failed container %q of pod %q", delay, c.Name, pod.Name)
				return st, nil
			}
		}
		next = cur.restarts + 1
	}

	waiting := func(reason, message string) (runtime.ContainerStatus, error) {
		st := runtime.ContainerStatus{
			Name: c.Name, Image: c.Image, State: runtime.StateWaiting,
			Reason: reason, Message: message, RestartCount: int32(max(next-1, 0)),
		}
		if len(instances) > 0 {
			st.ID = instances[0].id
		}
		r.mu.Lock()
		if ps.waiting == nil {
			ps.waiting = map[string]runtime.ContainerStatus{}
		}
		ps.waiting[c.Name] = st
		r.mu.Unlock()
		return st, nil
	}
	if reason, message := r.ensureImage(ctx, ps, c, log); reason != "" {
		return waiting(reason, message)
	}
	if err := r.makeVolumes(pod); err != nil {
		return waiting(reasonConfig, err.Error())
	}
	for _, vm := range c.VolumeMounts {
		if err := in.volumeErrs[vm.Name]; err != nil {
			return waiting(reasonConfig, err.Error())
		}
	}
	spec := appSpec{
		infraID:  infra.ID,
		podIP:    podIP(infra),
		stateDir: r.stateDir,
		data:     in.data,
		restarts: next,
		subPath: func(volume, root, subPath string, index int, check func(string) error) (string, error) {
			target := filepath.Join(r.podDir(string(pod.UID)), subPathsDir, volume, c.Name, strconv.Itoa(index))
			return bindSubPath(root, subPath, target, check)
		},
	}
	if r.allowHostPath(pod) {
		spec.hostPath = &hostPathPolicy{sockets: r.sockets}
	}
	cfg, host, err := appConfig(pod, c, spec)
	if err != nil {
		return waiting(reasonConfig, err.Error())
	}
	r.limits.apply(host)
	host.CgroupParent = r.cgroupParent(string(pod.UID), c.Name, next)
	cfg.Labels[LabelScope] = r.scope
	name := containerName(pod, c.Name, next)
	created, err := r.cli.ContainerCreate(ctx, cfg, host, nil, nil, name)
	if err != nil {
		return waiting(reasonCreate, err.Error())
	}
	r.mu.Lock()
	delete(ps.waiting, c.Name)
	r.mu.Unlock()
	started := instance{id: created.ID, name: c.Name, restarts: next}
	if err := r.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		// The container stays, exited with the error, and is retried
		// with back-off like one that crashed.
		log.Warn("container did not start", "name", name, "error", err)
	} else {
		log.Info("container started", "name", name, "container_id", created.ID)
	}
	for _, old := range instances {
		if old.restarts < next-1 {
			if err := r.removeContainer(ctx, old.id, 0); err != nil {
				log.Warn("removing an old instance", "container_id", old.id, "error", err)
			}
		}
	}
	return r.observe(ctx, started)
}

// makeVolumes creates the host directories of the pod's emptyDir volumes,
// writable by any user as Kubernetes makes them.
func (r *Runtime) makeVolumes(pod *v1.Pod) error {
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir == nil {
			continue
		}
		dir := emptyDirPath(r.stateDir, pod, v.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("volume %q: %w", v.Name, err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			return fmt.Errorf("volume %q: %w", v.Name, err)
		}
	}
	return nil
}

// specStatus observes a pod without changing it, reporting every container
// of its spec.
func (r *Runtime) specStatus(ctx context.Context, pod *v1.Pod, ps *podState, pc *podContainers) (runtime.PodStatus, error) {
	status, err := r.observePod(ctx, pc)
	status.UID, status.Namespace, status.Name = string(pod.UID), pod.Namespace, pod.Name
	if err != nil {
		return status, err
	}
	observed := map[string]runtime.ContainerStatus{}
	for _, st := range status.Containers {
		observed[st.Name] = st
	}
	status.Containers = status.Containers[:0]
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range pod.Spec.Containers {
		st, ok := observed[c.Name]
		if !ok {
			st, ok = ps.waiting[c.Name]
		}
		if !ok {
			st = runtime.ContainerStatus{Name: c.Name, Image: c.Image, State: runtime.StateWaiting, Reason: reasonCreating}
		}
		status.Containers = append(status.Containers, st)
	}
	return status, nil
}

func podGrace(pod *v1.Pod) time.Duration {
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return defaultGracePeriod
}
