package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	dockerclient "github.com/docker/docker/client"

	"github.com/berthpaas/berth/backend/node"
	"github.com/berthpaas/berth/client"
)

// What the tests observe to show that something did NOT happen (a
// container stopped, a duplicate started, a restart under
// restartPolicy Never): the Docker engine's event stream, which records
// every change however brief, for as long as the agent's own clock (its
// heartbeats, posted to the API) shows it has had its chances to do wrong.

// Container events: any change to what runs, and a start.
var (
	lifecycleActions = []events.Action{
		events.ActionCreate, events.ActionStart, events.ActionRestart, events.ActionDie,
		events.ActionKill, events.ActionStop, events.ActionDestroy, events.ActionOOM,
	}
	startActions = []events.Action{events.ActionCreate, events.ActionStart, events.ActionRestart}
)

// containerEvents records the events of the containers with a label, from
// a moment on.
type containerEvents struct {
	what    string
	changed chan struct{} // closed at the first event
	mu      sync.Mutex
	seen    []string // guarded by mu: "action name (id)"
	err     error    // guarded by mu: why the stream ended early
}

// watchContainers records, until the test ends, the events among actions
// since since of the containers labelled label (key=value).
func watchContainers(t *testing.T, cli *dockerclient.Client, label string, since time.Time, actions []events.Action) *containerEvents {
	t.Helper()
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	args := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)), filters.Arg("label", label))
	for _, a := range actions {
		args.Add("event", string(a))
	}
	msgs, errs := cli.Events(ctx, events.ListOptions{
		Since:   fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()),
		Filters: args,
	})
	e := &containerEvents{what: label, changed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case m := <-msgs:
				e.mu.Lock()
				if len(e.seen) == 0 {
					close(e.changed)
				}
				e.seen = append(e.seen, fmt.Sprintf("%s %s (%.12s)", m.Action, m.Actor.Attributes["name"], m.Actor.ID))
				e.mu.Unlock()
			case err := <-errs:
				if ctx.Err() == nil {
					e.mu.Lock()
					e.err = err
					e.mu.Unlock()
				}
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// none fails t if any container changed since the watch began.
func (e *containerEvents) none(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		t.Errorf("the Docker event stream of %s ended: %v", e.what, e.err)
	}
	if len(e.seen) > 0 {
		t.Errorf("containers of %s changed: %s", e.what, strings.Join(e.seen, "; "))
	}
}

// heartbeatsFor is how many heartbeats of an agent, counted from one it
// has posted, span k of its resyncs: both run on the agent's clock, every
// DefaultHeartbeatInterval and DefaultResyncInterval from its start.
func heartbeatsFor(k int) int {
	return int((time.Duration(k)*node.DefaultResyncInterval+node.DefaultHeartbeatInterval-1)/node.DefaultHeartbeatInterval) + 1
}

// waitHeartbeats waits until the agent of node has posted n heartbeats
// later than since, and returns the time of the last. A heartbeat is a
// renewal of the node's lease (kube-node-lease/NAME), as the kubelet's:
// the agent writes its Node only when its status changes. out is the
// agent's output, for a failure.
func (c *podCluster) waitHeartbeats(name string, since time.Time, n int, out fmt.Stringer) time.Time {
	c.t.Helper()
	var beats []time.Time
	timeout := 3*time.Duration(n)*node.DefaultHeartbeatInterval + 30*time.Second
	ok := waitFor(timeout, func() bool {
		var lease coordinationv1.Lease
		if err := c.api.Get(c.t.Context(), client.Leases, "kube-node-lease", name, &lease); err != nil || lease.Spec.RenewTime == nil {
			return false
		}
		if at := lease.Spec.RenewTime.Time; at.After(since) && !slices.ContainsFunc(beats, at.Equal) {
			beats = append(beats, at)
		}
		return len(beats) >= n
	})
	if !ok {
		c.t.Fatalf("node %q renewed its lease %d times after %s within %v, want %d\nagent output:\n%s",
			name, len(beats), since.Format(time.RFC3339), timeout, n, out)
	}
	return beats[len(beats)-1]
}
