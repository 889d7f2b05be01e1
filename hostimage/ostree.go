package hostimage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNoRef: the repository has no such ref.
var ErrNoRef = errors.New("no such ref")

// Repo is an OSTree repository in archive mode, driven through the ostree
// command: what hosts pull from (served read-only over HTTP, with its
// summary and static deltas) and what builds commit into.
type Repo struct {
	Path string
	// GPG signs commits and the summary when its KeyID is set.
	GPG GPG
}

// GPG names the key that signs commits and the summary.
type GPG struct {
	KeyID   string
	HomeDir string
}

func (g GPG) args() []string {
	if g.KeyID == "" {
		return nil
	}
	args := []string{"--gpg-sign=" + g.KeyID}
	if g.HomeDir != "" {
		args = append(args, "--gpg-homedir="+g.HomeDir)
	}
	return args
}

// OpenRepo opens the archive repository at path, creating it when it does
// not exist.
func OpenRepo(ctx context.Context, path string, gpg GPG) (*Repo, error) {
	r := &Repo{Path: path, GPG: gpg}
	if _, err := os.Stat(filepath.Join(path, "config")); err == nil {
		return r, r.moveZlibLevel(ctx)
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, err
	}
	if err := r.cmd(nil, "init", "--mode=archive").run(ctx); err != nil {
		return nil, fmt.Errorf("create the OSTree repository %s: %w", path, err)
	}
	// Compressing the objects is most of a commit's CPU time. At zlib's
	// level 1 rather than ostree's 6 a commit of a Debian host's tree
	// takes a third of the time, for objects 9% larger; hosts that upgrade
	// fetch static deltas, compressed on their own. An operator may set
	// another level (1 to 9) in the repository's config.
	if err := r.cmd(nil, "config", "set", zlibLevelKey, "1").run(ctx); err != nil {
		return nil, fmt.Errorf("configure the OSTree repository %s: %w", path, err)
	}
	return r, nil
}

// zlibLevelKey is where ostree reads an archive repository's compression
// level: the archive group, not core.
const zlibLevelKey = "archive.zlib-level"

// moveZlibLevel moves core.zlib-level, which repositories created by
// earlier versions of Berth hold and ostree ignores, to zlibLevelKey.
func (r *Repo) moveZlibLevel(ctx context.Context) error {
	const misplaced = "core.zlib-level"
	level, ok, err := r.config(ctx, misplaced)
	if err != nil || !ok {
		return err
	}
	if _, ok, err := r.config(ctx, zlibLevelKey); err != nil {
		return err
	} else if !ok {
		if err := r.cmd(nil, "config", "set", zlibLevelKey, level).run(ctx); err != nil {
			return fmt.Errorf("configure the OSTree repository %s: %w", r.Path, err)
		}
	}
	if err := r.cmd(nil, "config", "unset", misplaced).run(ctx); err != nil {
		return fmt.Errorf("configure the OSTree repository %s: %w", r.Path, err)
	}
	return nil
}

// config reads a key (GROUP.NAME) of the repository's config; ok is
// false when it is not set.
func (r *Repo) config(ctx context.Context, key string) (value string, ok bool, err error) {
	out, err := r.cmd(nil, "config", "get", key).output(ctx)
	if err != nil {
		if strings.Contains(err.Error(), "does not have") { // the key, or its group
			return "", false, nil
		}
		return "", false, err
	}
	return strings.TrimSpace(string(out)), true, nil
}

func (r *Repo) cmd(log io.Writer, verb string, args ...string) command {
	return command{name: "ostree", args: append([]string{verb, "--repo=" + r.Path}, args...), log: log}
}

var checksumPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// RevParse returns the commit ref (or a commit checksum) names;
// ErrNoRef when there is none.
func (r *Repo) RevParse(ctx context.Context, ref string) (string, error) {
	if _, err := os.Stat(filepath.Join(r.Path, "refs", "heads", ref)); err != nil && !checksumPattern.MatchString(ref) {
		return "", fmt.Errorf("%s: %w", ref, ErrNoRef)
	}
	out, err := r.cmd(nil, "rev-parse", ref).output(ctx)
	if err != nil {
		return "", err
	}
	c := strings.TrimSpace(string(out))
	if !checksumPattern.MatchString(c) {
		return "", fmt.Errorf("ostree rev-parse %s: %q is not a checksum", ref, c)
	}
	return c, nil
}

