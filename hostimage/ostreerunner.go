package hostimage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// OSTreeRunner composes with the ostree command from a root that Root
// makes (mmdebstrap by default): it applies the treefile to the root and
// commits it, with the package list, the input hash and the version in
// the commit's metadata, the previous commit as parent, and a static delta
// from it.
type OSTreeRunner struct {
	Root RootSource
}

var _ Runner = OSTreeRunner{}

// Name names the runner.
func (r OSTreeRunner) Name() string { return "ostree" }

func (r OSTreeRunner) root() RootSource {
	if r.Root == nil {
		return Mmdebstrap{}
	}
	return r.Root
}

// Inputs: the root's kind and state, and the layers' commits.
func (r OSTreeRunner) Inputs(ctx context.Context, b *Build) (map[string]string, error) {
	in := map[string]string{"runner": "ostree", "root": r.root().Kind()}
	state, err := r.root().State(ctx, b.Definition)
	if err != nil {
		return nil, err
	}
	in["root-state"] = state
	if err := layerInputs(ctx, b, in); err != nil {
		return nil, err
	}
	return in, nil
}

// Compose builds the commit; see OSTreeRunner.
func (r OSTreeRunner) Compose(ctx context.Context, b *Build) (Result, error) {
	tf := b.Definition.Treefile
	var res Result
	parent, err := b.Repo.RevParse(ctx, tf.Ref)
	if err != nil && !errors.Is(err, ErrNoRef) {
		return res, err
	}
	res.Parent = parent
	previous := ""
	if parent != "" {
		if previous, err = b.Repo.MetadataText(ctx, parent, MetaVersion); err != nil {
			return res, err
		}
	}
	res.Version = NextVersion(tf.AutomaticVersionPrefix, previous, b.Number, b.now())
	stepf(b.Log, "composing %s version %s with ostree from %s", tf.Ref, res.Version, r.root().Kind())
	if ignored := setKeys(tf, RpmOstreeOnlyKeys); len(ignored) > 0 {
		fmt.Fprintf(b.Log, "note: %s: applied by rpm-ostree only; this runner leaves them out\n", strings.Join(ignored, ", "))
	}

	rootDir := filepath.Join(b.WorkDir, "root")
	if err := removeTree(rootDir); err != nil {
		return res, err
	}
	if err := os.MkdirAll(rootDir, 0o755); err != nil {
		return res, err
	}
	defer func() {
		if err := removeTree(rootDir); err != nil {
			fmt.Fprintf(b.Log, "warning: %v\n", err)
		}
	}()
	stepf(b.Log, "making the root (%s)", r.root().Kind())
	if err := r.root().Make(ctx, b.Definition, rootDir, b); err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return res, err
	}
	defer root.Close()
	a := &assembler{def: b.Definition, dir: rootDir, root: root, log: b.Log}
	stepf(b.Log, "applying the treefile")
	bootable := false
	steps := []func() error{
		func() error { return a.checkoutLayers(ctx, b.Repo) },
		a.addFiles, a.enableUnits, a.removeFiles, a.removeDocumentation, a.removeLanguages,
		func() error { return a.postprocess(ctx) },
		func() error { return a.mutateOsRelease(res.Version) },
		func() (err error) { bootable, err = a.kernelLayout(); return err },
		a.finalize,
		func() error { return a.deploymentLayout(bootable) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return res, err
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
	if res.Packages, err = a.packages(); err != nil {
		return res, err
	}
	fmt.Fprintf(b.Log, "%d packages\n", len(res.Packages))

	stepf(b.Log, "committing")
	variants, err := commitMetadata(tf.AddCommitMetadata)
	if err != nil {
		return res, err
	}
	commit, err := b.Repo.Commit(ctx, CommitOptions{
		Tree: rootDir, Ref: tf.Ref, Parent: parent, Subject: tf.Ref + " " + res.Version, Log: b.Log,
		Metadata: map[string]string{MetaVersion: res.Version, MetaInputHash: b.InputHash},
		Variants: variants, Packages: res.Packages, Bootable: bootable,
	})
	if err != nil {
		return res, err
	}
	res.Commit = commit
	if parent != "" {
		diff, err := b.Repo.Diff(ctx, parent, commit)
		if err != nil {
			return res, err
		}
		if diff.Empty() {
			fmt.Fprintf(b.Log, "no changes in the tree since %s: the ref stays\n", parent)
			res.Commit, res.Unchanged, res.Version = parent, true, previous
			return res, nil
		}
	}
	return res, finish(ctx, b, &res)
}

// setKeys names the keys of list the treefile sets.
func setKeys(tf *Treefile, list []string) []string {
	var m map[string]any
	_ = json.Unmarshal(tf.JSON(), &m)
	var out []string
	for _, k := range list {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// commitMetadata turns add-commit-metadata into GVariant values.
func commitMetadata(m map[string]any) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = gvString(x)
		case bool:
			out[k] = fmt.Sprint(x)
		case int64:
			out[k] = fmt.Sprintf("int64 %d", x)
		case float64:
			out[k] = fmt.Sprintf("%g", x)
		default:
			data, err := json.Marshal(x)
			if err != nil {
				return nil, fmt.Errorf("add-commit-metadata %s: %w", k, err)
			}
			out[k] = gvString(string(data))
		}
	}
	return out, nil
}
