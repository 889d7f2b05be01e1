package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/client"
	"github.com/berthpaas/berth/hostimage"
)

func newHostImageCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "hostimage",
		Aliases: []string{"hostimages", "hi"},
		Short:   "Host image definitions and builds: the atomic hosts Berth composes",
		Long: `Host images are rpm-ostree treefiles that Berth composes into OSTree commits,
which hosts pull from the master and boot. render and validate also work
offline on a treefile's path, with no server (for the CI of a definitions
repository); the other commands ask the server.`,
	}
	cmd.AddCommand(
		newHostImageListCommand(g), newHostImageShowCommand(g), newHostImageRenderCommand(g),
		newHostImageValidateCommand(g), newHostImageApplyCommand(g), newHostImageBuildCommand(g),
		newHostImageBuildsCommand(g), newHostImageLogCommand(g), newHostImageDiffCommand(g),
		newHostImageCancelCommand(g),
	)
	return cmd
}

func newHostImageListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the host image definitions and their newest builds",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var list berthv1.HostImageList
			if err := c.List(cmd.Context(), client.HostImages, "", client.ListOptions{}, &list); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "NAME\tREVISION\tRUNNER\tREF\tLATEST BUILD\tPHASE\tVERSION")
			for _, hi := range list.Items {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", hi.Name, hi.Status.Revision, hi.Status.Runner, hi.Status.Ref,
					orNone(hi.Status.LatestBuild), orNone(hi.Status.LatestPhase), orNone(hi.Status.LatestVersion))
			}
			return w.Flush()
		},
	}
}

func newHostImageShowCommand(g *globals) *cobra.Command {
	var revision int64
	var file string
	cmd := &cobra.Command{
		Use:   "show NAME [--revision N] [--file PATH]",
		Short: "Show a definition: its files, revisions and recent builds, or one of its files",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, name, out := cmd.Context(), args[0], cmd.OutOrStdout()
			var hi berthv1.HostImage
			if err := c.Get(ctx, client.HostImages, "", name, &hi); err != nil {
				return err
			}
			files, treefile := hi.Spec.Files, hi.Spec.Treefile
			revs, err := c.HostImageRevisions(ctx, name, revision)
			if err != nil {
				return err
			}
			if revision > 0 && len(revs.Items) == 1 {
				files, treefile = revs.Items[0].Files, revs.Items[0].Treefile
			}
			if file != "" {
				for _, f := range files {
					if f.Path == file {
						_, err := io.WriteString(out, f.Content)
						return err
					}
				}
				return fmt.Errorf("host image %q has no file %q", name, file)
			}
			fmt.Fprintf(out, "Name:       %s\nRevision:   %d\nTreefile:   %s\nRef:        %s\nRunner:     %s\n",
				hi.Name, hi.Status.Revision, treefile, hi.Status.Ref, hi.Status.Runner)
			if hi.Spec.RebuildInterval != "" {
				fmt.Fprintf(out, "Rebuild:    every %s when the package sources changed\n", hi.Spec.RebuildInterval)
			}
			if hi.Status.LatestCommit != "" {
				fmt.Fprintf(out, "Commit:     %s (version %s)\n", hi.Status.LatestCommit, hi.Status.LatestVersion)
			}
			fmt.Fprintln(out, "Files:")
			for _, f := range files {
				mode := ""
				if f.Executable {
					mode = " (executable)"
				}
				fmt.Fprintf(out, "  %s\t%d bytes%s\n", f.Path, len(f.Content), mode)
			}
			if revision == 0 {
				fmt.Fprintln(out, "Revisions:")
				now := time.Now()
				for i, r := range revs.Items {
					if i == 10 {
						fmt.Fprintf(out, "  ... %d more\n", len(revs.Items)-i)
						break
					}
					fmt.Fprintf(out, "  %d\t%s ago by %s\n", r.Revision, duration.HumanDuration(now.Sub(r.Created.Time)), orNone(r.Author))
				}
			}
			var builds berthv1.HostImageBuildList
			if err := c.Do(ctx, "GET", client.HostImageBuilds.Path("", ""), map[string][]string{"hostImage": {name}, "limit": {"5"}}, nil, &builds); err != nil {
				return err
			}
			if len(builds.Items) > 0 {
				fmt.Fprintln(out, "Recent builds:")
				return printBuilds(out, builds.Items, "  ")
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&revision, "revision", 0, "show this revision (default: the latest)")
	cmd.Flags().StringVar(&file, "file", "", "print this file of the definition")
	return cmd
}

// loadLocal loads a treefile from this machine: what render and validate
// do offline. root is the definition's directory (default the treefile's).
func loadLocal(path, root, basearch string) (*hostimage.Definition, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if root == "" {
		root = filepath.Dir(abs)
	}
	rootAbs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(rootAbs, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return nil, fmt.Errorf("%s is not inside --root %s", path, root)
	}
	return hostimage.LoadDir(rootAbs, filepath.ToSlash(rel), hostimage.LoadOptions{Basearch: basearch})
}

// isLocalFile reports whether arg names a file here rather than a
// definition on the server.
func isLocalFile(arg string) bool {
	info, err := os.Stat(arg)
	return err == nil && info.Mode().IsRegular()
}

type localFlags struct {
	root, basearch string
	revision       int64
}

func (l *localFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&l.root, "root", "", "for a treefile on this machine: the definition's directory, which nothing it names may leave (default: the treefile's directory)")
	cmd.Flags().StringVar(&l.basearch, "basearch", "", "for a treefile on this machine: the architecture to expand for (default: this machine's)")
	cmd.Flags().Int64Var(&l.revision, "revision", 0, "for a definition on the server: its revision (default: the latest)")
}