// CommitOptions say what a commit holds besides its tree.
type CommitOptions struct {
	Tree string // directory to commit
	// Ref is the ref the commit is for: bound into its metadata
	// (ostree.ref-binding), which pulls check.
	Ref     string
	Parent  string // "" for none
	Subject string
	// Metadata are strings, Variants values in GVariant text format;
	// Packages go in as MetaPackages.
	Metadata map[string]string
	Variants map[string]string
	Packages []Package
	Bootable bool
	Log      io.Writer
}

// Commit writes an orphan commit (no ref moves) and returns its checksum:
// the ref moves only once the build is complete (SetRef).
//
// ostree fsyncs each object it writes by default, ten thousand of them
// for a host; here it does not, and the repository's filesystem is synced
// once when the commit is written (syncfs), before any ref can name it:
// as durable, at one sync.
func (r *Repo) Commit(ctx context.Context, o CommitOptions) (string, error) {
	args := []string{"--orphan", "--tree=dir=" + o.Tree, "--generate-sizes", "--fsync=no", "--subject=" + o.Subject}
	if o.Ref != "" {
		args = append(args, "--bind-ref="+o.Ref)
	}
	if o.Parent != "" {
		args = append(args, "--parent="+o.Parent)
	} else {
		args = append(args, "--parent=none")
	}
	keys := make([]string, 0, len(o.Metadata))
	for k := range o.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, "--add-metadata-string="+k+"="+o.Metadata[k])
	}
	vkeys := make([]string, 0, len(o.Variants))
	for k := range o.Variants {
		vkeys = append(vkeys, k)
	}
	slices.Sort(vkeys)
	for _, k := range vkeys {
		args = append(args, "--add-metadata="+k+"="+o.Variants[k])
	}
	if o.Packages != nil {
		args = append(args, "--add-metadata="+MetaPackages+"="+packagesGVariant(o.Packages))
	}
	if o.Bootable {
		args = append(args, "--bootable")
	}
	args = append(args, r.GPG.args()...)
	out, err := r.cmd(o.Log, "commit", args...).output(ctx)
	if err != nil {
		return "", err
	}
	c := strings.TrimSpace(string(out))
	if !checksumPattern.MatchString(c) {
		return "", fmt.Errorf("ostree commit answered %q, not a checksum", c)
	}
	if err := syncFS(r.Path); err != nil {
		return "", fmt.Errorf("sync the repository: %w", err)
	}
	return c, nil
}

// syncFS writes out everything the filesystem holding dir has cached.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

// SetRef points ref at commit.
func (r *Repo) SetRef(ctx context.Context, ref, commit string) error {
	return r.cmd(nil, "refs", "--force", "--create="+ref, commit).run(ctx)
}

// StaticDelta generates the delta from one commit to the next, which hosts
// pulling the new commit fetch instead of its objects.
func (r *Repo) StaticDelta(ctx context.Context, log io.Writer, from, to string) error {
	return r.cmd(log, "static-delta", "generate", "--from="+from, "--to="+to).run(ctx)
}

// UpdateSummary rewrites the summary hosts read to find refs and deltas,
// signed when a key is configured.
func (r *Repo) UpdateSummary(ctx context.Context) error {
	return r.cmd(nil, "summary", append([]string{"--update"}, r.GPG.args()...)...).run(ctx)
}

