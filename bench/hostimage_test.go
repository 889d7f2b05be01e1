package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthpaas/berth/hostimage"
	"github.com/berthpaas/berth/hostimage/hostimagetest"
)

const (
	targetNoChange      = time.Second
	targetDeltaFraction = 0.05
)

// composer composes definitions into one OSTree repository, numbering
// the builds as the master does.
type composer struct {
	b       *testing.B
	dir     string
	repo    *hostimage.Repo
	runners hostimage.RunnerConfig
	n       int64
}

func newComposer(b *testing.B, runners hostimage.RunnerConfig) *composer {
	b.Helper()
	for _, tool := range []string{"ostree", "mmdebstrap", "bwrap", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Fatalf("%s is not installed: scripts/setup installs what host image builds need", tool)
		}
	}
	dir := b.TempDir()
	repo, err := hostimage.OpenRepo(b.Context(), filepath.Join(dir, "repo"), hostimage.GPG{})
	if err != nil {
		b.Fatal(err)
	}
	return &composer{b: b, dir: dir, repo: repo, runners: runners}
}

func (c *composer) cacheDir() string { return filepath.Join(c.dir, "cache") }

// compose builds files after the build whose input hash is previous and
// returns its outcome and how long it took.
func (c *composer) compose(ctx context.Context, files hostimage.Files, main, previous string) (*hostimage.Outcome, time.Duration) {
	c.b.Helper()
	c.n++
	var log bytes.Buffer
	start := time.Now()
	out, err := hostimage.Compose(ctx, hostimage.Job{
		Files: files, Main: main, Number: c.n, PreviousInputHash: previous, Repo: c.repo,
		WorkDir: filepath.Join(c.dir, "work"), CacheDir: c.cacheDir(), Runners: c.runners, Log: &log,
	})
	took := time.Since(start)
	if err != nil {
		c.b.Fatalf("compose %s (build %d): %v\n%s", main, c.n, err, log.String())
	}
	return out, took
}

// oneFileChange composes files with the node's configuration changed,
// after out, and returns the size of the static delta from out's commit
// and the new commit's stored size.
func (c *composer) oneFileChange(ctx context.Context, files hostimage.Files, main string, out *hostimage.Outcome) (delta, stored int64) {
	c.b.Helper()
	changed := make(hostimage.Files, len(files))
	copy(changed, files)
	found := false
	for i := range changed {
		if changed[i].Path == "node.env" {
			changed[i].Content += "# changed by the benchmark\nBERTH_BENCH=1\n"
			found = true
		}
	}
	if !found {
		c.b.Fatalf("%s adds no node.env to change", main)
	}
	next, _ := c.compose(ctx, changed, main, out.InputHash)
	if next.NoChanges || next.Result.Parent != out.Result.Commit {
		c.b.Fatalf("a one-file change composed no commit on %s (no changes %v, parent %s)", out.Result.Commit, next.NoChanges, next.Result.Parent)
	}
	return next.Result.DeltaSize, next.Result.Sizes.Stored
}

// BenchmarkHostImageRebuild composes a busybox-based host from a local
// apt repository, then measures what an operator waits for most often: a
// rebuild whose inputs did not change (the input hash says so; target
// under 1 s), and the static delta a host pulls after a one-file change,
// as a fraction of the full commit (target ≤ 5%).
func BenchmarkHostImageRebuild(b *testing.B) {
	ctx := b.Context()
	c := newComposer(b, hostimagetest.Runners())
	sources := hostimagetest.AptRepo(b, b.TempDir(), hostimagetest.Busybox(),
		hostimagetest.Simple("berth-test-a", "1.0"), hostimagetest.Simple("berth-test-b", "2.0"))
	files := hostimagetest.Definition(sources, "berth-test-busybox", "berth-test-a", "berth-test-b")
	b.ResetTimer()

	first, firstTook := c.compose(ctx, files, "host.yaml", "")
	again, noChange := c.compose(ctx, files, "host.yaml", first.InputHash)
	if !again.NoChanges {
		b.Fatalf("an unchanged definition was composed again")
	}
	delta, stored := c.oneFileChange(ctx, files, "host.yaml", first)
	b.StopTimer()

	fraction := float64(delta) / float64(stored)
	b.ReportMetric(ms(firstTook), "compose_ms")
	b.ReportMetric(ms(noChange), "nochange_ms")
	b.ReportMetric(fraction, "delta_fraction")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("hostimage-rebuild: busybox host (%d packages): compose %.0fms; unchanged rebuild decided in %.0fms (target < %v) %s\n",
		len(first.Result.Packages), ms(firstTook), ms(noChange), targetNoChange, verdict(noChange < targetNoChange))
	fmt.Printf("hostimage-rebuild: one-file change: static delta %d bytes of a %d-byte commit, %.2f%% (target ≤ %.0f%%) %s\n",
		delta, stored, 100*fraction, 100*targetDeltaFraction, verdict(fraction <= targetDeltaFraction))
}