func newHostImageRenderCommand(g *globals) *cobra.Command {
	var l localFlags
	cmd := &cobra.Command{
		Use:   "render FILE|NAME",
		Short: "Print the expanded treefile, as rpm-ostree compose tree --print-only does",
		Long: `Print the expanded treefile: includes merged with rpm-ostree's rules, per
architecture keys resolved, ${basearch} and ${releasever} substituted. FILE is
a treefile on this machine (no server needed); NAME a definition on the server.`,
		Example: `  berth hostimage render ostree-compose/berth-host-debian.yaml
  berth hostimage render berth-host-debian --revision 3`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if isLocalFile(args[0]) {
				def, err := loadLocal(args[0], l.root, l.basearch)
				if err != nil {
					return problemsError(cmd, err)
				}
				_, err = cmd.OutOrStdout().Write(def.Treefile.JSON())
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			r, err := c.RenderHostImage(cmd.Context(), args[0], l.revision)
			if err != nil {
				return err
			}
			_, err = io.WriteString(cmd.OutOrStdout(), r.Treefile)
			return err
		},
	}
	l.register(cmd)
	return cmd
}

func newHostImageValidateCommand(g *globals) *cobra.Command {
	var l localFlags
	cmd := &cobra.Command{
		Use:   "validate FILE|NAME",
		Short: "Check a treefile and what it names; each problem names its file and key",
		Long: `Check a treefile as a build loads it: known keys of the right types, ref and
packages present, included files and add-files sources inside the definition,
add-files destinations under /usr or /etc, unit names, repos with a file. It
exits 1 and prints each problem (FILE: KEY: what is wrong) on stderr when there
is any. FILE is a treefile on this machine (no server needed); NAME a
definition on the server, checked here.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var def *hostimage.Definition
			var err error
			if isLocalFile(args[0]) {
				def, err = loadLocal(args[0], l.root, l.basearch)
			} else {
				def, err = loadRemote(cmd.Context(), g, args[0], l.revision, l.basearch)
			}
			if err != nil {
				return problemsError(cmd, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is valid: ref %s, %d packages, %d files read, composed by %s\n",
				args[0], def.Treefile.Ref, len(def.Treefile.Packages), len(def.Inputs()), hostimage.RunnerFor(def, hostimage.RunnerConfig{}).Name())
			return nil
		},
	}
	l.register(cmd)
	return cmd
}

func loadRemote(ctx context.Context, g *globals, name string, revision int64, basearch string) (*hostimage.Definition, error) {
	c, err := g.client()
	if err != nil {
		return nil, err
	}
	revs, err := c.HostImageRevisions(ctx, name, revision)
	if err != nil {
		return nil, err
	}
	if revision == 0 {
		if len(revs.Items) == 0 {
			return nil, fmt.Errorf("host image %q has no revision", name)
		}
		if revs, err = c.HostImageRevisions(ctx, name, revs.Items[0].Revision); err != nil {
			return nil, err
		}
	}
	r := revs.Items[0]
	files := make(hostimage.Files, len(r.Files))
	for i, f := range r.Files {
		files[i] = hostimage.File{Path: f.Path, Content: f.Content, Executable: f.Executable}
	}
	return hostimage.LoadFiles(files, r.Treefile, hostimage.LoadOptions{Basearch: basearch})
}

// problemsError prints a definition's problems on stderr, one a line,
// and returns an error that says how many there were.
func problemsError(cmd *cobra.Command, err error) error {
	list := hostimage.Problems(err)
	if list == nil {
		return err
	}
	for _, p := range list {
		fmt.Fprintln(cmd.ErrOrStderr(), p.Error())
	}
	if len(list) == 1 {
		return errors.New("the definition is invalid: 1 problem")
	}
	return fmt.Errorf("the definition is invalid: %d problems", len(list))
}

func newHostImageApplyCommand(g *globals) *cobra.Command {
	var interval string
	cmd := &cobra.Command{
		Use:   "apply NAME TREEFILE",
		Short: "Create or update a definition from a treefile on this machine and the files it reads",
		Long: `Send a treefile and every file it reads (includes, add-files sources, the
postprocess script, repo files, lockfiles) to the server as the definition
NAME: created when it does not exist, else a new revision of it. The server
validates it again and keeps each edit.`,
		Example: `  berth hostimage apply berth-host-debian ostree-compose/berth-host-debian.yaml`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := loadLocal(args[1], "", "")
			if err != nil {
				return problemsError(cmd, err)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, name := cmd.Context(), args[0]
			hi := berthv1.HostImage{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: berthv1.HostImageSpec{Treefile: def.Main, RebuildInterval: interval}}
			for _, f := range def.Files() {
				hi.Spec.Files = append(hi.Spec.Files, berthv1.HostImageFile{Path: f.Path, Content: f.Content, Executable: f.Executable})
			}
			var cur berthv1.HostImage
			err = c.Get(ctx, client.HostImages, "", name, &cur)
			var out berthv1.HostImage
			switch {
			case apierrors.IsNotFound(err):
				if err := c.Create(ctx, client.HostImages, "", &hi, &out); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "hostimage/%s created (revision %d)\n", name, out.Status.Revision)
			case err != nil:
				return err
			default:
				if interval == "" {
					hi.Spec.RebuildInterval = cur.Spec.RebuildInterval
				}
				hi.ResourceVersion = cur.ResourceVersion
				if err := c.Update(ctx, client.HostImages, "", name, &hi, &out); err != nil {
					return err
				}
				if out.Status.Revision == cur.Status.Revision {
					fmt.Fprintf(cmd.OutOrStdout(), "hostimage/%s unchanged (revision %d)\n", name, out.Status.Revision)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "hostimage/%s updated (revision %d)\n", name, out.Status.Revision)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&interval, "rebuild-interval", "", "how often to look for package updates and rebuild when there are (e.g. 24h)")
	return cmd
}

func newHostImageBuildCommand(g *globals) *cobra.Command {
	var follow, force, detach bool
	var revision int64
	cmd := &cobra.Command{
		Use:   "build NAME [--follow] [--force] [--revision N]",
		Short: "Build a definition: queue a build and show its progress until it ends",
		Long: `Queue a build of a definition and wait for it to end, with a progress line
(its phase, time and current step); --follow prints its log instead, as it is
written; --detach only queues it. A build whose inputs are those of the last
successful build composes nothing ("no changes since build N") unless --force.
Interrupting the command leaves the build running.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			in := berthv1.HostImageBuild{Spec: berthv1.HostImageBuildSpec{HostImage: args[0], Revision: revision, Force: force}}
			var b berthv1.HostImageBuild
			if err := c.Create(ctx, client.HostImageBuilds, "", &in, &b); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "hostimagebuild/%s queued (revision %d)\n", b.Name, b.Spec.Revision)
			if detach {
				fmt.Fprintln(cmd.OutOrStdout(), b.Name)
				return nil
			}
			return waitBuild(cmd, c, b.Name, follow)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "print the build's log as it is written")
	cmd.Flags().BoolVar(&force, "force", false, "compose even when the inputs are those of the last build")
	cmd.Flags().BoolVar(&detach, "detach", false, "queue the build and return (its name is printed)")
	cmd.Flags().Int64Var(&revision, "revision", 0, "build this revision of the definition (default: the latest)")
	return cmd
}

