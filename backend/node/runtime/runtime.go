// Package runtime is the contract between the node agent and what runs
// containers: the Docker engine (package docker) or the simulated runtime
// of hollow nodes (package fake). A runtime knows pods only as the agent
// hands them over (*v1.Pod) and as it finds them on the host, by the
// ownership labels on their containers; it never talks to the API.
package runtime

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/berthpaas/berth/backend/errdefs"
	v1 "k8s.io/api/core/v1"
)

// Ownership labels carried by every container the agent creates.
const (
	LabelPodUID       = "dev.berth.pod.uid"
	LabelPodNamespace = "dev.berth.pod.namespace"
	LabelPodName      = "dev.berth.pod.name"
	// LabelContainer is the container's name in the pod spec; the infra
	// container carries InfraContainerName.
	LabelContainer = "dev.berth.container"
	// LabelRestartCount counts the restarts of one container of a pod.
	LabelRestartCount = "dev.berth.restart-count"
)

// InfraContainerName names the container that holds a pod's network
// namespace.
const InfraContainerName = "POD"

// ErrNotFound: no such pod or container on this host. It refines
// errdefs.ErrNotFound, the class that callers outside the node check; a
// runtime's other errors carry their errdefs class too (ErrUnavailable for
// an engine that does not answer).
var ErrNotFound = errdefs.New(errdefs.ErrNotFound, "not found")

// State is a container's state as `docker ps -a` would show it.
type State string

const (
	StateWaiting State = "waiting" // created, never started, or back-off
	StateRunning State = "running"
	StateExited  State = "exited"
)

// ContainerStatus is what the runtime observed of one app container.
type ContainerStatus struct {
	Name         string
	ID           string
	Image        string
	ImageID      string
	State        State
	Reason       string // e.g. ErrImagePull, CrashLoopBackOff, Completed, Error
	Message      string
	ExitCode     int
	StartedAt    time.Time
	FinishedAt   time.Time
	RestartCount int32
	// LastTermination is how the previous instance of the container
	// ended, when the runtime still knows it (after a restart).
	LastTermination *Termination
}

// Termination is how one instance of a container ended.
type Termination struct {
	ID         string
	ExitCode   int
	Reason     string
	Message    string
	StartedAt  time.Time
	FinishedAt time.Time
}

// PodStatus is what the runtime observed of one pod on this host.
type PodStatus struct {
	UID       string
	Namespace string
	Name      string
	// IP is the pod's address (the infra container's), "" when not running.
	IP string
	// InfraRunning reports whether the pod's network namespace is up.
	InfraRunning bool
	Containers   []ContainerStatus
}

// NodeInfo describes the host for the Node object.
type NodeInfo struct {
	Hostname         string
	CPUs             int
	MemoryBytes      int64
	KernelVersion    string
	OSImage          string
	OperatingSystem  string
	Architecture     string
	RuntimeVersion   string // e.g. docker://20.10.24
	Images           []string
	BootedDeployment string // OSTree booted deployment, "" elsewhere
}

// LogOptions select the lines of a log, as Kubernetes' PodLogOptions.
type LogOptions struct {
	// Follow keeps the log coming until the container stops; output
	// without a newline comes as soon as it is written.
	Follow    bool
	TailLines *int64
	// SinceSeconds and SinceTime (at most one) skip lines logged before
	// then, to the nanosecond.
	SinceSeconds *int64
	SinceTime    *time.Time
	// Timestamps starts each line with its time (RFC 3339, nanoseconds).
	Timestamps bool
	// LimitBytes ends the log after that many bytes.
	LimitBytes *int64
	// Previous selects the previous, terminated instance of the container.
	Previous bool
}

// Since is the time before which lines are skipped, zero for none.
func (o LogOptions) Since(now time.Time) time.Time {
	switch {
	case o.SinceTime != nil:
		return *o.SinceTime
	case o.SinceSeconds != nil:
		return now.Add(-time.Duration(*o.SinceSeconds) * time.Second)
	}
	return time.Time{}
}

// Streams are the standard streams of an exec or attach; nil ones are not
// connected.
type Streams struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	TTY    bool
	// Resize delivers terminal sizes while the session lasts.
	Resize <-chan TerminalSize
}

// TerminalSize is a TTY's size in characters.
type TerminalSize struct {
	Width, Height uint16
}

// Change is one filesystem change of a container, as `docker diff` shows.
type Change struct {
	Path string `json:"path"`
	// Kind is "A" (added), "C" (changed) or "D" (deleted).
	Kind string `json:"kind"`
}

// PodData are the API objects a pod uses that the runtime cannot read
// itself: the secrets and config maps of the pod's namespace that its env,
// envFrom and volumes name, by name, as the agent last read them. One
// that does not exist is absent; the runtime decides, by the reference's
// optional, whether the pod can run without it.
type PodData struct {
	Secrets    map[string]*v1.Secret
	ConfigMaps map[string]*v1.ConfigMap
}

