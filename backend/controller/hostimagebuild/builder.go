package hostimagebuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/hostimages"
	"github.com/berthpaas/berth/hostimage"
)

// NodeLayerRef is the ostree-layers ref that holds Berth itself
// (/usr/bin/berth): the builder commits the master's own binary there
// before the builds that name it.
const NodeLayerRef = "berth/node"

// Defaults.
const (
	DefaultTimeout       = 2 * time.Hour
	DefaultCheckInterval = time.Minute
	// pollInterval is how often the builder looks at the queue and at
	// cancel requests even without notifications (one may be lost while
	// the listening connection is re-established).
	pollInterval = 5 * time.Second
)

// Store is what the builder needs of the host image store.
type Store interface {
	ClaimNext(ctx context.Context) (*hostimages.Build, error)
	GetBuild(ctx context.Context, name string) (hostimages.Build, error)
	ListBuilds(ctx context.Context, f hostimages.BuildFilter) ([]hostimages.Build, error)
	CreateBuild(ctx context.Context, req hostimages.BuildRequest) (hostimages.Build, error)
	LastSucceeded(ctx context.Context, hostImage string) (*hostimages.Build, error)
	Progress(ctx context.Context, id int64, runner, inputHash, ref string) error
	Finish(ctx context.Context, b hostimages.Build) error
	AppendLog(ctx context.Context, buildID, offset int64, data []byte) error
	AbandonRunning(ctx context.Context, why string) (int64, error)
	GetDefinition(ctx context.Context, name string) (hostimages.Definition, error)
	ListDefinitions(ctx context.Context) ([]hostimages.Definition, error)
	GetRevision(ctx context.Context, name string, revision int64) (hostimages.Revision, error)
	SetChecked(ctx context.Context, name string, at time.Time) error
	Subscribe(ctx context.Context) <-chan hostimages.Event
}

// Config sets a builder up.
type Config struct {
	Store Store
	// Dir holds the OSTree repository (Dir/repo, served to hosts), the
	// package cache (Dir/cache) and the builds' scratch space (Dir/work).
	Dir     string
	Runners hostimage.RunnerConfig
	GPG     hostimage.GPG
	// Timeout bounds one build (DefaultTimeout when zero).
	Timeout time.Duration
	// Parallel is how many builds (of different definitions) run at once;
	// default 1.
	Parallel int
	// BerthBinary is committed as NodeLayerRef; default the running
	// program.
	BerthBinary string
	// CheckInterval is how often scheduled rebuilds are looked for.
	CheckInterval time.Duration
	Basearch      string
	Logger        *slog.Logger
	Now           func() time.Time
}

// RepoDir is where a builder configured with dir keeps the repository.
func RepoDir(dir string) string { return filepath.Join(dir, "repo") }

// Builder runs host image builds in the master that holds the election:
// the queued builds, one at a time per definition, each bounded by a time
// limit and stopped by a cancel; and the trigger, which queues a build
// when a definition's inputs changed (an edit, new packages).
type Builder struct {
	cfg  Config
	log  *slog.Logger
	repo *hostimage.Repo

	layerMu   sync.Mutex
	layerSeen string // the binary last committed as the layer ("path size mtime"), guarded by layerMu

	mu       sync.Mutex
	running  map[string]*run // by build name, guarded by mu
	checking map[string]bool // definitions whose inputs are being compared, guarded by mu
	wg       sync.WaitGroup
}

// run is a build in progress.
type run struct {
	cancel    context.CancelCauseFunc
	hostImage string
}

// errCancelRequested is the cause of a build stopped by a cancel request.
var errCancelRequested = errors.New("cancel requested")

// New returns a builder; Run starts it.
func New(cfg Config) *Builder {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 1
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = DefaultCheckInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Builder{
		cfg: cfg, log: cfg.Logger.With("controller", "hostimagebuild"),
		running: map[string]*run{}, checking: map[string]bool{},
	}
}

// Run builds until ctx ends, then stops the builds it runs (they end
// Failed: the master stopped) and returns once they have.
func (b *Builder) Run(ctx context.Context) {
	defer b.wg.Wait()
	repo, err := hostimage.OpenRepo(ctx, RepoDir(b.cfg.Dir), b.cfg.GPG)
	if err != nil {
		b.log.Error("host image builds are off: the OSTree repository cannot be opened", "error", err)
		return
	}
	b.repo = repo
	if n, err := b.cfg.Store.AbandonRunning(ctx, "the master that ran this build stopped before it ended"); err != nil {
		b.log.Warn("cannot end the builds of a previous leader", "error", err)
	} else if n > 0 {
		b.log.Info("ended builds a previous leader left running", "builds", n)
	}
	events := b.cfg.Store.Subscribe(ctx)
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	check := time.NewTicker(b.cfg.CheckInterval)
	defer check.Stop()
	done := make(chan struct{}, 16)
	b.dispatch(ctx, done)
	b.checkSchedules(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-events:
			switch e.Kind {
			case "queue":
				b.dispatch(ctx, done)
			case "cancel":
				b.cancelIfRequested(ctx, e.Name)
			case "edit":
				b.trigger(ctx, e.Name, berthv1.BuildReasonEdit)
			}
		case <-done:
			b.dispatch(ctx, done)
		case <-poll.C:
			b.dispatch(ctx, done)
			b.pollCancels(ctx)
		case <-check.C:
			b.checkSchedules(ctx)
		}
	}
}

