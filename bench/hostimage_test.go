package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/hostimage"
	"github.com/berthpaas/berth/hostimage/hostimagetest"
	"github.com/berthpaas/berth/internal/testbin"
	ostreecompose "github.com/berthpaas/berth/ostree-compose"
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
	cache   string // default dir/cache
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

func (c *composer) cacheDir() string {
	if c.cache != "" {
		return c.cache
	}
	return filepath.Join(c.dir, "cache")
}

// compose builds files after the build whose input hash is previous and
// returns its outcome and how long it took.
func (c *composer) compose(ctx context.Context, files hostimage.Files, main, previous string) (*hostimage.Outcome, time.Duration) {
	c.b.Helper()
	var log bytes.Buffer
	return c.composeLog(ctx, files, main, previous, &log)
}

func (c *composer) composeLog(ctx context.Context, files hostimage.Files, main, previous string, log interface {
	io.Writer
	String() string
}) (*hostimage.Outcome, time.Duration) {
	c.b.Helper()
	c.n++
	start := time.Now()
	out, err := hostimage.Compose(ctx, hostimage.Job{
		Files: files, Main: main, Number: c.n, PreviousInputHash: previous, Repo: c.repo,
		WorkDir: filepath.Join(c.dir, "work"), CacheDir: c.cacheDir(), Runners: c.runners, Log: log,
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

// targetDebianOverhead bounds a Debian host's compose against mmdebstrap
// alone installing the same packages.
const targetDebianOverhead = 1.3

// BenchmarkDebianHostCompose composes Berth's Debian host
// (ostree-compose/berth-host-debian.yaml) from deb.debian.org, then runs
// a bare mmdebstrap of the same package set in the same run, and compares
// them (target ≤ 1.3×).
//
// What each side does:
//   - The compose: everything a build does. mmdebstrap with the
//     treefile's packages (the mode, variant, suite and sources files
//     below), with Berth's hooks: no documentation and no translations
//     but English unpacked (documentation: false, install-langs), dpkg
//     without fsync, the initramfs generated once, by dracut for any
//     machine (--no-hostonly, gzip -1) with OSTree's module; then the
//     treefile applied (the berth/node layer, add-files, units,
//     remove-files, postprocess in a sandbox), the package list read, the
//     OSTree commit into the archive repository hosts pull from (zlib
//     level 1, one syncfs), its sizes and the summary.
//   - The bare mmdebstrap: the same packages, mode, variant, suite and
//     sources files, nothing else: Debian's defaults, so the kernel's
//     postinst and dracut's trigger generate the initramfs as Debian does
//     (the figure says how many times), documentation and translations
//     unpacked, dpkg's fsync. No commit.
//
// Both take packages from the same cache, ~/.cache/berth/hostimage-test
// (test/hostboot keeps it too), filled by the first run on the machine,
// so that no package is downloaded by either side once it is full; both
// fetch the suites' indices from the mirror. The load average at each
// side's start and end is printed: the machine is shared, and a ratio
// means something only if the load was alike.
func BenchmarkDebianHostCompose(b *testing.B) {
	ctx := b.Context()
	root := hostimage.Mmdebstrap{Mode: "auto", Variant: "essential"}
	c := newComposer(b, hostimage.RunnerConfig{Root: root})
	cache, err := os.UserCacheDir()
	if err != nil {
		b.Fatal(err)
	}
	cache = filepath.Join(cache, "berth", "hostimage-test")
	var files hostimage.Files
	err = fs.WalkDir(ostreecompose.FS, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := fs.ReadFile(ostreecompose.FS, p)
		files = append(files, hostimage.File{Path: p, Content: string(data)})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	const main = "berth-host-debian.yaml"
	def, err := hostimage.LoadFiles(files, main, hostimage.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	// The host's berth/node layer, as a master commits it before a build.
	layer := filepath.Join(c.dir, "layer", "usr", "bin")
	if err := os.MkdirAll(layer, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := exec.Command("cp", testbin.Berth(b), filepath.Join(layer, "berth")).Run(); err != nil {
		b.Fatal(err)
	}
	if _, err := c.repo.CommitLayer(ctx, "berth/node", filepath.Join(c.dir, "layer"), "berth node agent"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()

	c.cache = cache
	composeLoad := loadAverage()
	phases := &phaseLog{start: time.Now()}
	out, composeTook := c.composeLog(ctx, files, main, "", phases)
	composeLoad += " → " + loadAverage()

	// Bare mmdebstrap: the same packages, mode, variant, suite and
	// sources files, the same cache, nothing else.
	srcDir := filepath.Join(c.dir, "sources")
	if err := os.MkdirAll(srcDir, 0o755); err != nil {
		b.Fatal(err)
	}
	var sourceFiles []string
	for _, p := range def.RepoFiles {
		data, _ := def.Content(p)
		if err := os.WriteFile(filepath.Join(srcDir, p), data, 0o644); err != nil {
			b.Fatal(err)
		}
		sourceFiles = append(sourceFiles, filepath.Join(srcDir, p))
	}
	data, _ := def.Content(def.RepoFiles[0])
	srcs, err := hostimage.ParseSources(data)
	if err != nil || len(srcs) == 0 || len(srcs[0].Suites) == 0 {
		b.Fatalf("%s: %v", def.RepoFiles[0], err)
	}
	suite := srcs[0].Suites[0] // the main suite, as the runner takes it
	target := filepath.Join(c.dir, "bare")
	archives := filepath.Join(cache, "apt-archives")
	// --verbose shows the maintainer scripts' output, where dracut says
	// each time it generates the initramfs; it changes nothing else.
	args := append([]string{"--verbose", "--mode=auto", "--variant=essential", "--include=" + strings.Join(def.Treefile.Packages, ","),
		`--setup-hook=mkdir -p "$1"/var/cache/apt/archives`, "--setup-hook=sync-in " + archives + " /var/cache/apt/archives",
		suite, target}, sourceFiles...)
	bareLoad := loadAverage()
	start := time.Now()
	bareLog, err := exec.CommandContext(ctx, "mmdebstrap", args...).CombinedOutput()
	if err != nil {
		b.Fatalf("mmdebstrap %v: %v\n%s", args, err, bareLog)
	}
	bareTook := time.Since(start)
	bareLoad += " → " + loadAverage()
	b.StopTimer()
	// Debian's dracut hooks say "dracut: Generating /boot/initrd.img-…".
	initramfs := strings.Count(string(bareLog), "Generating /boot/initrd.img")
	if images, _ := filepath.Glob(filepath.Join(target, "boot", "initrd.img-*")); len(images) == 0 || initramfs == 0 {
		b.Errorf("the bare mmdebstrap made no initramfs (%d said, %v): the two sides do not do the same work", initramfs, images)
	}
	_ = exec.Command("rm", "-rf", target).Run()

	ratio := composeTook.Seconds() / bareTook.Seconds()
	b.ReportMetric(composeTook.Seconds(), "compose_s")
	b.ReportMetric(bareTook.Seconds(), "mmdebstrap_s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("debian-host: %s (%d packages, %d files, %d MB unpacked, %d MB stored): compose %.0fs (load %s), bare mmdebstrap of the same packages %.0fs (load %s, initramfs generated %d times): %.2f× (target ≤ %.1f×) %s\n",
		out.Ref, len(out.Result.Packages), out.Result.Sizes.Files, out.Result.Sizes.Unpacked>>20, out.Result.Sizes.Stored>>20,
		composeTook.Seconds(), composeLoad, bareTook.Seconds(), bareLoad, initramfs, ratio,
		targetDebianOverhead, verdict(ratio <= targetDebianOverhead))
	fmt.Printf("debian-host: compose phases:\n%s", phases.summary(composeTook))
}

// loadAverage is the machine's one-minute load average.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}

// phaseLog keeps a build's log and when each of its steps (a "==> "
// line, dracut's run) began.
type phaseLog struct {
	bytes.Buffer
	start   time.Time
	partial []byte
	steps   []phase
}

type phase struct {
	at   time.Duration
	name string
}

func (p *phaseLog) Write(b []byte) (int, error) {
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		line := string(p.partial[:i])
		p.partial = p.partial[i+1:]
		if name, ok := strings.CutPrefix(line, "==> "); ok {
			p.steps = append(p.steps, phase{time.Since(p.start), name})
		} else if strings.HasPrefix(line, "dracut: generating") {
			p.steps = append(p.steps, phase{time.Since(p.start), line})
		}
	}
	return p.Buffer.Write(b)
}

// summary lists the steps with how long each took; the last one's time
// runs until total, and so holds the removal of the build's work
// directory too.
func (p *phaseLog) summary(total time.Duration) string {
	var out strings.Builder
	for i, s := range p.steps {
		end := total
		if i+1 < len(p.steps) {
			end = p.steps[i+1].at
		}
		name := s.name
		if i == len(p.steps)-1 {
			name += ", then removing the work directory"
		}
		fmt.Fprintf(&out, "  %6.1fs  %s\n", (end - s.at).Seconds(), name)
	}
	return out.String()
}
