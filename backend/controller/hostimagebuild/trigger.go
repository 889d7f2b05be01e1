package hostimagebuild

import (
	"context"
	"fmt"
	"path/filepath"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/hostimages"
	"github.com/berthpaas/berth/hostimage"
)

// trigger queues a build of a definition whose inputs differ from its
// last successful build's: after an edit, and on its schedule, when the
// package sources publish new packages. A definition never built is left
// to a person to build first; one with a build queued of its latest
// revision needs no other. The inputs are compared in the background (the
// package sources may be slow to answer).
func (b *Builder) trigger(ctx context.Context, name, reason string) {
	b.mu.Lock()
	if b.checking[name] {
		b.mu.Unlock()
		return
	}
	b.checking[name] = true
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer func() {
			b.mu.Lock()
			delete(b.checking, name)
			b.mu.Unlock()
		}()
		if err := b.triggerOnce(ctx, name, reason); err != nil && ctx.Err() == nil {
			b.log.Warn("cannot tell whether a host image's inputs changed", "hostimage", name, "reason", reason, "error", err)
		}
	}()
}

func (b *Builder) triggerOnce(ctx context.Context, name, reason string) error {
	def, err := b.cfg.Store.GetDefinition(ctx, name)
	if err != nil {
		return err
	}
	defer func() { _ = b.cfg.Store.SetChecked(context.WithoutCancel(ctx), name, b.cfg.Now()) }()
	prev, err := b.cfg.Store.LastSucceeded(ctx, name)
	if err != nil || prev == nil {
		return err
	}
	builds, err := b.cfg.Store.ListBuilds(ctx, hostimages.BuildFilter{HostImage: name, Limit: 20})
	if err != nil {
		return err
	}
	for _, q := range builds {
		if q.Phase == berthv1.BuildQueued && q.Revision == def.Revision {
			return nil
		}
	}
	rev, err := b.cfg.Store.GetRevision(ctx, name, def.Revision)
	if err != nil {
		return err
	}
	if err := b.ensureNodeLayer(ctx, rev.Files, rev.Treefile, nil); err != nil {
		return err
	}
	job := b.job(fmt.Sprintf("%s-check", name), rev, 0)
	job.WorkDir = filepath.Join(b.cfg.Dir, "work", "check-"+name)
	job.HashOnly = true
	out, err := hostimage.Compose(ctx, job)
	if err != nil {
		return err
	}
	if out.InputHash == prev.InputHash {
		b.log.Debug("inputs unchanged: no build", "hostimage", name, "reason", reason)
		return nil
	}
	build, err := b.cfg.Store.CreateBuild(ctx, hostimages.BuildRequest{HostImage: name, Reason: reason})
	if err != nil {
		return err
	}
	b.log.Info("inputs changed: build queued", "hostimage", name, "reason", reason, "build", build.Name)
	return nil
}

// checkSchedules triggers the definitions whose rebuild interval passed
// since they were last checked.
func (b *Builder) checkSchedules(ctx context.Context) {
	defs, err := b.cfg.Store.ListDefinitions(ctx)
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn("cannot list host images for their schedules", "error", err)
		}
		return
	}
	now := b.cfg.Now()
	for _, d := range defs {
		if d.RebuildInterval > 0 && now.Sub(d.Checked) >= d.RebuildInterval {
			b.trigger(ctx, d.Name, berthv1.BuildReasonSchedule)
		}
	}
}
