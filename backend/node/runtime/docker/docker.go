package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/docker/docker/client"
	v1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
)

var _ runtime.Runtime = (*Runtime)(nil)

// DefaultStateDir is where a runtime keeps pod state when Options.StateDir
// is empty.
const DefaultStateDir = "/var/lib/berth/runtime"

// LabelScope marks the containers of one runtime, named by a hash of its
// state directory. One engine may serve several agents (two nodes on one
// host, tests running side by side); each sees, adopts and removes only
// the containers of its own scope, never another agent's as orphans.
const LabelScope = "dev.berth.runtime.scope"

// Options configure a Runtime. All fields are optional.
type Options struct {
	// Host is the Docker daemon's address, as DOCKER_HOST; "" takes the
	// environment's (DOCKER_HOST, else the local socket).
	Host string
	// InfraImage is the image of infra containers; "" until
	// EnsureInfraImage has built one.
	InfraImage string
	// StateDir holds per-pod state: emptyDir volumes and stop marks.
	// DefaultStateDir if "".
	StateDir string
	// Logger receives the runtime's logs; slog.Default() if nil.
	Logger *slog.Logger
	// AllowHostPath says whether a pod may mount hostPath volumes; nil
	// allows none. The Docker socket is never mounted.
	AllowHostPath func(pod *v1.Pod) bool
	// Limits bound every container; the zero value takes the defaults.
	Limits Limits
	// LogsFromEngine reads containers' logs through the engine's API
	// even where their files can be read (as they cannot beside a remote
	// engine). The files are read by default: the engine's own follow
	// repeats and skips lines where a log rotates (see jsonfile.go).
	LogsFromEngine bool
	// RestartBackOff spaces out the restarts of crashing containers;
	// the zero value is the kubelet's (10s doubling to 5m).
	RestartBackOff runtime.BackOff
	// Clock tells the time of back-offs; time.Now if nil (tests move it).
	Clock func() time.Time
	// Network is the pod network (the agent's): each pod's infra
	// container joins it with an address of the node's subnet that the
	// pod keeps while it lives. Nil puts pods on Docker's default bridge,
	// for a runtime used without an agent (its own tests).
	Network PodNetwork
}

// Runtime runs pods on one Docker engine. It is safe for concurrent use.
type Runtime struct {
	cli           *client.Client
	stateDir      string
	scope         string // the LabelScope value of this runtime's containers
	logger        *slog.Logger
	allowHostPath func(pod *v1.Pod) bool
	limits        Limits
	// restartBackOff and pullBackOff space out container restarts and
	// image pulls.
	restartBackOff, pullBackOff runtime.BackOff
	now                         func() time.Time
	// sockets are the paths no hostPath volume may expose.
	sockets []string
	network PodNetwork
	// logsFromEngine: see Options.LogsFromEngine.
	logsFromEngine bool
	// addrMu serialises the choice of pod addresses.
	addrMu sync.Mutex
	// lastAddr is the pod address handed out last; guarded by addrMu.
	lastAddr netip.Addr

	// cgroups give container instances parents of their own, nil when the
	// engine's containers cannot have them (cgroups.go).
	cgroups *instanceCgroups

	mu         sync.Mutex
	infraImage string               // guarded by mu
	pods       map[string]*podState // guarded by mu
	// held are the exited instances whose parent cgroup Finished
	// reported, by container ID; guarded by mu.
	held map[string]heldCgroup
}

// podState is what the runtime remembers of one pod between calls.
type podState struct {
	// op serialises the operations on the pod.
	op sync.Mutex

	// The fields below are guarded by Runtime.mu.
	refs    int
	stopped bool
	// pulls holds the image pull failures of the pod's containers, by
	// container name.
	pulls map[string]*pullFailure
	// waiting is the last status of app containers that have no Docker
	// container (pull or configuration errors), by container name.
	waiting map[string]runtime.ContainerStatus
}

// Dial returns a client of the Docker engine at host (as DOCKER_HOST; ""
// takes the environment's), as the runtime makes its own: for what works
// beside the runtime on the same engine (the pod network).
func Dial(host string) (*client.Client, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return cli, nil
}

// New connects to the Docker engine and checks that it answers.
func New(ctx context.Context, opts Options) (*Runtime, error) {
	limits, err := opts.Limits.withDefaults()
	if err != nil {
		return nil, err
	}
	cli, err := Dial(opts.Host)
	if err != nil {
		return nil, err
	}
	if _, err := cli.Ping(ctx); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker engine at %q does not answer: %w", cli.DaemonHost(), engineError(err))
	}
	r := &Runtime{
		cli:            cli,
		stateDir:       opts.StateDir,
		logger:         opts.Logger,
		allowHostPath:  opts.AllowHostPath,
		limits:         limits,
		restartBackOff: opts.RestartBackOff,
		now:            opts.Clock,
		sockets:        []string{"/var/run/docker.sock", "/run/docker.sock"},
		infraImage:     opts.InfraImage,
		pods:           map[string]*podState{},
		held:           map[string]heldCgroup{},
		network:        opts.Network,
		logsFromEngine: opts.LogsFromEngine,
	}
	if r.stateDir == "" {
		r.stateDir = DefaultStateDir
	}
	if abs, err := filepath.Abs(r.stateDir); err == nil {
		r.stateDir = abs
	}
	sum := sha256.Sum256([]byte(r.stateDir))
	r.scope = hex.EncodeToString(sum[:8])
	if r.logger == nil {
		r.logger = slog.Default()
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.allowHostPath == nil {
		r.allowHostPath = func(*v1.Pod) bool { return false }
	}
	if sock, ok := unixSocketPath(cli.DaemonHost()); ok {
		r.sockets = append(r.sockets, sock)
	}
	if err := os.MkdirAll(filepath.Join(r.stateDir, "pods"), 0o755); err != nil {
		cli.Close()
		return nil, fmt.Errorf("state directory: %w", err)
	}
	// As the mount table names it, so that the staged subPaths under it
	// are found before a pod's directory is removed (subpath_linux.go).
	if real, err := filepath.EvalSymlinks(r.stateDir); err == nil {
		r.stateDir = real
	}
	if err := r.releaseSubPaths(ctx); err != nil {
		cli.Close()
		return nil, err
	}
	if err := r.setUpCgroups(ctx); err != nil {
		cli.Close()
		return nil, err
	}
	return r, nil
}

