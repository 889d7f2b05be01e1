// Package nodeupgrade keeps nodes in step with their host images: it
// tells each OSTree node which build it booted and whether a newer build
// of its host image exists (annotations that berth get nodes -o wide and
// the console show), and it drives the upgrades berth node upgrade asks
// for. It runs in the elected master (controller.RunAll).
//
//	berth node upgrade N ─► annotation berth.dev/upgrade: Pending
//	Pending   ─► cordon (spec.unschedulable; remembered, undone at the end)
//	Draining  ─► delete the node's pods (their controllers recreate them
//	             elsewhere) ... no pod left
//	Staging   ─► the node's agent pulls the commit from the master's
//	             repository and deploys it (ostree admin / rpm-ostree)
//	Rebooting ─► the agent reboots; the node comes back and reports the
//	             commit it booted
//	Succeeded ─► uncordon
//	Failed    ─► (any step, or a step past its time) the node stays
//	             cordoned; the message says why
package nodeupgrade

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/hostimages"
	"github.com/berthpaas/berth/backend/registry/generic"
)

// Component names the controller in audit entries and logs.
const Component = "nodeupgrade"

// Defaults of Options.
const (
	DefaultInterval     = 2 * time.Second
	DefaultDrainTimeout = 10 * time.Minute
	DefaultStageTimeout = 30 * time.Minute
	DefaultBootTimeout  = 30 * time.Minute
)

// Nodes is what the controller needs of the nodes registry.
type Nodes interface {
	List(ctx context.Context, ns string, opts generic.ListOptions) (runtime.Object, error)
	Update(ctx context.Context, ns, name string, kind generic.UpdateKind, newObject generic.ObjectFunc, opts metav1.UpdateOptions) (runtime.Object, error)
}

// Pods is what the controller needs of the pods registry.
type Pods interface {
	List(ctx context.Context, ns string, opts generic.ListOptions) (runtime.Object, error)
	Delete(ctx context.Context, ns, name string, opts metav1.DeleteOptions) (runtime.Object, error)
}

// Builds is what the controller needs of the host image store.
type Builds interface {
	ListBuilds(ctx context.Context, f hostimages.BuildFilter) ([]hostimages.Build, error)
}

// Options tune the controller; zero values take the defaults.
type Options struct {
	Interval     time.Duration
	DrainTimeout time.Duration
	StageTimeout time.Duration
	BootTimeout  time.Duration
	Now          func() time.Time
}

// Controller is the node upgrade controller.
type Controller struct {
	nodes  Nodes
	pods   Pods
	builds Builds
	log    *slog.Logger
	opts   Options
}

