package docker

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/node/runtime"
)

// instance is one Docker container of a pod: the infra or one instance of
// an app container.
type instance struct {
	id       string
	name     string // the container's name in the pod spec, or "POD"
	restarts int
	summary  container.Summary
}

// podContainers are the Docker containers of one pod, each name's
// instances newest first.
type podContainers struct {
	uid, namespace, name string
	infra                []instance
	apps                 map[string][]instance
}

func (pc *podContainers) empty() bool {
	return len(pc.infra) == 0 && len(pc.apps) == 0
}

// all lists every container of the pod, app containers first.
func (pc *podContainers) all() []instance {
	var out []instance
	for _, name := range slices.Sorted(maps.Keys(pc.apps)) {
		out = append(out, pc.apps[name]...)
	}
	return append(out, pc.infra...)
}

// listPods finds the containers of this runtime's scope that carry
// ownership labels, of one pod when uid is not "", grouped by pod.
func (r *Runtime) listPods(ctx context.Context, uid string) (map[string]*podContainers, error) {
	label := runtime.LabelPodUID
	if uid != "" {
		label += "=" + uid
	}
	list, err := r.cli.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", label), filters.Arg("label", LabelScope+"="+r.scope)),
	})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", engineError(err))
	}
	pods := map[string]*podContainers{}
	for _, s := range list {
		l := s.Labels
		podUID, name := l[runtime.LabelPodUID], l[runtime.LabelContainer]
		restarts, err := strconv.Atoi(l[runtime.LabelRestartCount])
		if podUID == "" || name == "" || err != nil {
			continue
		}
		pc, ok := pods[podUID]
		if !ok {
			pc = &podContainers{
				uid:       podUID,
				namespace: l[runtime.LabelPodNamespace],
				name:      l[runtime.LabelPodName],
				apps:      map[string][]instance{},
			}
			pods[podUID] = pc
		}
		in := instance{id: s.ID, name: name, restarts: restarts, summary: s}
		if name == runtime.InfraContainerName {
			pc.infra = append(pc.infra, in)
		} else {
			pc.apps[name] = append(pc.apps[name], in)
		}
	}
	newestFirst := func(a, b instance) int { return cmp.Compare(b.restarts, a.restarts) }
	for _, pc := range pods {
		slices.SortFunc(pc.infra, newestFirst)
		for _, ins := range pc.apps {
			slices.SortFunc(ins, newestFirst)
		}
	}
	return pods, nil
}

// listPod finds one pod's containers; the result is empty, not nil, when
// it has none.
func (r *Runtime) listPod(ctx context.Context, uid string) (*podContainers, error) {
	pods, err := r.listPods(ctx, uid)
	if err != nil {
		return nil, err
	}
	if pc, ok := pods[uid]; ok {
		return pc, nil
	}
	return &podContainers{uid: uid, apps: map[string][]instance{}}, nil
}

// running reports whether Docker counts the container as up.
func running(state container.ContainerState) bool {
	switch state {
	case container.StateRunning, container.StatePaused, container.StateRestarting:
		return true
	}
	return false
}

// observe inspects one instance and says what state it is in.
func (r *Runtime) observe(ctx context.Context, in instance) (runtime.ContainerStatus, error) {
	info, err := r.cli.ContainerInspect(ctx, in.id)
	if err != nil {
		return runtime.ContainerStatus{}, fmt.Errorf("inspecting container %q: %w", in.summary.Names, err)
	}
	return containerStatus(in, info), nil
}

// containerStatus maps Docker's view of a container onto the runtime's.
func containerStatus(in instance, info container.InspectResponse) runtime.ContainerStatus {
	st := runtime.ContainerStatus{
		Name:         in.name,
		ID:           info.ID,
		ImageID:      info.Image,
		RestartCount: int32(in.restarts),
	}
	if info.Config != nil {
		st.Image = info.Config.Image
	}
	s := info.State
	if s == nil {
		st.State = runtime.StateWaiting
		return st
	}
	st.StartedAt = parseTime(s.StartedAt)
	st.FinishedAt = parseTime(s.FinishedAt)
	switch {
	case s.Running || s.Paused || s.Restarting:
		st.State = runtime.StateRunning
	case s.Status == container.StateCreated && s.Error == "":
		st.State = runtime.StateWaiting
		st.Reason = "ContainerCreating"
	default:
		st.State = runtime.StateExited
		st.ExitCode = s.ExitCode
		st.Message = s.Error
		switch {
		case s.Status == container.StateCreated:
			st.Reason = "StartError"
		case s.OOMKilled:
			st.Reason = "OOMKilled"
		case s.ExitCode == 0:
			st.Reason = "Completed"
		default:
			st.Reason = "Error"
		}
	}
	return st
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// podIP is the bridge address of a running infra container.
func podIP(info container.InspectResponse) string {
	if info.NetworkSettings == nil {
		return ""
	}
	if n, ok := info.NetworkSettings.Networks["bridge"]; ok && n != nil && n.IPAddress != "" {
		return n.IPAddress
	}
	for _, n := range info.NetworkSettings.Networks {
		if n != nil && n.IPAddress != "" {
			return n.IPAddress
		}
	}
	return ""
}

// observePod reports a pod's state from its containers: the newest
// instance of each app container, and the infra's address.
func (r *Runtime) observePod(ctx context.Context, pc *podContainers) (runtime.PodStatus, error) {
	ps := runtime.PodStatus{UID: pc.uid, Namespace: pc.namespace, Name: pc.name}
	if len(pc.infra) > 0 {
		info, err := r.cli.ContainerInspect(ctx, pc.infra[0].id)
		if err != nil {
			return ps, fmt.Errorf("inspecting the infra container of pod %q: %w", pc.uid, err)
		}
		if info.State != nil && info.State.Running {
			ps.InfraRunning = true
			ps.IP = podIP(info)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(pc.apps)) {
		instances := pc.apps[name]
		st, err := r.observe(ctx, instances[0])
		if err != nil {
			return ps, err
		}
		if len(instances) > 1 {
			// The previous instance is kept for `logs --previous`; it
			// also tells how the last run ended.
			prev, err := r.observe(ctx, instances[1])
			if err == nil && prev.State == runtime.StateExited {
				st.LastTermination = &runtime.Termination{
					ID: prev.ID, ExitCode: prev.ExitCode, Reason: prev.Reason, Message: prev.Message,
					StartedAt: prev.StartedAt, FinishedAt: prev.FinishedAt,
				}
			}
		}
		ps.Containers = append(ps.Containers, st)
	}
	return ps, nil
}

// classedError is an error of the engine that also carries the errdefs
// class it falls in, keeping its own message and chain.
type classedError struct{ err, class error }

func (e *classedError) Error() string   { return e.err.Error() }
func (e *classedError) Unwrap() []error { return []error{e.err, e.class} }

// engineError classes an error of the Docker engine: an object it does not
// know is errdefs.ErrNotFound, an engine that does not answer
// errdefs.ErrUnavailable.
func engineError(err error) error {
	switch {
	case cerrdefs.IsNotFound(err):
		return &classedError{err: err, class: errdefs.ErrNotFound}
	case client.IsErrConnectionFailed(err), cerrdefs.IsUnavailable(err):
		return &classedError{err: err, class: errdefs.ErrUnavailable}
	}
	return err
}
