package docker

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/docker/docker/api/types/container"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// cgroupRoot is the cgroup, under each hierarchy's root, that holds the
// cgroup parents of the containers of every Berth runtime on the host,
// one directory per runtime scope.
const cgroupRoot = "berth"

// instanceCgroups gives each container instance a cgroup parent of its
// own (Docker's HostConfig.CgroupParent),
//
//	/berth/<scope>/<pod uid>/<hash of the container's name>-<restart count>
//
// in every cgroup hierarchy, because the engine deletes a container's own
// cgroup, with its counters, before it reports the exit: a parent keeps
// what its dead children used (the kernel charges every ancestor). The
// runtime reads the parent once the container has exited (Finished) and
// removes it when the agent has recorded the last window (ReleaseFinished),
// when the pod is killed, when the container is started again (its
// counters must start from zero), and at start for the pods and instances
// that no longer have a container.
//
// Only the cgroupfs driver is supported, on cgroup v1 (cpuacct.usage,
// memory.max_usage_in_bytes) and v2 (cpu.stat usage_usec, memory.peak):
// under the systemd driver a parent must be a slice that systemd creates
// and may stop, which Berth does not drive, and an engine that is not on
// this host keeps its cgroups out of reach. There the runtime gives
// containers no parent and reports no finished container, and says so
// once at start.
//
// The path is made only of values the runtime controls: its scope (a
// hash), the pod's UID, accepted only as lowercase letters, digits and
// dashes, a hash of the container's name, and the restart count.
type instanceCgroups struct {
	scope string // "/berth/<scope>", as Docker takes a parent
	// mounts are the mount points of every cgroup hierarchy: the engine
	// makes the parent in each, and each must be removed.
	mounts []string
	// v2 reads the counters from the unified hierarchy's files.
	v2 bool
	// cpu and memory are the mount points where a cgroup's CPU time and
	// memory peak are read.
	cpu, memory string
}

// validUID accepts the pod UIDs that may name a cgroup directory.
var validUID = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)

