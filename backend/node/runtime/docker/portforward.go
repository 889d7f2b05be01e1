package docker

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/node/runtime"
)

// dialTimeout bounds the connection to a pod's port; the pod's loopback
// answers at once or not at all.
const dialTimeout = 10 * time.Second

// DialPort connects to port on the loopback address of the pod's network
// namespace, which the infra container holds; see runtime.Runtime. As
// containerd's CRI port forward, it enters that namespace (the infra's
// process's /proc/PID/ns/net) to make the socket, so a server listening
// only on the pod's localhost answers, and nothing of the host's network
// (its own loopback, its firewall rules between projects) is involved.
// The agent must run in the host's PID namespace with CAP_SYS_ADMIN: as
// root on the host, as Berth's node unit does.
func (r *Runtime) DialPort(ctx context.Context, uid string, port uint16) (net.Conn, error) {
	pc, err := r.listPod(ctx, uid)
	if err != nil {
		return nil, err
	}
	if len(pc.infra) == 0 {
		return nil, fmt.Errorf("pod %q has no network namespace here: %w", uid, runtime.ErrNotFound)
	}
	info, err := r.cli.ContainerInspect(ctx, pc.infra[0].id)
	if err != nil {
		return nil, fmt.Errorf("infra container of pod %q: %w", uid, engineError(err))
	}
	if info.State == nil || !info.State.Running || info.State.Pid == 0 {
		return nil, errdefs.BadRequest("pod %q is not running", uid)
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, err := dialInNetns(ctx, info.State.Pid, port)
	if err != nil {
		return nil, fmt.Errorf("port %d of pod %q: %w", port, uid, err)
	}
	return conn, nil
}
