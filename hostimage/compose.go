package hostimage

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Job is one build of a stored definition, from its files to a commit.
type Job struct {
	Files Files
	// Main is the top treefile among Files.
	Main   string
	Number int64
	// PreviousInputHash is the input hash of the definition's last
	// successful build: equal inputs compose nothing, unless Force.
	PreviousInputHash string
	Force             bool
	Repo              *Repo
	// WorkDir is this build's own scratch directory (removed by Compose);
	// CacheDir is shared by the builds of the machine.
	WorkDir  string
	CacheDir string
	Runners  RunnerConfig
	Log      io.Writer
	Now      func() time.Time
	// Basearch defaults to the machine's.
	Basearch string
	// HashOnly stops once the input hash is known: what a trigger asks
	// to decide whether a build is due.
	HashOnly bool
	// OnInputs, when set, is told the runner, input hash and ref as soon
	// as they are known.
	OnInputs func(runner, inputHash, ref string)
}

// Outcome is what a Job did.
type Outcome struct {
	Runner    string
	InputHash string
	Ref       string
	// NoChanges: the inputs are those of the previous build; nothing was
	// composed.
	NoChanges bool
	Result    Result
}

// Compose runs a Job: it writes the definition out, loads and validates
// it, computes the input hash, and composes unless the inputs are
// unchanged. The outcome is filled as far as the build got, also on
// error.
func Compose(ctx context.Context, j Job) (*Outcome, error) {
	out := &Outcome{}
	log := j.Log
	if log == nil {
		log = io.Discard
	}
	if err := os.MkdirAll(j.WorkDir, 0o700); err != nil {
		return out, err
	}
	defer func() {
		if err := removeTree(j.WorkDir); err != nil {
			fmt.Fprintf(log, "warning: %v\n", err)
		}
	}()
	defDir := filepath.Join(j.WorkDir, "definition")
	if err := j.Files.WriteDir(defDir); err != nil {
		return out, err
	}
	def, err := LoadDir(defDir, j.Main, LoadOptions{Basearch: j.Basearch})
	if err != nil {
		return out, err
	}
	out.Ref = def.Treefile.Ref
	runner := RunnerFor(def, j.Runners)
	out.Runner = runner.Name()
	b := &Build{
		Definition: def, DefinitionDir: defDir, Repo: j.Repo, WorkDir: j.WorkDir,
		CacheDir: j.CacheDir, Number: j.Number, Log: log, Now: j.Now,
	}
	stepf(log, "inputs of %s (%s runner)", j.Main, runner.Name())
	extra, err := runner.Inputs(ctx, b)
	if err != nil {
		return out, err
	}
	out.InputHash = def.InputHash(extra)
	b.InputHash = out.InputHash
	fmt.Fprintf(log, "input hash %s\n", out.InputHash)
	if j.OnInputs != nil {
		j.OnInputs(out.Runner, out.InputHash, out.Ref)
	}
	if j.HashOnly {
		return out, nil
	}
	if out.InputHash == j.PreviousInputHash && !j.Force {
		out.NoChanges = true
		fmt.Fprintln(log, "no changes since the previous build: nothing to compose")
		return out, nil
	}
	res, err := runner.Compose(ctx, b)
	out.Result = res
	if err != nil {
		return out, err
	}
	return out, nil
}