// waitBuild waits for a build to end, following its log or showing a
// progress line, and returns an error when it did not succeed.
func waitBuild(cmd *cobra.Command, c *client.Client, name string, follow bool) error {
	ctx := cmd.Context()
	step := &lastStep{}
	logDone := make(chan error, 1)
	go func() {
		body, err := c.BuildLog(ctx, name, client.BuildLogOptions{Follow: true})
		if err != nil {
			logDone <- err
			return
		}
		defer body.Close()
		var w io.Writer = step
		if follow {
			w = io.MultiWriter(cmd.OutOrStdout(), step)
		}
		_, err = io.Copy(w, body)
		logDone <- err
	}()
	progress := newProgressLine(cmd.ErrOrStderr())
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var b berthv1.HostImageBuild
	logEnded := false
	for {
		if err := c.Get(ctx, client.HostImageBuilds, "", name, &b); err != nil {
			if ctx.Err() != nil {
				return interrupted(cmd, name)
			}
			return err
		}
		if !follow {
			progress.show(buildProgress(&b, step.get()))
		}
		if isDone(b.Status.Phase) && (logEnded || !follow) {
			break
		}
		select {
		case <-ctx.Done():
			progress.clear()
			return interrupted(cmd, name)
		case <-logDone:
			logEnded = true
			logDone = nil
		case <-tick.C:
		}
	}
	progress.clear()
	return buildResult(cmd.ErrOrStderr(), &b)
}