// dispatch starts queued builds while slots are free.
func (b *Builder) dispatch(ctx context.Context, done chan<- struct{}) {
	for {
		b.mu.Lock()
		free := len(b.running) < b.cfg.Parallel
		b.mu.Unlock()
		if !free || ctx.Err() != nil {
			return
		}
		build, err := b.cfg.Store.ClaimNext(ctx)
		if err != nil {
			if ctx.Err() == nil {
				b.log.Warn("cannot claim a queued build", "error", err)
			}
			return
		}
		if build == nil {
			return
		}
		bctx, cancel := context.WithCancelCause(ctx)
		b.mu.Lock()
		b.running[build.Name] = &run{cancel: cancel, hostImage: build.HostImage}
		b.mu.Unlock()
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer func() {
				b.mu.Lock()
				delete(b.running, build.Name)
				b.mu.Unlock()
				cancel(nil)
				select {
				case done <- struct{}{}:
				default:
				}
			}()
			b.build(bctx, *build)
		}()
	}
}

// cancelIfRequested stops a running build whose cancel was asked.
func (b *Builder) cancelIfRequested(ctx context.Context, name string) {
	b.mu.Lock()
	r, ok := b.running[name]
	b.mu.Unlock()
	if !ok {
		return
	}
	build, err := b.cfg.Store.GetBuild(ctx, name)
	if err == nil && build.CancelRequested {
		b.log.Info("cancelling build", "build", name)
		r.cancel(errCancelRequested)
	}
}

func (b *Builder) pollCancels(ctx context.Context) {
	b.mu.Lock()
	names := make([]string, 0, len(b.running))
	for n := range b.running {
		names = append(names, n)
	}
	b.mu.Unlock()
	for _, n := range names {
		b.cancelIfRequested(ctx, n)
	}
}

// build runs one claimed build to its end and records it.
func (b *Builder) build(ctx context.Context, build hostimages.Build) {
	log := b.log.With("build", build.Name)
	logw := newLogWriter(b.cfg.Store, build.ID, log)
	fmt.Fprintf(logw, "==> build %s of %s revision %d (%s, asked by %s)\n", build.Name, build.HostImage, build.Revision, build.Reason, orSomeone(build.RequestedBy))
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, b.cfg.Timeout, fmt.Errorf("the build took longer than its limit of %v", b.cfg.Timeout))
	defer cancelTimeout()
	start := b.cfg.Now()
	out, err := b.compose(ctx, build, logw)
	b.finish(ctx, build, out, err, logw, start)
}

func orSomeone(who string) string {
	if who == "" {
		return "the trigger"
	}
	return who
}

// compose prepares and runs the build's Job.
func (b *Builder) compose(ctx context.Context, build hostimages.Build, logw *logWriter) (*hostimage.Outcome, error) {
	rev, err := b.cfg.Store.GetRevision(ctx, build.HostImage, build.Revision)
	if err != nil {
		return nil, err
	}
	prev, err := b.cfg.Store.LastSucceeded(ctx, build.HostImage)
	if err != nil {
		return nil, err
	}
	if err := b.ensureNodeLayer(ctx, rev.Files, rev.Treefile, logw); err != nil {
		return nil, err
	}
	job := b.job(build.Name, rev, build.Number)
	job.Force, job.Log = build.Force, logw
	if prev != nil {
		job.PreviousInputHash = prev.InputHash
	}
	job.OnInputs = func(runner, hash, ref string) {
		if err := b.cfg.Store.Progress(ctx, build.ID, runner, hash, ref); err != nil {
			b.log.Warn("cannot record a build's inputs", "build", build.Name, "error", err)
		}
	}
	return hostimage.Compose(ctx, job)
}

func (b *Builder) job(name string, rev hostimages.Revision, number int64) hostimage.Job {
	return hostimage.Job{
		Files: rev.Files, Main: rev.Treefile, Number: number, Repo: b.repo,
		WorkDir:  filepath.Join(b.cfg.Dir, "work", name),
		CacheDir: filepath.Join(b.cfg.Dir, "cache"), Runners: b.cfg.Runners, Basearch: b.cfg.Basearch, Now: b.cfg.Now,
	}
}

