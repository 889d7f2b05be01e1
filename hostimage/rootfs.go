package hostimage

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// RootSource makes the root filesystem a build starts from.
type RootSource interface {
	// Kind names the source in the build log and the input hash.
	Kind() string
	// State digests what the source would give for the definition now
	// (the package indices of its mirrors, an image's ID): a change is an
	// input change, as new packages are.
	State(ctx context.Context, def *Definition) (string, error)
	// Make fills dir, which is empty, with the root; its output goes to
	// log.
	Make(ctx context.Context, def *Definition, dir string, b *Build) error
}

// Mmdebstrap makes the root with mmdebstrap from the treefile's packages
// and the deb822 .sources files its repos name.
type Mmdebstrap struct {
	// Mode is mmdebstrap's --mode: auto (default), root, unshare, or
	// chrootless (dpkg --root from outside; for packages that support it).
	Mode string
	// Variant is mmdebstrap's --variant: essential (default: the Essential
	// set and the packages with their dependencies), custom (only the
	// packages), minbase, apt ...
	Variant string
}

// Kind names the source.
func (m Mmdebstrap) Kind() string {
	return fmt.Sprintf("mmdebstrap(mode=%s,variant=%s)", m.mode(), m.variant())
}

func (m Mmdebstrap) mode() string {
	if m.Mode == "" {
		return "auto"
	}
	return m.Mode
}

func (m Mmdebstrap) variant() string {
	if m.Variant == "" {
		return "essential"
	}
	return m.Variant
}

// sources reads the definition's deb822 repositories.
func sources(def *Definition) ([]Source, error) {
	if def.RepoKind != "deb" {
		return nil, fmt.Errorf("the repos of %s are rpm-md (*.repo): compose it with rpm-ostree, or name deb822 NAME.sources files: %w", def.Main, ErrUnavailable)
	}
	var out []Source
	for _, p := range def.RepoFiles {
		data, _ := def.Content(p)
		s, err := ParseSources(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, s...)
	}
	return out, nil
}