func interrupted(cmd *cobra.Command, name string) error {
	fmt.Fprintf(cmd.ErrOrStderr(), "\nthe build goes on: berth hostimage log -f %s (or berth hostimage cancel %s)\n", name, name)
	return nil
}

func isDone(phase string) bool {
	return phase == berthv1.BuildSucceeded || phase == berthv1.BuildFailed || phase == berthv1.BuildCancelled
}

// buildProgress is the one line that says where a build is.
func buildProgress(b *berthv1.HostImageBuild, step string) string {
	elapsed := ""
	if st := b.Status.StartTime; st != nil {
		end := time.Now()
		if ct := b.Status.CompletionTime; ct != nil {
			end = ct.Time
		}
		elapsed = " " + end.Sub(st.Time).Round(time.Second).String()
	}
	line := fmt.Sprintf("%s %s%s", b.Name, b.Status.Phase, elapsed)
	if step != "" && b.Status.Phase == berthv1.BuildRunning {
		line += "  " + step
	}
	return line
}

// buildResult says how a build ended; a build that did not succeed is an
// error.
func buildResult(w io.Writer, b *berthv1.HostImageBuild) error {
	st := b.Status
	switch {
	case st.Phase == berthv1.BuildSucceeded && st.NoChanges:
		fmt.Fprintf(w, "%s: %s (commit %s)\n", b.Name, st.Message, short(st.Commit))
	case st.Phase == berthv1.BuildSucceeded:
		fmt.Fprintf(w, "%s Succeeded: %s version %s is %s\n  %d packages, %s stored, delta from %s %s\n",
			b.Name, st.Ref, st.Version, st.Commit, st.PackageCount, bytesText(st.CommitSize), orNone(short(st.Parent)), bytesText(st.DeltaSize))
	default:
		return fmt.Errorf("build %s %s: %s", b.Name, strings.ToLower(st.Phase), st.Message)
	}
	return nil
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// lastStep remembers the newest "==> " step of a log, or its last line.
type lastStep struct {
	mu      sync.Mutex
	partial []byte // guarded by mu
	step    string // guarded by mu
}

func (l *lastStep) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := strings.IndexAny(string(l.partial), "\r\n")
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		if rest, ok := strings.CutPrefix(line, "==> "); ok {
			l.step = rest
		} else if line != "" && l.step == "" {
			l.step = line
		}
	}
	if len(l.partial) > 4096 {
		l.partial = l.partial[len(l.partial)-4096:]
	}
	return len(p), nil
}