// MetadataString returns a commit's metadata value in GVariant text
// format ("" when the commit lacks the key).
func (r *Repo) MetadataString(ctx context.Context, commit, key string) (string, error) {
	// -B: values as stored (rpm-ostree writes its package list's epochs
	// in the build machine's byte order).
	out, err := r.cmd(nil, "show", "-B", "--print-metadata-key="+key, commit).output(ctx)
	if err != nil {
		if strings.Contains(err.Error(), "No such metadata key") {
			return "", nil
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// Packages lists a commit's packages from its metadata: Berth's list, or
// rpm-ostree's for commits it composed.
func (r *Repo) Packages(ctx context.Context, commit string) ([]Package, error) {
	for _, key := range []string{MetaPackages, metaRpmPackages} {
		text, err := r.MetadataString(ctx, commit, key)
		if err != nil {
			return nil, err
		}
		if text != "" {
			return parsePackages(text)
		}
	}
	return []Package{}, nil
}

// MetadataText returns a string metadata value of a commit ("" when it
// lacks the key).
func (r *Repo) MetadataText(ctx context.Context, commit, key string) (string, error) {
	text, err := r.MetadataString(ctx, commit, key)
	if err != nil || text == "" {
		return "", err
	}
	v, err := parseGVariant(text)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("metadata %s of %s is not a string", key, commit)
	}
	return s, nil
}

// FileDiff is what changed in the files from one commit to another, as
// `ostree diff` reports it.
type FileDiff struct {
	Added    []string `json:"added"`
	Modified []string `json:"modified"`
	Deleted  []string `json:"deleted"`
}

// Empty reports whether nothing changed.
func (d FileDiff) Empty() bool { return len(d.Added)+len(d.Modified)+len(d.Deleted) == 0 }

// Diff compares the files of two commits.
func (r *Repo) Diff(ctx context.Context, from, to string) (FileDiff, error) {
	out, err := r.cmd(nil, "diff", from, to).output(ctx)
	if err != nil {
		return FileDiff{}, err
	}
	return parseOstreeDiff(out), nil
}

func parseOstreeDiff(out []byte) FileDiff {
	d := FileDiff{Added: []string{}, Modified: []string{}, Deleted: []string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 {
			continue
		}
		p := strings.TrimSpace(line[1:])
		switch line[0] {
		case 'A':
			d.Added = append(d.Added, p)
		case 'M':
			d.Modified = append(d.Modified, p)
		case 'D':
			d.Deleted = append(d.Deleted, p)
		}
	}
	return d
}

// Sizes are what a commit takes.
type Sizes struct {
	// Stored is the size of its objects in the repository (compressed):
	// what a host pulls without a delta.
	Stored int64
	// Unpacked is the size of its files.
	Unpacked int64
	Files    int
}

// CommitSizes sums the objects of a commit's files, each counted once.
func (r *Repo) CommitSizes(ctx context.Context, commit string) (Sizes, error) {
	out, err := r.cmd(nil, "ls", "-R", "-C", commit).output(ctx)
	if err != nil {
		return Sizes{}, err
	}
	var s Sizes
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[0] == "" || f[0][0] == 'd' {
			continue
		}
		size, _ := strconv.ParseInt(f[3], 10, 64)
		sum := f[4]
		if !checksumPattern.MatchString(sum) || seen[sum] {
			continue
		}
		seen[sum] = true
		s.Files++
		s.Unpacked += size
		if info, err := os.Stat(filepath.Join(r.Path, "objects", sum[:2], sum[2:]+".filez")); err == nil {
			s.Stored += info.Size()
		}
	}
	return s, sc.Err()
}

// DeltaSize is the size of the static delta from one commit to another.
func (r *Repo) DeltaSize(from, to string) (int64, error) {
	dir, err := deltaDir(from, to)
	if err != nil {
		return 0, err
	}
	var total int64
	err = filepath.WalkDir(filepath.Join(r.Path, dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	return total, err
}

// deltaDir is where ostree keeps the delta between two commits:
// deltas/FROM[0:2]/FROM[2:]-TO, in its base64 with "_" for "/".
func deltaDir(from, to string) (string, error) {
	b64 := func(c string) (string, error) {
		raw, err := hex.DecodeString(c)
		if err != nil || len(raw) != 32 {
			return "", fmt.Errorf("%q is not a commit checksum", c)
		}
		return strings.ReplaceAll(base64.RawStdEncoding.EncodeToString(raw), "/", "_"), nil
	}
	f, err := b64(from)
	if err != nil {
		return "", err
	}
	t, err := b64(to)
	if err != nil {
		return "", err
	}
	return filepath.Join("deltas", f[:2], f[2:]+"-"+t), nil
}

// Refs lists the repository's refs and their commits.
func (r *Repo) Refs(ctx context.Context) (map[string]string, error) {
	out, err := r.cmd(nil, "refs").output(ctx)
	if err != nil {
		return nil, err
	}
	refs := map[string]string{}
	for _, ref := range strings.Fields(string(out)) {
		c, err := r.RevParse(ctx, ref)
		if err != nil {
			return nil, err
		}
		refs[ref] = c
	}
	return refs, nil
}

// Parent returns a commit's parent ("" for none).
func (r *Repo) Parent(ctx context.Context, commit string) (string, error) {
	out, err := r.cmd(nil, "rev-parse", commit+"^").output(ctx)
	if err != nil {
		if strings.Contains(err.Error(), "has no parent") {
			return "", nil
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// CommitLayer commits a directory as an ostree-layers ref (Berth's own
// binary, for one): a new commit only when the tree changed.
func (r *Repo) CommitLayer(ctx context.Context, ref, dir, subject string) (string, error) {
	if err := r.cmd(nil, "commit", "--branch="+ref, "--tree=dir="+dir, "--skip-if-unchanged",
		"--subject="+subject, "--owner-uid=0", "--owner-gid=0").run(ctx); err != nil {
		return "", err
	}
	return r.RevParse(ctx, ref)
}