// New returns the controller.
func New(nodes Nodes, pods Pods, builds Builds, logger *slog.Logger, opts Options) *Controller {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.StageTimeout <= 0 {
		opts.StageTimeout = DefaultStageTimeout
	}
	if opts.BootTimeout <= 0 {
		opts.BootTimeout = DefaultBootTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Controller{nodes: nodes, pods: pods, builds: builds, log: logger.With("controller", Component), opts: opts}
}

// Run syncs every node each Interval until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	t := time.NewTicker(c.opts.Interval)
	defer t.Stop()
	for {
		if err := c.syncAll(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("cannot sync nodes with their host images", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Controller) syncAll(ctx context.Context) error {
	obj, err := c.nodes.List(ctx, "", generic.ListOptions{})
	if err != nil {
		return err
	}
	nodes := obj.(*v1.NodeList).Items
	var index *buildIndex
	for i := range nodes {
		n := &nodes[i]
		if berthv1.BootedCommit(n) == "" && n.Annotations[berthv1.AnnotationUpgrade] == "" && n.Annotations[berthv1.AnnotationHostImage] == "" {
			continue // not an OSTree host: nothing to say or do
		}
		if index == nil {
			if index, err = c.index(ctx); err != nil {
				return err
			}
		}
		if err := c.sync(ctx, n, index); err != nil && ctx.Err() == nil {
			c.log.Warn("cannot sync a node", "node", n.Name, "error", err)
		}
	}
	return nil
}

// buildIndex knows which build made a commit, and each host image's
// newest build that made one.
type buildIndex struct {
	byCommit map[string]hostimages.Build
	newest   map[string]hostimages.Build
}

func (c *Controller) index(ctx context.Context) (*buildIndex, error) {
	builds, err := c.builds.ListBuilds(ctx, hostimages.BuildFilter{Limit: 500})
	if err != nil {
		return nil, err
	}
	ix := &buildIndex{byCommit: map[string]hostimages.Build{}, newest: map[string]hostimages.Build{}}
	// Oldest first: the build that made a commit is the one that did not
	// find it unchanged; the last successful one of an image is its newest.
	for i := len(builds) - 1; i >= 0; i-- {
		b := builds[i]
		if b.Phase != berthv1.BuildSucceeded || b.Commit == "" {
			continue
		}
		if _, seen := ix.byCommit[b.Commit]; !seen || !b.NoChanges {
			ix.byCommit[b.Commit] = b
		}
		if !b.NoChanges {
			ix.newest[b.HostImage] = b
		}
	}
	return ix, nil
}

// sync brings one node's annotations and upgrade one step on.
func (c *Controller) sync(ctx context.Context, n *v1.Node, ix *buildIndex) error {
	booted := berthv1.BootedCommit(n)
	want := map[string]string{}
	if b, ok := ix.byCommit[booted]; ok {
		want[berthv1.AnnotationHostImage] = b.Name
		if newest, ok := ix.newest[b.HostImage]; ok && newest.Commit != booted {
			want[berthv1.AnnotationHostImageNewest] = newest.Name
		}
	}
	st := readState(n)
	next, cordon, err := c.step(ctx, n, st, booted)
	if err != nil {
		return err
	}
	changed := next != nil && !sameState(st, next)
	for _, k := range []string{berthv1.AnnotationHostImage, berthv1.AnnotationHostImageNewest} {
		if n.Annotations[k] != want[k] {
			changed = true
		}
	}
	if cordon != nil && n.Spec.Unschedulable != *cordon {
		changed = true
	}
	if !changed {
		return nil
	}
	_, err = c.nodes.Update(ctx, "", n.Name, generic.UpdateSpec, func(cur runtime.Object) (runtime.Object, error) {
		out := cur.DeepCopyObject().(*v1.Node)
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		for _, k := range []string{berthv1.AnnotationHostImage, berthv1.AnnotationHostImageNewest} {
			if want[k] == "" {
				delete(out.Annotations, k)
			} else {
				out.Annotations[k] = want[k]
			}
		}
		if next != nil {
			// The agent may have moved the upgrade on meanwhile: only a
			// state that is still the one read is replaced.
			if !sameState(readState(out), st) {
				return out, nil
			}
			data, err := json.Marshal(next)
			if err != nil {
				return nil, err
			}
			out.Annotations[berthv1.AnnotationUpgrade] = string(data)
		}
		if cordon != nil {
			out.Spec.Unschedulable = *cordon
		}
		return out, nil
	}, metav1.UpdateOptions{})
	if err == nil && next != nil && (st == nil || st.Phase != next.Phase) {
		c.log.Info("node upgrade", "node", n.Name, "phase", next.Phase, "build", next.Build, "message", next.Message)
	}
	return err
}

// step is what the master does for an upgrade in st's phase: the next
// state (nil: unchanged) and whether the node must be cordoned (nil:
// leave it).
func (c *Controller) step(ctx context.Context, n *v1.Node, st *berthv1.NodeUpgradeState, booted string) (*berthv1.NodeUpgradeState, *bool, error) {
	if st == nil {
		return nil, nil, nil
	}
	now := c.opts.Now()
	next := *st
	to := func(phase, msg string) (*berthv1.NodeUpgradeState, *bool, error) {
		next.Phase, next.Message, next.Since = phase, msg, metav1.NewTime(now)
		return &next, nil, nil
	}
	elapsed := now.Sub(st.Since.Time)
	switch st.Phase {
	case berthv1.UpgradePending:
		next.Cordoned = !n.Spec.Unschedulable
		next.Phase, next.Message, next.Since = berthv1.UpgradeDraining, "cordoned; deleting the node's pods", metav1.NewTime(now)
		yes := true
		return &next, &yes, nil
	case berthv1.UpgradeDraining:
		left, err := c.drain(ctx, n.Name, st.Force)
		if err != nil {
			return nil, nil, err
		}
		if left == 0 {
			return to(berthv1.UpgradeStaging, "drained; the node's agent stages the commit")
		}
		if elapsed > c.opts.DrainTimeout {
			return to(berthv1.UpgradeFailed, fmt.Sprintf("%d pods were still on the node after %v: the upgrade stopped, the node stays cordoned", left, c.opts.DrainTimeout))
		}
	case berthv1.UpgradeStaging:
		if elapsed > c.opts.StageTimeout {
			return to(berthv1.UpgradeFailed, fmt.Sprintf("the node's agent did not stage the commit within %v: is it running, and a version that upgrades?", c.opts.StageTimeout))
		}
	case berthv1.UpgradeRebooting:
		if booted == st.Target {
			next.Phase, next.Message, next.Since = berthv1.UpgradeSucceeded, "the node booted "+st.Build, metav1.NewTime(now)
			if st.Cordoned {
				no := false
				next.Message += "; uncordoned"
				return &next, &no, nil
			}
			return &next, nil, nil
		}
		if elapsed > c.opts.BootTimeout {
			return to(berthv1.UpgradeFailed, fmt.Sprintf("the node did not come back with %.12s within %v (it reports %.12s)", st.Target, c.opts.BootTimeout, booted))
		}
	}
	return nil, nil, nil
}

// drain deletes the node's pods that are not already going, and returns
// how many are left. Pods no controller owns are deleted only with force
// (the API refused the upgrade otherwise; one created since waits).
func (c *Controller) drain(ctx context.Context, node string, force bool) (int, error) {
	obj, err := c.pods.List(ctx, "", generic.ListOptions{Fields: fields.OneTermEqualSelector("spec.nodeName", node)})
	if err != nil {
		return 0, err
	}
	pods := obj.(*v1.PodList).Items
	left := 0
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed {
			continue
		}
		left++
		if p.DeletionTimestamp != nil || (!force && metav1.GetControllerOf(p) == nil) {
			continue
		}
		if _, err := c.pods.Delete(ctx, p.Namespace, p.Name, metav1.DeleteOptions{}); err != nil {
			c.log.Warn("cannot delete a pod of a node being drained", "node", node, "pod", p.Namespace+"/"+p.Name, "error", err)
		}
	}
	return left, nil
}

func readState(n *v1.Node) *berthv1.NodeUpgradeState {
	raw := n.Annotations[berthv1.AnnotationUpgrade]
	if raw == "" {
		return nil
	}
	var st berthv1.NodeUpgradeState
	if json.Unmarshal([]byte(raw), &st) != nil {
		return nil
	}
	return &st
}

func sameState(a, b *berthv1.NodeUpgradeState) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Phase == b.Phase && a.Target == b.Target && a.Since.Equal(&b.Since) && a.Message == b.Message && a.Cordoned == b.Cordoned
}