func (l *lastStep) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.step
}

// progressLine rewrites one line on a terminal; elsewhere it prints a
// line when the text changes.
type progressLine struct {
	w     io.Writer
	tty   bool
	width int
	last  string
}

func newProgressLine(w io.Writer) *progressLine {
	p := &progressLine{w: w, width: 100}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 10 {
			p.width = cols - 1
		}
	}
	return p
}

func (p *progressLine) show(s string) {
	if len(s) > p.width {
		s = s[:p.width-1] + "…"
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", s)
	} else if s != p.last && phaseOf(s) != phaseOf(p.last) {
		fmt.Fprintln(p.w, s)
	}
	p.last = s
}

// phaseOf is a progress line without its clock: a log gets a line per
// phase and step, not per second.
func phaseOf(s string) string {
	f := strings.Fields(s)
	if len(f) >= 2 {
		return f[0] + " " + f[1] + strings.Join(f[min(3, len(f)):], " ")
	}
	return s
}

func (p *progressLine) clear() {
	if p.tty && p.last != "" {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func newHostImageBuildsCommand(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "builds [NAME]",
		Short: "List builds, newest first: of one definition, or of all",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			q := map[string][]string{"limit": {fmt.Sprint(limit)}}
			if len(args) == 1 {
				q["hostImage"] = []string{args[0]}
			}
			var list berthv1.HostImageBuildList
			if err := c.Do(cmd.Context(), "GET", client.HostImageBuilds.Path("", ""), q, nil, &list); err != nil {
				return err
			}
			return printBuilds(cmd.OutOrStdout(), list.Items, "")
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many builds")
	return cmd
}

func printBuilds(out io.Writer, builds []berthv1.HostImageBuild, indent string) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, indent+"BUILD\tPHASE\tREASON\tREV\tVERSION\tCOMMIT\tPACKAGES\tSIZE\tDELTA\tAGE\tTOOK\tMESSAGE")
	now := time.Now()
	for _, b := range builds {
		st := b.Status
		took := ""
		if st.StartTime != nil {
			end := now
			if st.CompletionTime != nil {
				end = st.CompletionTime.Time
			}
			took = end.Sub(st.StartTime.Time).Round(time.Second).String()
		}
		msg := st.Message
		if len(msg) > 60 {
			msg = msg[:59] + "…"
		}
		fmt.Fprintf(w, "%s%s\t%s\t%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", indent, b.Name, st.Phase, b.Spec.Reason, b.Spec.Revision,
			orNone(st.Version), orNone(short(st.Commit)), st.PackageCount, bytesText(st.CommitSize), bytesText(st.DeltaSize),
			duration.HumanDuration(now.Sub(b.CreationTimestamp.Time)), orNone(took), msg)
	}
	return w.Flush()
}