// setUpCgroups decides whether containers get cgroup parents of their own
// (cgroups.go), says once why not when they cannot, and removes the
// cgroups left by pods that are gone.
func (r *Runtime) setUpCgroups(ctx context.Context) error {
	info, err := r.cli.Info(ctx)
	if err != nil {
		return fmt.Errorf("docker info: %w", engineError(err))
	}
	_, local := unixSocketPath(r.cli.DaemonHost())
	mountinfo, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("mount table: %w", err)
	}
	defer mountinfo.Close()
	var why string
	r.cgroups, why = newInstanceCgroups(info.CgroupDriver, info.CgroupVersion, local, mountinfo, r.scope)
	if r.cgroups == nil {
		r.logger.Warn("containers get no cgroup parent of their own: the last usage window of a container that exits on its own is not recorded",
			"reason", why)
		return nil
	}
	if err := r.sweepCgroups(ctx); err != nil {
		return fmt.Errorf("removing the cgroups of pods that are gone: %w", err)
	}
	return nil
}

// releaseSubPaths unmounts the staged subPaths and the secret volumes'
// tmpfs of the pods that have no container left on this host: an agent
// that stopped between mounting them and creating the pod's containers,
// or while it killed a pod, leaves them mounted.
func (r *Runtime) releaseSubPaths(ctx context.Context) error {
	entries, err := os.ReadDir(filepath.Join(r.stateDir, "pods"))
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	pods, err := r.listPods(ctx, "")
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		uid := e.Name()
		if _, ok := pods[uid]; ok {
			continue
		}
		_, staged := os.Stat(filepath.Join(r.podDir(uid), subPathsDir))
		_, volumes := os.Stat(filepath.Join(r.podDir(uid), "volumes"))
		if staged != nil && volumes != nil {
			continue // nothing of it can be mounted: no subPath, no secret's tmpfs
		}
		if err := unmountSubPaths(r.podDir(uid)); err != nil {
			errs = append(errs, fmt.Errorf("pod %q: %w", uid, err))
			continue
		}
		r.logger.Info("released the mounts of a pod without containers", "pod_uid", uid)
	}
	return errors.Join(errs...)
}

// Client is the runtime's Docker client.
func (r *Runtime) Client() *client.Client { return r.cli }

// Close releases the connection to the engine; the containers keep running.
// The runtime's cgroup goes when no pod has cgroups in it.
func (r *Runtime) Close() error {
	r.closeCgroups()
	return r.cli.Close()
}

// lockPod serialises the operations on one pod; call the returned function
// to release it.
func (r *Runtime) lockPod(uid string) (*podState, func()) {
	r.mu.Lock()
	ps, ok := r.pods[uid]
	if !ok {
		ps = &podState{}
		ps.stopped = r.stopMarked(uid)
		r.pods[uid] = ps
	}
	ps.refs++
	r.mu.Unlock()

	ps.op.Lock()
	return ps, func() {
		ps.op.Unlock()
		r.mu.Lock()
		ps.refs--
		if ps.refs == 0 && !ps.stopped && len(ps.pulls) == 0 && len(ps.waiting) == 0 {
			delete(r.pods, uid)
		}
		r.mu.Unlock()
	}
}

// podDir is the directory of one pod's state.
func (r *Runtime) podDir(uid string) string {
	return filepath.Join(r.stateDir, "pods", uid)
}

func (r *Runtime) stopMarkPath(uid string) string {
	return filepath.Join(r.podDir(uid), "stopped")
}

func (r *Runtime) stopMarked(uid string) bool {
	_, err := os.Stat(r.stopMarkPath(uid))
	return err == nil
}

// setStopped records whether the user stopped the pod, in memory and on
// disk, so that an agent restart keeps a stopped pod stopped.
func (r *Runtime) setStopped(ps *podState, uid string, stopped bool) error {
	path := r.stopMarkPath(uid)
	if stopped {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("marking pod %q stopped: %w", uid, err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			return fmt.Errorf("marking pod %q stopped: %w", uid, err)
		}
	} else if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("clearing the stop mark of pod %q: %w", uid, err)
	}
	r.mu.Lock()
	ps.stopped = stopped
	r.mu.Unlock()
	return nil
}

func (r *Runtime) isStopped(ps *podState) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ps.stopped
}