// newInstanceCgroups decides whether the engine's containers can have
// parents of their own, given the engine's cgroup driver and version
// (docker info), whether it runs on this host, and the host's mount table;
// it returns nil and why not when they cannot.
func newInstanceCgroups(driver, version string, local bool, mountinfo io.Reader, scope string) (*instanceCgroups, string) {
	switch {
	case !local:
		return nil, "the engine is not on this host (its address is not a Unix socket), so its cgroups are out of reach"
	case driver != "cgroupfs":
		return nil, fmt.Sprintf("the engine's cgroup driver is %q; Berth keeps the counters of exited containers only under the cgroupfs driver", driver)
	}
	var v1, v2 []string
	var cpuacct, memory string
	sc := bufio.NewScanner(mountinfo)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		before, after, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(before), strings.Fields(after)
		if len(f) < 5 || len(g) < 3 || (g[0] != "cgroup" && g[0] != "cgroup2") {
			continue
		}
		if f[3] != "/" {
			return nil, fmt.Sprintf("the cgroup hierarchy at %s is mounted from %s, not from its root (a cgroup namespace?)", f[4], f[3])
		}
		mnt := unescapeMount(f[4])
		if g[0] == "cgroup2" {
			v2 = append(v2, mnt)
			continue
		}
		v1 = append(v1, mnt)
		for opt := range strings.SplitSeq(g[2], ",") {
			switch opt {
			case "cpuacct":
				cpuacct = mnt
			case "memory":
				memory = mnt
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Sprintf("reading the mount table: %v", err)
	}
	cg := &instanceCgroups{scope: path.Join("/", cgroupRoot, scope)}
	switch version {
	case "1":
		if cpuacct == "" || memory == "" {
			return nil, "cgroup v1 without a cpuacct and a memory hierarchy mounted"
		}
		// A hybrid host mounts the unified hierarchy too: runc makes the
		// parent there as well.
		cg.mounts, cg.cpu, cg.memory = append(v1, v2...), cpuacct, memory
	case "2":
		if len(v2) != 1 {
			return nil, fmt.Sprintf("cgroup v2 with %d unified hierarchies mounted, not one", len(v2))
		}
		cg.mounts, cg.cpu, cg.memory, cg.v2 = v2, v2[0], v2[0], true
	default:
		return nil, fmt.Sprintf("the engine reports cgroup version %q", version)
	}
	return cg, ""
}

// unescapeMount undoes the octal escapes of the mount table (\040 for a
// space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// instanceName names the cgroup of one instance of a pod's container: the
// container's name is hashed, so that nothing of a user's spelling reaches
// a path.
func instanceName(container string, restarts int) string {
	sum := sha256.Sum256([]byte(container))
	return hex.EncodeToString(sum[:6]) + "-" + strconv.Itoa(restarts)
}

// parent is the cgroup parent of one instance, as Docker takes it; "" when
// the pod's UID cannot name a directory (the container then has none).
func (c *instanceCgroups) parent(uid, container string, restarts int) string {
	if c == nil || !validUID.MatchString(uid) || restarts < 0 {
		return ""
	}
	return path.Join(c.scope, uid, instanceName(container, restarts))
}

// dir is a cgroup's directory under the hierarchy mounted at mnt; rel is
// relative to the runtime's scope.
func (c *instanceCgroups) dir(mnt string, rel ...string) string {
	return filepath.Join(append([]string{mnt, filepath.FromSlash(c.scope)}, rel...)...)
}

// pods lists the pod UIDs that have cgroups of this runtime.
func (c *instanceCgroups) pods() ([]string, error) {
	return subdirs(c.dir(c.cpu))
}

// instances lists the instance cgroups of a pod.
func (c *instanceCgroups) instances(uid string) ([]string, error) {
	if !validUID.MatchString(uid) {
		return nil, nil
	}
	return subdirs(c.dir(c.cpu, uid))
}

// live reports whether an instance's container still has its own cgroup
// in the parent, that is, runs (or is being started).
func (c *instanceCgroups) live(uid, inst string) (bool, error) {
	children, err := subdirs(c.dir(c.cpu, uid, inst))
	return len(children) > 0, err
}

// subdirs lists the directories in dir; none when it does not exist.
func subdirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// counters reads an instance's CPU time (ns) and memory peak (bytes, 0
// when the kernel keeps none) from its parent.
func (c *instanceCgroups) counters(uid, inst string) (uint64, int64, error) {
	var cpu uint64
	var peak int64
	var err error
	if c.v2 {
		var usec uint64
		usec, err = readKeyed(c.dir(c.cpu, uid, inst, "cpu.stat"), "usage_usec")
		cpu = usec * 1000
		if err == nil {
			peak, err = readPeak(c.dir(c.memory, uid, inst, "memory.peak"))
		}
	} else {
		cpu, err = readUint(c.dir(c.cpu, uid, inst, "cpuacct.usage"))
		if err == nil {
			peak, err = readPeak(c.dir(c.memory, uid, inst, "memory.max_usage_in_bytes"))
		}
	}
	return cpu, peak, err
}

func readUint(file string) (uint64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	return n, nil
}

// readPeak reads a memory peak; a kernel that keeps none (memory.peak
// came with Linux 5.19) gives 0.
func readPeak(file string) (int64, error) {
	n, err := readUint(file)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	return int64(min(n, 1<<62)), err
}

// readKeyed reads one "key value" line of a flat keyed file (cpu.stat).
func readKeyed(file, key string) (uint64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && k == key {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %s: %w", file, key, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s: no %s", file, key)
}

// remove removes a cgroup subtree (rel under the scope; none removes the
// scope's own directory) from every hierarchy, children first. A cgroup
// that still has tasks stays, and is an error; one that is gone is not.
func (c *instanceCgroups) remove(rel ...string) error {
	var errs []error
	for _, mnt := range c.mounts {
		if err := rmdirTree(c.dir(mnt, rel...)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// rmdirTree removes the cgroup dir and the cgroups below it. A cgroup's
// files go with its directory; only rmdir removes one.
func rmdirTree(dir string) error {
	children, err := subdirs(dir)
	if err != nil {
		return err
	}
	for _, child := range children {
		if err := rmdirTree(filepath.Join(dir, child)); err != nil {
			return err
		}
	}
	if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("removing cgroup %s: %w", dir, err)
	}
	return nil
}

// heldCgroup is an exited instance whose parent Finished reported.
type heldCgroup struct{ uid, inst string }

// cgroupParent is the cgroup parent of a new instance; "" when the runtime
// keeps none.
func (r *Runtime) cgroupParent(uid, container string, restarts int) string {
	return r.cgroups.parent(uid, container, restarts)
}

// Finished reports the exited containers whose parent cgroup is still
// here, with their final counters; see runtime.Runtime. An instance
// cgroup whose container is gone is removed: no one can ask for it.
func (r *Runtime) Finished(ctx context.Context, uid string) ([]runtime.ContainerStats, error) {
	cg := r.cgroups
	if cg == nil {
		return nil, nil
	}
	uids := []string{uid}
	if uid == "" {
		var err error
		if uids, err = cg.pods(); err != nil {
			return nil, fmt.Errorf("cgroups of finished containers: %w", err)
		}
	}
	var exited []heldCgroup
	for _, u := range uids {
		insts, err := cg.instances(u)
		if err != nil {
			return nil, fmt.Errorf("cgroups of pod %q: %w", u, err)
		}
		for _, inst := range insts {
			live, err := cg.live(u, inst)
			if err != nil {
				return nil, fmt.Errorf("cgroups of pod %q: %w", u, err)
			}
			if !live {
				exited = append(exited, heldCgroup{u, inst})
			}
		}
	}
	if len(exited) == 0 {
		return nil, nil
	}
	pods, err := r.listPods(ctx, uid)
	if err != nil {
		return nil, err
	}
	var out []runtime.ContainerStats
	for _, h := range exited {
		pc, in, ok := findInstance(pods, h)
		if !ok {
			if err := r.removeHeld(h); err != nil {
				r.logger.Warn("cannot remove the cgroup of a removed container", "pod_uid", h.uid, "error", err)
			}
			continue
		}
		if in.summary.State != container.StateExited && in.summary.State != container.StateDead {
			continue // created, being started
		}
		info, err := r.cli.ContainerInspect(ctx, in.id)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", shortID(in.id), engineError(err))
		}
		st := runtime.ContainerStats{PodUID: pc.uid, Namespace: pc.namespace, PodName: pc.name, Container: in.name, ID: in.id}
		if info.State != nil {
			st.StartedAt, st.FinishedAt = parseTime(info.State.StartedAt), parseTime(info.State.FinishedAt)
		}
		if st.StartedAt.IsZero() || st.FinishedAt.IsZero() || info.State.Running {
			continue
		}
		if st.CPUNanos, st.MemoryPeakBytes, err = cg.counters(h.uid, h.inst); err != nil {
			r.logger.Warn("cannot read the counters of an exited container", "pod_uid", h.uid, "container_id", shortID(in.id), "error", err)
			continue
		}
		r.mu.Lock()
		r.held[in.id] = h
		r.mu.Unlock()
		out = append(out, st)
	}
	return out, nil
}

// findInstance finds the container whose instance cgroup h is.
func findInstance(pods map[string]*podContainers, h heldCgroup) (*podContainers, instance, bool) {
	pc, ok := pods[h.uid]
	if !ok {
		return nil, instance{}, false
	}
	for _, in := range pc.all() {
		if instanceName(in.name, in.restarts) == h.inst {
			return pc, in, true
		}
	}
	return nil, instance{}, false
}

// ReleaseFinished removes the parents of the exited containers whose last
// window the agent recorded; see runtime.Runtime.
func (r *Runtime) ReleaseFinished(_ context.Context, ids []string) error {
	var errs []error
	for _, id := range ids {
		r.mu.Lock()
		h, ok := r.held[id]
		delete(r.held, id)
		r.mu.Unlock()
		if ok {
			errs = append(errs, r.removeHeld(h))
		}
	}
	return errors.Join(errs...)
}

func (r *Runtime) removeHeld(h heldCgroup) error {
	return r.cgroups.remove(h.uid, h.inst)
}

// releaseInstance removes the parent of an instance that is started again,
// so that its counters start from zero; what was not recorded of its last
// run is lost.
func (r *Runtime) releaseInstance(uid string, in instance) error {
	if r.cgroups == nil || !validUID.MatchString(uid) {
		return nil
	}
	r.mu.Lock()
	delete(r.held, in.id)
	r.mu.Unlock()
	return r.cgroups.remove(uid, instanceName(in.name, in.restarts))
}

// removePodCgroups removes a killed pod's cgroups.
func (r *Runtime) removePodCgroups(uid string) error {
	if r.cgroups == nil || !validUID.MatchString(uid) {
		return nil
	}
	r.mu.Lock()
	for id, h := range r.held {
		if h.uid == uid {
			delete(r.held, id)
		}
	}
	r.mu.Unlock()
	return r.cgroups.remove(uid)
}

// hasPodCgroups reports whether a pod has cgroups left.
func (r *Runtime) hasPodCgroups(uid string) bool {
	if r.cgroups == nil || !validUID.MatchString(uid) {
		return false
	}
	_, err := os.Stat(r.cgroups.dir(r.cgroups.cpu, uid))
	return err == nil
}

// sweepCgroups removes, at start, the cgroups of the pods and instances
// that have no container left: a pod killed while the agent was away, or
// an agent that stopped before it could remove them.
func (r *Runtime) sweepCgroups(ctx context.Context) error {
	cg := r.cgroups
	if cg == nil {
		return nil
	}
	uids, err := cg.pods()
	if err != nil || len(uids) == 0 {
		return err
	}
	pods, err := r.listPods(ctx, "")
	if err != nil {
		return err
	}
	var errs []error
	for _, uid := range uids {
		if _, ok := pods[uid]; !ok || !validUID.MatchString(uid) {
			errs = append(errs, cg.remove(uid))
			continue
		}
		insts, err := cg.instances(uid)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, inst := range insts {
			if _, _, ok := findInstance(pods, heldCgroup{uid, inst}); !ok {
				errs = append(errs, cg.remove(uid, inst))
			}
		}
	}
	return errors.Join(errs...)
}

// closeCgroups removes the runtime's own cgroup where no pod has cgroups
// in it any more (the last pod was killed); rmdir leaves a cgroup that
// has children.
func (r *Runtime) closeCgroups() {
	if r.cgroups == nil {
		return
	}
	for _, mnt := range r.cgroups.mounts {
		syscall.Rmdir(r.cgroups.dir(mnt))
	}
}