// State digests the Release files (InRelease, else Release, else
// Packages for a flat repository) of every suite the sources name: they
// change when the mirror publishes new packages.
func (m Mmdebstrap) State(ctx context.Context, def *Definition) (string, error) {
	srcs, err := sources(def)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, s := range srcs {
		for _, u := range s.URIs {
			for _, suite := range s.Suites {
				var candidates []string
				if strings.HasSuffix(suite, "/") {
					for _, f := range []string{"InRelease", "Release", "Packages"} {
						candidates = append(candidates, strings.TrimSuffix(u, "/")+"/"+path.Clean(suite)+"/"+f)
					}
				} else {
					for _, f := range []string{"InRelease", "Release"} {
						candidates = append(candidates, strings.TrimSuffix(u, "/")+"/dists/"+suite+"/"+f)
					}
				}
				sum, err := fetchFirst(ctx, candidates)
				if err != nil {
					return "", err
				}
				fmt.Fprintf(h, "%s %s %s\n", u, suite, sum)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fetchFirst digests the first of urls that answers.
func fetchFirst(ctx context.Context, urls []string) (string, error) {
	var errs []error
	for _, u := range urls {
		sum, err := fetchDigest(ctx, u)
		if err == nil {
			return sum, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("the package repository does not answer (%w): %w", ErrUnavailable, errors.Join(errs...))
}

func fetchDigest(ctx context.Context, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	var body io.ReadCloser
	switch u.Scheme {
	case "file", "copy":
		f, err := os.Open(u.Path)
		if err != nil {
			return "", err
		}
		body = f
	case "http", "https":
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
		if err != nil {
			return "", err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return "", fmt.Errorf("%s: %s", raw, resp.Status)
		}
		body = resp.Body
	default:
		return "", fmt.Errorf("%s: scheme %q is not read for change detection", raw, u.Scheme)
	}
	defer body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(body, 256<<20)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Make runs mmdebstrap with the packages (pinned by the lockfiles) and
// the sources, keeping downloaded packages in the build's cache.
func (m Mmdebstrap) Make(ctx context.Context, def *Definition, dir string, b *Build) error {
	srcs, err := sources(def)
	if err != nil {
		return err
	}
	tf := def.Treefile
	pkgs, err := pinnedPackages(def)
	if err != nil {
		return err
	}
	args := []string{
		"--mode=" + m.mode(), "--variant=" + m.variant(), "--arch=" + DebianArch(tf.Basearch),
		"--include=" + strings.Join(pkgs, ","),
	}
	if tf.Recommends != nil {
		args = append(args, fmt.Sprintf(`--aptopt=APT::Install-Recommends "%t"`, *tf.Recommends))
	}
	args = append(args, m.hooks(tf)...)
	if b.CacheDir != "" {
		cache := filepath.Join(b.CacheDir, "apt-archives")
		if err := os.MkdirAll(cache, 0o755); err != nil {
			return err
		}
		args = append(args, "--skip=essential/unlink",
			`--setup-hook=mkdir -p "$1"/var/cache/apt/archives`,
			"--setup-hook=sync-in "+cache+" /var/cache/apt/archives",
			"--customize-hook=sync-out /var/cache/apt/archives "+cache)
	}
	// mmdebstrap picks the Essential set from SUITE's archive alone: it is
	// the main repository's (the first repos names), never an add-on's
	// such as bookworm-security, which lacks most of it.
	suite := srcs[0].Suites[0]
	args = append(args, suite, dir)
	for _, p := range def.RepoFiles {
		args = append(args, filepath.Join(b.DefinitionDir, p))
	}
	fmt.Fprintf(b.Log, "mmdebstrap %s\n", strings.Join(args, " "))
	return command{name: "mmdebstrap", args: args, log: b.Log,
		env: []string{"SOURCE_DATE_EPOCH=" + fmt.Sprint(b.sourceDateEpoch())}}.run(ctx)
}

// dpkgComposeCfg holds dpkg's options for the compose only; the last
// customize hook removes it, so that the host's dpkg does not keep them.
const dpkgComposeCfg = "/etc/dpkg/dpkg.cfg.d/zz-berth-compose"

// hooks are mmdebstrap's hooks. Measured on the Debian host (a loaded
// two-core machine), they took mmdebstrap from 796 s to 580 s:
//
//   - dpkg's options go in files of the root's dpkg.cfg.d, not in
//     --dpkgopt: mmdebstrap extracts the Essential set through its Python
//     tar filter, started once per package, whenever --dpkgopt holds a
//     path-exclude (extraction 85 s, now 28 s).
//   - force-unsafe-io: dpkg does not fsync each file it unpacks (ten
//     thousand of them). The tree is committed, never booted from, and the
//     commit is what is made durable (Repo.Commit).
//   - dracut runs once, at the end, instead of twice: the kernel's postinst
//     and dracut's trigger (activated by any package touching the
//     initramfs) each generated the initramfs, minutes each. /usr/bin/dracut
//     is diverted away while packages install (the kernel hooks do nothing
//     without it), then put back and run for each kernel, without host-only
//     mode: the image boots any machine, not the one that composed it.
//     rpm-ostree also runs dracut once, itself.
//   - dracut compresses at gzip's level 1, not 9: most of dracut's time
//     was gzip -9 over the 130 MB of a generic initramfs (dracut 120 s,
//     now 40 s, under load), for an image 12% larger (44 MB, not 39).
//
// With a cache, the Essential set's packages stay in the root's apt
// archives (--skip=essential/unlink) and are kept in the cache with the
// others: a build downloads no package twice.
//
// documentation: false is dpkg's path-exclude options in
// 99berth-documentation, which the host keeps: as rpm's --excludedocs,
// documentation is never unpacked; the copyright files Debian's licences
// ask for stay. install-langs is likewise 99berth-install-langs, as RPM's
// _install_langs: translations into other languages are never unpacked
// (on the Debian host, 600 files and 38 MB fewer to install and commit).
func (m Mmdebstrap) hooks(tf *Treefile) []string {
	var setup, essential, customize []string
	setup = append(setup, `mkdir -p "$1"/etc/dpkg/dpkg.cfg.d`,
		`echo force-unsafe-io > "$1"`+dpkgComposeCfg)
	if !tf.DocumentationWanted() {
		setup = append(setup, `printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' `+
			`'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' > "$1"/etc/dpkg/dpkg.cfg.d/99berth-documentation`)
	}
	if opts := tf.localeFilter(); opts != nil {
		quoted := make([]string, len(opts))
		for i, o := range opts {
			quoted[i] = shellQuote(o)
		}
		setup = append(setup, `printf '%s\n' `+strings.Join(quoted, " ")+` > "$1"/etc/dpkg/dpkg.cfg.d/99berth-install-langs`)
	}
	// dpkg-divert and dracut run in the root: not in chrootless mode, nor
	// in a root without dpkg (variant custom).
	if m.mode() != "chrootless" {
		essential = append(essential,
			`[ ! -x "$1"/usr/bin/dpkg-divert ] || chroot "$1" dpkg-divert --quiet --local --rename --divert /usr/bin/dracut.berth-compose --add /usr/bin/dracut`)
		customize = append(customize,
			`[ ! -x "$1"/usr/bin/dpkg-divert ] || chroot "$1" dpkg-divert --quiet --local --rename --remove /usr/bin/dracut`,
			`[ ! -x "$1"/usr/bin/dracut ] || for k in "$1"/boot/vmlinuz-*; do [ -e "$k" ] || continue; v=${k##*/vmlinuz-}; `+
				`echo "dracut: generating /boot/initrd.img-$v"; chroot "$1" dracut --quiet --no-hostonly --compress='gzip -n -1' --force /boot/initrd.img-$v $v || exit 1; done`)
	}
	customize = append(customize, `rm -f "$1"`+dpkgComposeCfg)
	var args []string
	for _, h := range setup {
		args = append(args, "--setup-hook="+h)
	}
	for _, h := range essential {
		args = append(args, "--essential-hook="+h)
	}
	for _, h := range customize {
		args = append(args, "--customize-hook="+h)
	}
	return args
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// pinnedPackages are the treefile's packages, with the versions the
// lockfiles pin (NAME=VERSION, apt's syntax).
func pinnedPackages(def *Definition) ([]string, error) {
	pins := map[string]string{}
	for _, p := range def.Lockfiles {
		data, _ := def.Content(p)
		var lock struct {
			Packages map[string]struct {
				Version string `json:"version"`
				EVRA    string `json:"evra"`
			} `json:"packages"`
		}
		if err := json.Unmarshal(data, &lock); err != nil {
			return nil, fmt.Errorf("lockfile %s: %w", p, err)
		}
		for name, v := range lock.Packages {
			if v.Version != "" {
				pins[name] = v.Version
			}
		}
	}
	out := make([]string, 0, len(def.Treefile.Packages)+len(pins))
	seen := map[string]bool{}
	for _, p := range def.Treefile.Packages {
		name, _, _ := strings.Cut(p, "=")
		if v, ok := pins[name]; ok && !strings.Contains(p, "=") {
			p = name + "=" + v
		}
		seen[name] = true
		out = append(out, p)
	}
	names := make([]string, 0, len(pins))
	for name := range pins {
		if !seen[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, name+"="+pins[name])
	}
	return out, nil
}

// Directory copies a prepared root (tests, and hosts built by other
// tools); its package list comes from its dpkg status, if any.
type Directory struct {
	Path string
}

// Kind names the source.
func (d Directory) Kind() string { return "directory" }

// State digests the tree: paths, modes, link targets and file contents.
func (d Directory) State(ctx context.Context, _ *Definition) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(d.Path, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(d.Path, p)
		info, err := e.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %o", rel, info.Mode())
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, " -> %s", t)
		case e.Type().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		fmt.Fprintln(h)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// Make copies the directory with its modes, owners, links and extended
// attributes.
func (d Directory) Make(ctx context.Context, _ *Definition, dir string, b *Build) error {
	fmt.Fprintf(b.Log, "copying the root from %s\n", d.Path)
	return command{name: "cp", args: []string{"-a", "--", d.Path + "/.", dir + "/"}, log: b.Log}.run(ctx)
}

// DockerImage exports a container image's filesystem from the local
// Docker engine (docker create, docker export) as the root.
type DockerImage struct {
	Image string
}

// Kind names the source.
func (d DockerImage) Kind() string { return "docker-image" }

// State is the image's ID.
func (d DockerImage) State(ctx context.Context, _ *Definition) (string, error) {
	out, err := command{name: "docker", args: []string{"image", "inspect", "--format", "{{.Id}}", d.Image}}.output(ctx)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// Make extracts the image's filesystem into dir; nothing in the archive
// is written outside dir, whatever its names and links say.
func (d DockerImage) Make(ctx context.Context, _ *Definition, dir string, b *Build) error {
	out, err := command{name: "docker", args: []string{"create", d.Image, "/bin/true"}, log: b.Log}.output(ctx)
	if err != nil {
		return err
	}
	id := strings.TrimSpace(string(out))
	defer func() {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = command{name: "docker", args: []string{"rm", "-f", id}}.run(rmCtx)
	}()
	fmt.Fprintf(b.Log, "exporting the filesystem of %s (container %.12s)\n", d.Image, id)
	cmd := exec.CommandContext(ctx, "docker", "export", id)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	extractErr := ExtractTar(stdout, dir)
	if extractErr != nil {
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	if extractErr != nil {
		return extractErr
	}
	return waitErr
}

// ExtractTar unpacks a tar stream into dir through an os.Root: names
// with "..", absolute names and links pointing anywhere cannot place a
// file outside dir. Device nodes are skipped (a tree for OSTree holds
// none).
func ExtractTar(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	type dirTime struct {
		name string
		t    time.Time
	}
	var dirs []dirTime
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read the image's archive: %w", err)
		}
		name, err := CleanTreePath(hdr.Name)
		if err != nil {
			if strings.Trim(hdr.Name, "./") == "" {
				continue // the root itself
			}
			return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
		}
		mode := hdr.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			dirs = append(dirs, dirTime{name, hdr.ModTime})
		case tar.TypeReg:
			_ = root.Remove(name)
			f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			_ = root.Remove(name)
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return err
			}
		case tar.TypeLink:
			target, err := CleanTreePath(hdr.Linkname)
			if err != nil {
				return fmt.Errorf("archive entry %q: link %w", hdr.Name, err)
			}
			_ = root.Remove(name)
			if err := root.Link(target, name); err != nil {
				return err
			}
		default:
			continue
		}
		if err := root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeSymlink {
			if err := root.Chmod(name, mode); err != nil {
				return err
			}
			_ = root.Chtimes(name, hdr.ModTime, hdr.ModTime)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = root.Chtimes(dirs[i].name, dirs[i].t, dirs[i].t)
	}
	return nil
}