// finish records how a build ended.
func (b *Builder) finish(ctx context.Context, build hostimages.Build, out *hostimage.Outcome, err error, logw *logWriter, start time.Time) {
	rec := build
	if out != nil {
		rec.Runner, rec.InputHash, rec.Ref = out.Runner, out.InputHash, out.Ref
	}
	switch {
	case err == nil && out.NoChanges:
		prev, perr := b.cfg.Store.LastSucceeded(context.WithoutCancel(ctx), build.HostImage)
		rec.Phase, rec.NoChanges = berthv1.BuildSucceeded, true
		if perr == nil && prev != nil {
			rec.Message = fmt.Sprintf("no changes since build %s", prev.Name)
			rec.Commit, rec.Parent, rec.Version = prev.Commit, prev.Parent, prev.Version
			rec.Packages, rec.PackageCount = prev.Packages, prev.PackageCount
			rec.CommitSize, rec.UnpackedSize, rec.DeltaSize = prev.CommitSize, prev.UnpackedSize, prev.DeltaSize
		} else {
			rec.Message = "no changes since the previous build"
		}
	case err == nil:
		r := out.Result
		rec.Phase = berthv1.BuildSucceeded
		rec.Commit, rec.Parent, rec.Version = r.Commit, r.Parent, r.Version
		rec.Packages, rec.PackageCount = r.Packages, len(r.Packages)
		rec.CommitSize, rec.UnpackedSize, rec.DeltaSize = r.Sizes.Stored, r.Sizes.Unpacked, r.DeltaSize
		if r.Unchanged {
			rec.NoChanges = true
			rec.Message = "the composed tree is the one on the ref: the ref stays"
		}
	case errors.Is(context.Cause(ctx), errCancelRequested):
		rec.Phase, rec.Message = berthv1.BuildCancelled, "cancelled"
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		rec.Phase, rec.Message = berthv1.BuildFailed, context.Cause(ctx).Error()
	case ctx.Err() != nil:
		rec.Phase, rec.Message = berthv1.BuildFailed, "the master stopped during the build"
	default:
		rec.Phase, rec.Message = berthv1.BuildFailed, err.Error()
	}
	took := b.cfg.Now().Sub(start).Round(100 * time.Millisecond)
	switch {
	case rec.Phase == berthv1.BuildSucceeded && rec.Message != "":
		fmt.Fprintf(logw, "==> Succeeded in %v: %s\n", took, rec.Message)
	case rec.Phase == berthv1.BuildSucceeded:
		fmt.Fprintf(logw, "==> Succeeded in %v: %s %s is %s\n", took, rec.Ref, rec.Version, rec.Commit)
	default:
		fmt.Fprintf(logw, "==> %s after %v: %s\n", rec.Phase, took, rec.Message)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	logw.Close(rctx)
	if err := b.cfg.Store.Finish(rctx, rec); err != nil {
		b.log.Error("cannot record the end of a build", "build", build.Name, "error", err)
		return
	}
	b.log.Info("build ended", "build", build.Name, "phase", rec.Phase, "commit", rec.Commit, "took", took)
}

// ensureNodeLayer commits the master's binary as NodeLayerRef when the
// definition names that layer and the binary changed since it was last
// committed.
func (b *Builder) ensureNodeLayer(ctx context.Context, files hostimage.Files, main string, logw *logWriter) error {
	def, err := hostimage.LoadFiles(files, main, hostimage.LoadOptions{Basearch: b.cfg.Basearch})
	if err != nil || !slices.Contains(def.Treefile.OstreeLayers, NodeLayerRef) {
		return nil // Compose reports what is wrong with the definition
	}
	bin := b.cfg.BerthBinary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return err
		}
	}
	info, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("the berth binary for %s: %w", NodeLayerRef, err)
	}
	seen := fmt.Sprintf("%s %d %d", bin, info.Size(), info.ModTime().UnixNano())
	b.layerMu.Lock()
	defer b.layerMu.Unlock()
	if b.layerSeen == seen {
		return nil
	}
	tmp, err := os.MkdirTemp(b.cfg.Dir, "node-layer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Join(tmp, "usr", "bin"), 0o755); err != nil {
		return err
	}
	if err := copyFile(bin, filepath.Join(tmp, "usr", "bin", "berth"), 0o755); err != nil {
		return err
	}
	if logw != nil {
		fmt.Fprintf(logw, "==> committing %s (/usr/bin/berth from %s)\n", NodeLayerRef, bin)
	}
	if _, err := b.repo.CommitLayer(ctx, NodeLayerRef, tmp, "berth node agent"); err != nil {
		return fmt.Errorf("commit %s: %w", NodeLayerRef, err)
	}
	b.layerSeen = seen
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
