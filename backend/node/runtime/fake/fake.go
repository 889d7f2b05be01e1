package fake

import (
	"context"
	"fmt"
	"maps"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/node/runtime"
	v1 "k8s.io/api/core/v1"
)

// ErrUnavailable is returned by every method while the simulated engine is
// down (SetDown). [errdefs.ErrUnavailable]
var ErrUnavailable = errdefs.New(errdefs.ErrUnavailable, "fake runtime: engine unavailable")

// Options describe the simulated host. Zero values take the defaults.
type Options struct {
	Hostname    string // default "hollow"
	CPUs        int    // default 4
	MemoryBytes int64  // default 8 GiB
	// StartDelay is how long a container waits (ContainerCreating) before
	// it runs; default 0: containers run at once.
	StartDelay time.Duration
	// LogInterval is the time between synthetic log lines; default 1s.
	LogInterval time.Duration
	// RestartBackOff spaces out the restarts of exited containers, as
	// the Docker runtime's; the zero value is the kubelet's.
	RestartBackOff runtime.BackOff
	// BootedDeployment is reported by Info, as an OSTree host would.
	BootedDeployment string
}

// Runtime is a simulated runtime. It is safe for concurrent use.
type Runtime struct {
	opts Options
	now  func() time.Time

	mu      sync.Mutex
	pods    map[string]*pod // guarded by mu; by pod UID
	down    bool            // guarded by mu
	created int             // guarded by mu; containers ever created
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns a runtime with no pods.
func New(opts Options) *Runtime {
	if opts.Hostname == "" {
		opts.Hostname = "hollow"
	}
	if opts.CPUs == 0 {
		opts.CPUs = 4
	}
	if opts.MemoryBytes == 0 {
		opts.MemoryBytes = 8 << 30
	}
	if opts.LogInterval == 0 {
		opts.LogInterval = time.Second
	}
	return &Runtime{opts: opts, now: time.Now, pods: map[string]*pod{}}
}

// SetDown simulates the engine going away (every call fails with
// ErrUnavailable) and coming back; the containers survive, as with a
// Docker engine restarted with live-restore.
func (r *Runtime) SetDown(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = down
}

// Created counts the containers ever created (not restarts), so tests can
// tell an adoption from a duplicate.
func (r *Runtime) Created() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.created
}

// pod is one simulated pod; all its fields are guarded by Runtime.mu.
type pod struct {
	uid, namespace, name string
	ip                   string
	restartPolicy        v1.RestartPolicy
	created              time.Time // the infra container's start, for Stats
	stopped              bool      // by StopPod, until StartPod
	containers           []*container
	// volumes is the simulated usage of its emptyDir volumes, in bytes
	// (SetVolumeUsage).
	volumes map[string]int64
}

// container is one app container of a pod; guarded by Runtime.mu.
type container struct {
	name, image string
	exitAfter   time.Duration // < 0: runs until stopped
	exitCode    int
	pullFailed  bool
	pullTries   int
	current     *instance
	previous    *instance // the last terminated instance, for Logs(Previous)
	restarts    int32
	// cpuMillis and memoryBytes are what the container uses while it
	// runs (FAKE_CPU_MILLICORES, FAKE_MEMORY_BYTES), for Stats.
	cpuMillis   int64
	memoryBytes int64
}

// instance is one run of a container (a restart makes a new one).
type instance struct {
	id       string
	created  time.Time
	start    time.Time // when it runs (created + StartDelay)
	finished time.Time // zero while it runs
	code     int
	// released: the agent recorded its end (ReleaseFinished), as the
	// Docker runtime removes the cgroup that kept its counters.
	released bool
}

var ipCounter atomic.Uint32

// nextIP hands out 10.x.y.z addresses, unique in the process so hollow
// nodes sharing it do not collide.
func nextIP() string {
	for {
		n := ipCounter.Add(1)
		if b := n & 0xff; b != 0 && b != 0xff {
			return fmt.Sprintf("10.%d.%d.%d", n>>16&0xff, n>>8&0xff, b)
		}
	}
}

var idCounter atomic.Uint64

func newID() string { return fmt.Sprintf("fake-%012x", idCounter.Add(1)) }

// lock takes mu and fails while the engine is down.
func (r *Runtime) lock() error {
	r.mu.Lock()
	if r.down {
		r.mu.Unlock()
		return ErrUnavailable
	}
	return nil
}

