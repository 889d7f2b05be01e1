package hostimage

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Build is one compose: a definition written to DefinitionDir, composed
// into Repo on the definition's ref.
type Build struct {
	Definition *Definition
	// DefinitionDir holds the definition's files (rpm-ostree reads its
	// treefile there, mmdebstrap its .sources files).
	DefinitionDir string
	Repo          *Repo
	// WorkDir is scratch space for this build alone; the runner removes
	// what it puts there.
	WorkDir string
	// CacheDir is kept from build to build (downloaded packages).
	CacheDir string
	// Number is the build's number for its definition; the version is
	// automatic-version-prefix.N, or Number when there is no prefix.
	Number    int64
	InputHash string
	// Log receives the build's log as it is written.
	Log io.Writer
	// Now is the build's clock (versions with dates, SOURCE_DATE_EPOCH).
	Now func() time.Time
}

func (b *Build) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// sourceDateEpoch makes package installation reproducible: mmdebstrap
// then writes no logs or caches that differ from run to run, so an
// unchanged package set gives an unchanged tree.
func (b *Build) sourceDateEpoch() int64 { return 0 }

// Result is what a compose made.
type Result struct {
	// Commit is the new commit; when Unchanged it is the ref's commit,
	// which the build left where it was.
	Commit    string
	Parent    string
	Unchanged bool
	Version   string
	Packages  []Package
	Sizes     Sizes
	// DeltaSize is the static delta from Parent ("" parent: 0).
	DeltaSize int64
}

// Runner composes definitions.
type Runner interface {
	// Name is "ostree" or "rpm-ostree".
	Name() string
	// Inputs are what the runner adds to the input hash: its kind, the
	// commits of the ostree-layers, the state of the package sources.
	Inputs(ctx context.Context, b *Build) (map[string]string, error)
	// Compose builds the commit. A build that fails or is cancelled
	// leaves the ref where it was.
	Compose(ctx context.Context, b *Build) (Result, error)
}

// layerInputs are the commits of the ostree-layers refs.
func layerInputs(ctx context.Context, b *Build, in map[string]string) error {
	for _, ref := range b.Definition.Treefile.OstreeLayers {
		c, err := b.Repo.RevParse(ctx, ref)
		if err != nil {
			return fmt.Errorf("ostree-layers: %s is not in the repository: %w", ref, err)
		}
		in["layer "+ref] = c
	}
	return nil
}

var datePattern = regexp.MustCompile(`<date:([^>]*)>`)

// NextVersion is the version of a new commit, as rpm-ostree's automatic
// versioning makes it: the prefix (with <date:%Y%m%d> expanded) and a
// counter one past the previous version's when it has the same prefix.
// Without a prefix it is the build's number.
func NextVersion(prefix, previous string, number int64, now time.Time) string {
	if prefix == "" {
		return strconv.FormatInt(number, 10)
	}
	prefix = datePattern.ReplaceAllStringFunc(prefix, func(m string) string {
		return strftime(datePattern.FindStringSubmatch(m)[1], now.UTC())
	})
	if rest, ok := strings.CutPrefix(previous, prefix+"."); ok {
		if n, err := strconv.Atoi(rest); err == nil {
			return fmt.Sprintf("%s.%d", prefix, n+1)
		}
	}
	return prefix + ".0"
}

func strftime(f string, t time.Time) string {
	r := strings.NewReplacer("%Y", t.Format("2006"), "%m", t.Format("01"), "%d", t.Format("02"),
		"%H", t.Format("15"), "%M", t.Format("04"), "%S", t.Format("05"), "%%", "%")
	return r.Replace(f)
}

// finish completes a build whose commit exists: a static delta from its
// parent, its sizes, then the ref and the summary. Until the ref moves a
// cancel leaves the repository as it was (the commit is an orphan).
func finish(ctx context.Context, b *Build, res *Result) error {
	if res.Parent != "" {
		stepf(b.Log, "static delta %.12s → %.12s", res.Parent, res.Commit)
		if err := b.Repo.StaticDelta(ctx, b.Log, res.Parent, res.Commit); err != nil {
			return err
		}
		size, err := b.Repo.DeltaSize(res.Parent, res.Commit)
		if err != nil {
			return fmt.Errorf("delta size: %w", err)
		}
		res.DeltaSize = size
	}
	sizes, err := b.Repo.CommitSizes(ctx, res.Commit)
	if err != nil {
		return fmt.Errorf("commit sizes: %w", err)
	}
	res.Sizes = sizes
	if err := ctx.Err(); err != nil {
		return err
	}
	ref := b.Definition.Treefile.Ref
	stepf(b.Log, "%s => %s", ref, res.Commit)
	// From here the build completes even if cancelled: the ref moved.
	ctx = context.WithoutCancel(ctx)
	if err := b.Repo.SetRef(ctx, ref, res.Commit); err != nil {
		return err
	}
	stepf(b.Log, "updating the summary")
	return b.Repo.UpdateSummary(ctx)
}