func newHostImageLogCommand(g *globals) *cobra.Command {
	var opts client.BuildLogOptions
	cmd := &cobra.Command{
		Use:   "log BUILD [-f] [--timestamps]",
		Short: "Print a build's log; -f follows it until the build ends",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			body, err := c.BuildLog(ctx, args[0], opts)
			if err != nil {
				return err
			}
			defer body.Close()
			_, err = io.Copy(cmd.OutOrStdout(), bufio.NewReader(body))
			if ctx.Err() != nil {
				return nil
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing the log as it is written, until the build ends")
	cmd.Flags().BoolVar(&opts.Timestamps, "timestamps", false, "prefix each line with when it was written")
	return cmd
}

func newHostImageDiffCommand(g *globals) *cobra.Command {
	var filesLimit int
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "What changed from build A to build B: packages (versions), files, sizes",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			d, err := c.DiffBuilds(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			printDiff(cmd.OutOrStdout(), d, filesLimit)
			return nil
		},
	}
	cmd.Flags().IntVar(&filesLimit, "files", 100, "list at most this many files of each kind (0: all)")
	return cmd
}

func printDiff(out io.Writer, d *berthv1.HostImageDiff, limit int) {
	fmt.Fprintf(out, "%s (%s, version %s) → %s (%s, version %s)\n", d.From.Build, short(d.From.Commit), orNone(d.From.Version),
		d.To.Build, short(d.To.Commit), orNone(d.To.Version))
	p := d.Packages
	fmt.Fprintf(out, "\nPackages: %d added, %d removed, %d changed (%d → %d)\n", len(p.Added), len(p.Removed), len(p.Changed),
		d.From.PackageCount, d.To.PackageCount)
	for _, a := range p.Added {
		fmt.Fprintf(out, "  + %s %s %s\n", a.Name, a.Version, a.Arch)
	}
	for _, r := range p.Removed {
		fmt.Fprintf(out, "  - %s %s %s\n", r.Name, r.Version, r.Arch)
	}
	for _, ch := range p.Changed {
		fmt.Fprintf(out, "  ~ %s %s → %s %s\n", ch.Name, ch.From, ch.To, ch.Arch)
	}
	f := d.Files
	fmt.Fprintf(out, "\nFiles: %d added, %d modified, %d deleted\n", len(f.Added), len(f.Modified), len(f.Deleted))
	for _, group := range []struct {
		mark  string
		paths []string
	}{{"A", f.Added}, {"M", f.Modified}, {"D", f.Deleted}} {
		for i, path := range group.paths {
			if limit > 0 && i == limit {
				fmt.Fprintf(out, "  %s ... %d more\n", group.mark, len(group.paths)-i)
				break
			}
			fmt.Fprintf(out, "  %s %s\n", group.mark, path)
		}
	}
	fmt.Fprintf(out, "\nSize: %s → %s", bytesText(d.From.CommitSize), bytesText(d.To.CommitSize))
	if d.To.DeltaSize > 0 {
		fmt.Fprintf(out, " (static delta from its parent: %s)", bytesText(d.To.DeltaSize))
	}
	fmt.Fprintln(out)
}

func newHostImageCancelCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel BUILD",
		Short: "Cancel a queued or running build (the ref stays where it was)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			b, err := c.CancelBuild(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if b.Status.Phase == berthv1.BuildCancelled {
				fmt.Fprintf(cmd.OutOrStdout(), "hostimagebuild/%s cancelled\n", b.Name)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "hostimagebuild/%s is being cancelled\n", b.Name)
			}
			return nil
		},
	}
}