// Info describes the simulated host.
func (r *Runtime) Info(context.Context) (runtime.NodeInfo, error) {
	if err := r.lock(); err != nil {
		return runtime.NodeInfo{}, err
	}
	defer r.mu.Unlock()
	return runtime.NodeInfo{
		Hostname:         r.opts.Hostname,
		CPUs:             r.opts.CPUs,
		MemoryBytes:      r.opts.MemoryBytes,
		KernelVersion:    "fake",
		OSImage:          "Berth hollow node",
		OperatingSystem:  "linux",
		Architecture:     goruntime.GOARCH,
		RuntimeVersion:   "fake://1.0.0",
		BootedDeployment: r.opts.BootedDeployment,
	}, nil
}

// ListPods returns the status of every simulated pod.
func (r *Runtime) ListPods(context.Context) ([]runtime.PodStatus, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	now := r.now()
	out := make([]runtime.PodStatus, 0, len(r.pods))
	for _, p := range r.pods {
		out = append(out, r.status(p, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out, nil
}

// SyncPod creates the pod on first sight and restarts its exited
// containers as its restart policy and the back-off allow. It simulates
// no files or environment, so it takes no use of data.
func (r *Runtime) SyncPod(_ context.Context, spec *v1.Pod, _ runtime.PodData) (runtime.PodStatus, error) {
	if err := r.lock(); err != nil {
		return runtime.PodStatus{}, err
	}
	defer r.mu.Unlock()
	now := r.now()
	uid := string(spec.UID)
	p, ok := r.pods[uid]
	if !ok {
		p = r.newPod(spec, now)
		r.pods[uid] = p
	}
	if !p.stopped {
		for _, c := range p.containers {
			r.maybeRestart(p, c, now)
		}
	}
	return r.status(p, now), nil
}

func (r *Runtime) newPod(spec *v1.Pod, now time.Time) *pod {
	p := &pod{
		uid:           string(spec.UID),
		namespace:     spec.Namespace,
		name:          spec.Name,
		ip:            nextIP(),
		restartPolicy: spec.Spec.RestartPolicy,
		created:       now,
	}
	for _, cs := range spec.Spec.Containers {
		c := &container{name: cs.Name, image: cs.Image, exitAfter: -1,
			cpuMillis: defaultCPUMillis, memoryBytes: defaultMemoryBytes}
		for _, e := range cs.Env {
			switch e.Name {
			case "FAKE_CPU_MILLICORES":
				if n, err := strconv.ParseInt(e.Value, 10, 64); err == nil {
					c.cpuMillis = n
				}
			case "FAKE_MEMORY_BYTES":
				if n, err := strconv.ParseInt(e.Value, 10, 64); err == nil {
					c.memoryBytes = n
				}
			case "FAKE_EXIT_AFTER":
				if d, err := time.ParseDuration(e.Value); err == nil {
					c.exitAfter = d
				}
			case "FAKE_EXIT_CODE":
				if n, err := strconv.Atoi(e.Value); err == nil {
					c.exitCode = n
					if c.exitAfter < 0 {
						c.exitAfter = 0
					}
				}
			}
		}
		if strings.Contains(cs.Image, "unpullable") {
			c.pullFailed = true
		} else {
			c.current = r.newInstance(now)
		}
		r.created++
		p.containers = append(p.containers, c)
	}
	return p
}

func (r *Runtime) newInstance(now time.Time) *instance {
	return &instance{id: newID(), created: now, start: now.Add(r.opts.StartDelay)}
}

// advance marks the current instance finished once its FAKE_EXIT_AFTER
// has passed.
func (c *container) advance(now time.Time) {
	in := c.current
	if in == nil || !in.finished.IsZero() || c.exitAfter < 0 {
		return
	}
	if end := in.start.Add(c.exitAfter); !now.Before(end) {
		in.finished, in.code = end, c.exitCode
	}
}

func (r *Runtime) maybeRestart(p *pod, c *container, now time.Time) {
	if c.pullFailed {
		c.pullTries++
		return
	}
	c.advance(now)
	in := c.current
	if in.finished.IsZero() || !runtime.Restarts(p.restartPolicy, in.code) {
		return
	}
	if now.Before(in.finished.Add(r.restartDelay(c, in))) {
		return
	}
	c.previous, c.current = in, r.newInstance(now)
	c.restarts++
}

// restartDelay is the wait, after the exited instance in, before c runs
// again.
func (r *Runtime) restartDelay(c *container, in *instance) time.Duration {
	return r.opts.RestartBackOff.RestartDelay(int(c.restarts), in.finished.Sub(in.start))
}

func (r *Runtime) status(p *pod, now time.Time) runtime.PodStatus {
	st := runtime.PodStatus{
		UID: p.uid, Namespace: p.namespace, Name: p.name,
		IP: p.ip, InfraRunning: true,
	}
	for _, c := range p.containers {
		c.advance(now)
		st.Containers = append(st.Containers, r.containerStatus(p, c, now))
	}
	return st
}

func (r *Runtime) containerStatus(p *pod, c *container, now time.Time) runtime.ContainerStatus {
	cs := runtime.ContainerStatus{
		Name: c.name, Image: c.image, ImageID: "fake://" + c.image,
		RestartCount: c.restarts,
	}
	if c.pullFailed {
		cs.State, cs.Reason = runtime.StateWaiting, "ErrImagePull"
		if c.pullTries > 1 {
			cs.Reason = "ImagePullBackOff"
		}
		cs.Message = fmt.Sprintf("fake: image %q cannot be pulled", c.image)
		return cs
	}
	in := c.current
	cs.ID = in.id
	switch {
	case now.Before(in.start):
		cs.State, cs.Reason = runtime.StateWaiting, "ContainerCreating"
	case in.finished.IsZero():
		cs.State, cs.StartedAt = runtime.StateRunning, in.start
	case !p.stopped && runtime.Restarts(p.restartPolicy, in.code):
		cs.State, cs.Reason = runtime.StateWaiting, "CrashLoopBackOff"
		cs.Message = fmt.Sprintf("back-off %s restarting failed container %s", r.restartDelay(c, in), c.name)
		cs.ExitCode, cs.StartedAt, cs.FinishedAt = in.code, in.start, in.finished
	default:
		cs.State, cs.ExitCode = runtime.StateExited, in.code
		cs.StartedAt, cs.FinishedAt = in.start, in.finished
		cs.Reason = "Completed"
		if in.code != 0 {
			cs.Reason = "Error"
		}
	}
	return cs
}

// KillPod removes the pod at once (fake containers need no grace).
func (r *Runtime) KillPod(_ context.Context, uid string, _ time.Duration) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	if _, ok := r.pods[uid]; !ok {
		return fmt.Errorf("pod %q: %w", uid, runtime.ErrNotFound)
	}
	delete(r.pods, uid)
	return nil
}

// StopPod stops the pod's running containers as SIGTERM would (exit 143).
func (r *Runtime) StopPod(_ context.Context, uid string, _ time.Duration) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	p, ok := r.pods[uid]
	if !ok {
		return fmt.Errorf("pod %q: %w", uid, runtime.ErrNotFound)
	}
	now := r.now()
	p.stopped = true
	for _, c := range p.containers {
		c.advance(now)
		if in := c.current; in != nil && in.finished.IsZero() {
			if now.Before(in.start) {
				in.start = now
			}
			in.finished, in.code = now, 143
		}
	}
	return nil
}

// StartPod starts the pod's stopped containers again.
func (r *Runtime) StartPod(_ context.Context, uid string) error {
	if err := r.lock(); err != nil {
		return err
	}
	defer r.mu.Unlock()
	p, ok := r.pods[uid]
	if !ok {
		return fmt.Errorf("pod %q: %w", uid, runtime.ErrNotFound)
	}
	now := r.now()
	p.stopped = false
	for _, c := range p.containers {
		c.advance(now)
		if in := c.current; in != nil && !in.finished.IsZero() {
			in.released = true // its counters start from zero again
			c.previous = in
			c.current = &instance{id: in.id, created: in.created, start: now.Add(r.opts.StartDelay)}
		}
	}
	return nil
}

// SetVolumeUsage simulates a pod's container filling an emptyDir volume
// to bytes. ErrNotFound if the runtime does not run the pod.
func (r *Runtime) SetVolumeUsage(uid, volume string, bytes int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.pods[uid]
	if !ok {
		return fmt.Errorf("pod %q: %w", uid, runtime.ErrNotFound)
	}
	if p.volumes == nil {
		p.volumes = map[string]int64{}
	}
	p.volumes[volume] = bytes
	return nil
}

// VolumeUsage reports what SetVolumeUsage set; see runtime.Runtime.
func (r *Runtime) VolumeUsage(_ context.Context, uid string) (map[string]int64, error) {
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	p, ok := r.pods[uid]
	if !ok {
		return nil, fmt.Errorf("pod %q: %w", uid, runtime.ErrNotFound)
	}
	return maps.Clone(p.volumes), nil
}

// lookup finds a container of a pod; the caller holds mu.
func (r *Runtime) lookup(uid, name string) (*pod, *container, error) {
	p, ok := r.pods[uid]
	if !ok {
		return nil, nil, fmt.Errorf("pod %q: %w", uid, runtime.ErrNotFound)
	}
	for _, c := range p.containers {
		if c.name == name || name == "" && len(p.containers) == 1 {
			return p, c, nil
		}
	}
	return nil, nil, fmt.Errorf("container %q of pod %q: %w", name, uid, runtime.ErrNotFound)
}