// Runtime runs pods on one host. All methods are safe for concurrent use;
// the agent serialises the calls for one pod.
type Runtime interface {
	// Info describes the host.
	Info(ctx context.Context) (NodeInfo, error)
	// ListPods returns every pod that has containers on this host, found
	// by their ownership labels (also after an agent restart).
	ListPods(ctx context.Context) ([]PodStatus, error)
	// SyncPod makes the host match the pod: it creates and starts the
	// infra container and the app containers that should run under the
	// pod's restart policy, restarts exited ones with back-off, and never
	// creates a second container for one that exists. It returns what it
	// then observes. An image that cannot be had shows as a waiting
	// container with reason ErrImagePull or ImagePullBackOff, not an error.
	// data holds the secrets and config maps the pod uses: their keys
	// become environment variables and files of its secret and configMap
	// volumes, which every sync brings up to date.
	SyncPod(ctx context.Context, pod *v1.Pod, data PodData) (PodStatus, error)
	// KillPod stops every container of the pod (SIGTERM, then SIGKILL
	// after grace) and removes them. ErrNotFound if nothing is left.
	KillPod(ctx context.Context, uid string, grace time.Duration) error
	// StopPod stops the pod's app containers (as `docker stop`) and keeps
	// them; SyncPod leaves stopped pods stopped until StartPod.
	StopPod(ctx context.Context, uid string, grace time.Duration) error
	// StartPod starts the pod's stopped containers again (as `docker start`).
	StartPod(ctx context.Context, uid string) error
	// Logs writes a container's log to w until it ends (or, with Follow,
	// until the container stops or ctx ends).
	Logs(ctx context.Context, uid, container string, opts LogOptions, w io.Writer) error
	// Exec runs cmd in a container and returns its exit code.
	Exec(ctx context.Context, uid, container string, cmd []string, s Streams) (int, error)
	// Attach connects to a container's main process.
	Attach(ctx context.Context, uid, container string, s Streams) error
	// Diff lists the container's filesystem changes.
	Diff(ctx context.Context, uid, container string) ([]Change, error)
	// DialPort connects to port on the loopback address of the pod's
	// network namespace, as `kubectl port-forward` reaches a pod: what
	// listens in the pod (on any address) answers, never the host.
	// ErrNotFound if the pod has no running network namespace here.
	DialPort(ctx context.Context, uid string, port uint16) (net.Conn, error)
	// VolumeUsage reports the bytes that each emptyDir volume of the pod
	// takes on the host, by volume name; volumes not made yet are
	// missing. ErrNotFound if the pod has none here.
	VolumeUsage(ctx context.Context, uid string) (map[string]int64, error)
	// Stats samples the running containers of the pod with that UID, or
	// of every pod when uid is "", infra containers included (they carry
	// the pod's network counters).
	Stats(ctx context.Context, uid string) ([]ContainerStats, error)
	// Finished reports the final counters of the exited containers of the
	// pod with that UID (of every pod when uid is "") that the runtime
	// still holds, with FinishedAt set: CPU time to the end, the peak of
	// memory, no network (it went with the container). A container that
	// exits on its own is gone from Stats before anyone can sample it;
	// this is how its last window is still counted. A container is
	// reported until ReleaseFinished names it; a runtime that cannot keep
	// them reports none.
	Finished(ctx context.Context, uid string) ([]ContainerStats, error)
	// ReleaseFinished lets the runtime drop the final counters of the
	// containers with those IDs (as Finished reported them), once their
	// last window is recorded. IDs it does not hold are ignored.
	ReleaseFinished(ctx context.Context, ids []string) error
}

// ContainerStats is one sample of a running container, as the engine's
// stats report it: counters (CPU time, network bytes) count from the
// container's start, gauges (memory) are the values now.
type ContainerStats struct {
	PodUID    string
	Namespace string
	PodName   string
	// Container is the container's name in the pod, InfraContainerName
	// for the infra container.
	Container string
	ID        string
	StartedAt time.Time
	// CPUNanos is the CPU time the container has used.
	CPUNanos uint64
	// MemoryBytes is the working set: usage less inactive file pages, as
	// the kubelet counts it.
	MemoryBytes int64
	// NetworkRxBytes and NetworkTxBytes count the bytes through the
	// container's own network namespace (the infra container's: app
	// containers share it and report none).
	NetworkRxBytes uint64
	NetworkTxBytes uint64
	// FinishedAt is when the container exited, zero while it runs (only
	// Finished sets it).
	FinishedAt time.Time
	// MemoryPeakBytes is the highest memory use of the container's life
	// as its cgroup counts it (page cache included); only Finished sets
	// it, 0 when the cgroup does not tell.
	MemoryPeakBytes int64
}
