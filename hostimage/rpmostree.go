package hostimage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// RpmOstreeRunner composes with `rpm-ostree compose tree` where rpm-ostree
// is installed (a Fedora or CentOS build host): rpm-ostree reads the
// treefile and its *.repo files from the definition's directory, commits
// on the ref with the previous commit as parent, and writes compose.json,
// from which the runner reads the commit. The static delta and the
// summary are then made as for the OSTree runner.
type RpmOstreeRunner struct {
	// Command is the rpm-ostree program; default "rpm-ostree" on PATH.
	Command string
}

var _ Runner = RpmOstreeRunner{}

// Name names the runner.
func (r RpmOstreeRunner) Name() string { return "rpm-ostree" }

func (r RpmOstreeRunner) command() string {
	if r.Command == "" {
		return "rpm-ostree"
	}
	return r.Command
}

// Available reports whether rpm-ostree can run here.
func (r RpmOstreeRunner) Available() error {
	if _, err := exec.LookPath(r.command()); err != nil {
		return fmt.Errorf("rpm-ostree is not installed on this machine: definitions with *.repo repositories are composed by rpm-ostree on a Fedora or CentOS build host (see the README): %w", ErrUnavailable)
	}
	return nil
}

// Inputs: the runner and the layers' commits. rpm-ostree keeps its own
// input hash, over the packages it resolves, and skips a compose that
// would change nothing.
func (r RpmOstreeRunner) Inputs(ctx context.Context, b *Build) (map[string]string, error) {
	in := map[string]string{"runner": "rpm-ostree"}
	if err := layerInputs(ctx, b, in); err != nil {
		return nil, err
	}
	return in, nil
}

// Args are the command line of the compose: the treefile in the
// definition's directory, the repository, the package cache, where
// compose.json goes, Berth's metadata, and the lockfiles.
func (r RpmOstreeRunner) Args(b *Build, composeJSON string) []string {
	args := []string{
		"compose", "tree", "--unified-core",
		"--repo=" + b.Repo.Path,
		"--cachedir=" + filepath.Join(b.CacheDir, "rpm-ostree"),
		"--write-composejson-to=" + composeJSON,
		"--add-metadata-string=" + MetaInputHash + "=" + b.InputHash,
	}
	if b.Definition.Treefile.AutomaticVersionPrefix == "" {
		// Otherwise rpm-ostree versions the commit itself.
		args = append(args, "--add-metadata-string="+MetaVersion+"="+strconv.FormatInt(b.Number, 10))
	}
	for _, l := range b.Definition.Lockfiles {
		args = append(args, "--ex-lockfile="+filepath.Join(b.DefinitionDir, l))
	}
	return append(args, filepath.Join(b.DefinitionDir, b.Definition.Main))
}

// ComposeJSON is what rpm-ostree writes with --write-composejson-to.
type ComposeJSON struct {
	Ref       string `json:"ref"`
	Commit    string `json:"ostree-commit"`
	Parent    string `json:"ostree-parent-commit"`
	Version   string `json:"ostree-version"`
	InputHash string `json:"rpm-ostree-inputhash"`
	Timestamp string `json:"ostree-timestamp"`
}

// ReadComposeJSON reads compose.json. A missing file after a successful
// run means rpm-ostree found no changes ("No apparent changes since
// previous commit") and committed nothing: nil, nil.
func ReadComposeJSON(path string) (*ComposeJSON, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c ComposeJSON
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("compose.json: %w", err)
	}
	if c.Commit == "" {
		return nil, nil
	}
	if !checksumPattern.MatchString(c.Commit) {
		return nil, fmt.Errorf("compose.json: ostree-commit %q is not a checksum", c.Commit)
	}
	return &c, nil
}

// Compose runs rpm-ostree and completes the build; see RpmOstreeRunner.
func (r RpmOstreeRunner) Compose(ctx context.Context, b *Build) (res Result, err error) {
	if err := r.Available(); err != nil {
		return res, err
	}
	ref := b.Definition.Treefile.Ref
	parent, err := b.Repo.RevParse(ctx, ref)
	if err != nil && !errors.Is(err, ErrNoRef) {
		return res, err
	}
	res.Parent = parent
	composeJSON := filepath.Join(b.WorkDir, "compose.json")
	_ = os.Remove(composeJSON)
	if err := os.MkdirAll(filepath.Join(b.CacheDir, "rpm-ostree"), 0o755); err != nil {
		return res, err
	}
	args := r.Args(b, composeJSON)
	stepf(b.Log, "rpm-ostree %v", args)
	if err := (command{name: r.command(), args: args, log: b.Log}).run(ctx); err != nil {
		// rpm-ostree may have moved the ref before failing.
		if head, _ := b.Repo.RevParse(context.WithoutCancel(ctx), ref); head != parent {
			r.restoreRef(context.WithoutCancel(ctx), b, ref, parent)
		}
		return res, err
	}
	cj, err := ReadComposeJSON(composeJSON)
	if err != nil {
		return res, err
	}
	if cj == nil {
		fmt.Fprintln(b.Log, "rpm-ostree made no new commit: no changes since the previous one")
		res.Commit, res.Unchanged = parent, true
		if parent != "" {
			res.Version, _ = b.Repo.MetadataText(ctx, parent, MetaVersion)
		}
		return res, nil
	}
	// rpm-ostree moved the ref: a failure or cancel from here on puts it
	// back, so that the ref is where it was.
	defer func() {
		if err != nil {
			r.restoreRef(context.WithoutCancel(ctx), b, ref, parent)
		}
	}()
	if cj.Parent != "" && cj.Parent != parent {
		return res, fmt.Errorf("compose.json: parent %s, but %s was on %s", cj.Parent, parent, ref)
	}
	res.Commit, res.Version = cj.Commit, cj.Version
	if res.Packages, err = b.Repo.Packages(ctx, res.Commit); err != nil {
		return res, err
	}
	return res, finish(ctx, b, &res)
}

func (r RpmOstreeRunner) restoreRef(ctx context.Context, b *Build, ref, parent string) {
	if parent == "" {
		_ = b.Repo.cmd(nil, "refs", "--delete", ref).run(ctx)
		return
	}
	_ = b.Repo.SetRef(ctx, ref, parent)
}

// RunnerConfig says how definitions are composed on this machine.
type RunnerConfig struct {
	// Root makes the roots of definitions with deb822 sources; default
	// mmdebstrap.
	Root RootSource
	// RpmOstree composes definitions with *.repo repositories.
	RpmOstree RpmOstreeRunner
}

// RunnerFor picks the runner of a definition: rpm-ostree for *.repo
// repositories, the OSTree runner for deb822 sources.
func RunnerFor(def *Definition, cfg RunnerConfig) Runner {
	if def.RepoKind == "rpm" {
		return cfg.RpmOstree
	}
	return OSTreeRunner{Root: cfg.Root}
}
