package docker

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// ostreeBootedPath exists on hosts booted from an OSTree deployment.
const ostreeBootedPath = "/run/ostree-booted"

// Info describes the host as the Docker engine sees it; see
// runtime.Runtime.
func (r *Runtime) Info(ctx context.Context) (runtime.NodeInfo, error) {
	info, err := r.cli.Info(ctx)
	if err != nil {
		return runtime.NodeInfo{}, fmt.Errorf("docker info: %w", err)
	}
	images, err := r.cli.ImageList(ctx, image.ListOptions{})
	if err != nil {
		return runtime.NodeInfo{}, fmt.Errorf("listing images: %w", err)
	}
	var tags []string
	for _, img := range images {
		for _, tag := range img.RepoTags {
			if tag != "<none>:<none>" {
				tags = append(tags, tag)
			}
		}
	}
	slices.Sort(tags)
	return runtime.NodeInfo{
		Hostname:         info.Name,
		CPUs:             info.NCPU,
		MemoryBytes:      info.MemTotal,
		KernelVersion:    info.KernelVersion,
		OSImage:          info.OperatingSystem,
		OperatingSystem:  info.OSType,
		Architecture:     info.Architecture,
		RuntimeVersion:   "docker://" + info.ServerVersion,
		Images:           tags,
		BootedDeployment: BootedDeployment(ctx),
	}, nil
}

// BootedDeployment names the OSTree deployment the host booted, as the
// starred line of `ostree admin status` shows it ("<osname> <checksum>.<serial>");
// "" on a host not booted from OSTree or when ostree cannot tell.
func BootedDeployment(ctx context.Context) string {
	if _, err := os.Stat(ostreeBootedPath); err != nil {
		return ""
	}
	out, err := exec.CommandContext(ctx, "ostree", "admin", "status").Output()
	if err != nil {
		return ""
	}
	return parseOstreeStatus(string(out))
}

func parseOstreeStatus(out string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "* "); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// ListPods returns every pod with containers on this host; see
// runtime.Runtime. App containers that have no Docker container (their
// image could not be had) show the waiting state of the last sync.
func (r *Runtime) ListPods(ctx context.Context) ([]runtime.PodStatus, error) {
	pods, err := r.listPods(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]runtime.PodStatus, 0, len(pods))
	for _, uid := range slices.Sorted(maps.Keys(pods)) {
		st, err := r.observePod(ctx, pods[uid])
		if cerrdefs.IsNotFound(err) {
			continue // removed since it was listed
		}
		if err != nil {
			return nil, err
		}
		r.addWaiting(&st)
		out = append(out, st)
	}
	return out, nil
}

// addWaiting overlays the remembered waiting states on an observed pod.
func (r *Runtime) addWaiting(st *runtime.PodStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps, ok := r.pods[st.UID]
	if !ok || len(ps.waiting) == 0 {
		return
	}
	seen := map[string]int{}
	for i, c := range st.Containers {
		seen[c.Name] = i
	}
	for _, name := range slices.Sorted(maps.Keys(ps.waiting)) {
		if i, ok := seen[name]; ok {
			st.Containers[i] = ps.waiting[name]
		} else {
			st.Containers = append(st.Containers, ps.waiting[name])
		}
	}
}
