package hostimage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// assembler applies a treefile to a root, through an os.Root: whatever
// links the packages or the definition put in the tree, no path it
// writes or removes is outside it.
type assembler struct {
	def  *Definition
	dir  string // the root, on the host
	root *os.Root
	log  io.Writer
}

// unitDirs are where units are looked for, in systemd's order.
var unitDirs = []string{"etc/systemd/system", "usr/lib/systemd/system"}

// addFiles writes the definition's add-files, with their source's mode.
func (a *assembler) addFiles() error {
	for _, f := range a.def.Treefile.AddFiles {
		data, _ := a.def.Content(f.Path)
		mode := os.FileMode(0o644)
		if a.def.Executable(f.Path) {
			mode = 0o755
		}
		dest := strings.TrimPrefix(f.Dest, "/")
		fmt.Fprintf(a.log, "add-files: %s → %s\n", f.Source, f.Dest)
		if err := a.writeFile(dest, data, mode); err != nil {
			return fmt.Errorf("add-files %s: %w", f.Dest, err)
		}
	}
	return nil
}

// writeFile replaces whatever is at name (a file, or a link, which is not
// followed) with a regular file.
func (a *assembler) writeFile(name string, data []byte, mode os.FileMode) error {
	if d := path.Dir(name); d != "." {
		if err := a.root.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if info, err := a.root.Lstat(name); err == nil {
		if info.IsDir() {
			return fmt.Errorf("/%s is a directory in the tree", name)
		}
		if err := a.root.Remove(name); err != nil {
			return err
		}
	}
	f, err := a.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return a.root.Chmod(name, mode)
}

// enableUnits links each unit into multi-user.target.wants, as
// rpm-ostree's units key does (whatever the unit's WantedBy says).
func (a *assembler) enableUnits() error {
	for _, u := range a.def.Treefile.Units {
		target, err := a.unitPath(u)
		if err != nil {
			return err
		}
		link := path.Join("etc/systemd/system/multi-user.target.wants", u)
		fmt.Fprintf(a.log, "units: %s → %s\n", "/"+link, target)
		if err := a.symlink(target, link); err != nil {
			return fmt.Errorf("units %s: %w", u, err)
		}
	}
	if t := a.def.Treefile.DefaultTarget; t != "" {
		target, err := a.unitPath(t)
		if err != nil {
			return fmt.Errorf("default-target: %w", err)
		}
		fmt.Fprintf(a.log, "default-target: %s\n", target)
		if err := a.symlink(target, "etc/systemd/system/default.target"); err != nil {
			return fmt.Errorf("default-target: %w", err)
		}
	}
	return nil
}

// unitPath finds a unit's file in the tree; an instance is found by its
// template.
func (a *assembler) unitPath(u string) (string, error) {
	names := []string{u}
	if at := strings.Index(u, "@"); at > 0 {
		names = append(names, u[:at+1]+u[strings.LastIndex(u, "."):])
	}
	for _, dir := range unitDirs {
		for _, n := range names {
			if _, err := a.root.Stat(path.Join(dir, n)); err == nil {
				return "/" + path.Join(dir, n), nil
			}
		}
	}
	return "", fmt.Errorf("unit %s is in no package and no add-files (looked in /%s)", u, strings.Join(unitDirs, ", /"))
}

func (a *assembler) symlink(target, link string) error {
	if err := a.root.MkdirAll(path.Dir(link), 0o755); err != nil {
		return err
	}
	if err := a.root.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return a.root.Symlink(target, link)
}

// removeFiles deletes the remove-files paths (and what is below them).
func (a *assembler) removeFiles() error {
	for _, p := range a.def.Treefile.RemoveFiles {
		clean, err := CleanTreePath(p)
		if err != nil {
			return fmt.Errorf("remove-files: %w", err)
		}
		fmt.Fprintf(a.log, "remove-files: /%s\n", clean)
		if err := a.root.RemoveAll(clean); err != nil {
			return fmt.Errorf("remove-files /%s: %w", clean, err)
		}
	}
	return nil
}

// docDirs hold documentation, which documentation: false leaves out.
var docDirs = []string{"usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/gtk-doc"}

func (a *assembler) removeDocumentation() error {
	if a.def.Treefile.DocumentationWanted() {
		return nil
	}
	for _, d := range docDirs {
		entries, err := fs.ReadDir(a.root.FS(), d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			p := path.Join(d, e.Name())
			if d == "usr/share/doc" && e.IsDir() {
				// Debian's copyright files stay, as --excludedocs keeps
				// licences.
				if err := a.removeExcept(p, "copyright"); err != nil {
					return err
				}
				continue
			}
			if err := a.root.RemoveAll(p); err != nil {
				return err
			}
		}
	}
	fmt.Fprintln(a.log, "documentation: false: removed /"+strings.Join(docDirs, ", /"))
	return nil
}

// removeLanguages deletes the translations install-langs does not keep
// (a root from mmdebstrap never had them unpacked; other roots do).
func (a *assembler) removeLanguages() error {
	tf := a.def.Treefile
	entries, err := fs.ReadDir(a.root.FS(), localeDir)
	if err != nil || len(tf.InstallLangs) == 0 {
		return nil // no translations, or all of them wanted
	}
	removed := 0
	for _, e := range entries {
		if !e.IsDir() || tf.localeWanted(e.Name()) {
			continue
		}
		if err := a.root.RemoveAll(path.Join(localeDir, e.Name())); err != nil {
			return err
		}
		removed++
	}
	fmt.Fprintf(a.log, "install-langs %s: removed the translations of %d other locales from /%s\n",
		strings.Join(tf.InstallLangs, ", "), removed, localeDir)
	return nil
}

func (a *assembler) removeExcept(dir, keep string) error {
	entries, err := fs.ReadDir(a.root.FS(), dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != keep {
			if err := a.root.RemoveAll(path.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// postprocess runs the postprocess-script and then the inline scripts in
// the root, without network (runInRoot).
func (a *assembler) postprocess(ctx context.Context) error {
	var scripts [][]byte
	if p := a.def.Treefile.PostprocessScriptPath(); p != "" {
		data, _ := a.def.Content(p)
		scripts = append(scripts, data)
	}
	for _, s := range a.def.Treefile.Postprocess {
		scripts = append(scripts, []byte(s))
	}
	if len(scripts) == 0 {
		return nil
	}
	// The scripts go in a directory bwrap mounts over, not in the tree.
	dir, err := os.MkdirTemp(filepath.Dir(a.dir), "postprocess-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for i, s := range scripts {
		name := fmt.Sprintf("postprocess-%d", i)
		if err := os.WriteFile(filepath.Join(dir, name), s, 0o755); err != nil {
			return err
		}
		fmt.Fprintf(a.log, "postprocess %d of %d (no network)\n", i+1, len(scripts))
		argv := []string{"/bin/sh", "/run/berth-postprocess/" + name}
		if strings.HasPrefix(string(s), "#!") {
			argv = []string{"/run/berth-postprocess/" + name}
		}
		if err := runInRoot(ctx, a.dir, a.log, map[string]string{dir: "/run/berth-postprocess"}, argv...); err != nil {
			return fmt.Errorf("postprocess %d: %w", i+1, err)
		}
	}
	return nil
}

var kernelPattern = regexp.MustCompile(`^vmlinuz-(.+)$`)

// kernelLayout moves a Debian kernel (/boot/vmlinuz-V, initrd.img-V) where
// OSTree looks for it (/usr/lib/modules/V/vmlinuz, initramfs.img) and
// reports whether the tree has one.
func (a *assembler) kernelLayout() (bool, error) {
	found := false
	entries, _ := fs.ReadDir(a.root.FS(), "boot")
	for _, e := range entries {
		m := kernelPattern.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		v := m[1]
		mod := path.Join("usr/lib/modules", v)
		if err := a.root.MkdirAll(mod, 0o755); err != nil {
			return false, err
		}
		moves := map[string]string{"vmlinuz-" + v: "vmlinuz", "initrd.img-" + v: "initramfs.img", "config-" + v: "config", "System.map-" + v: "System.map"}
		for from, to := range moves {
			if _, err := a.root.Lstat(path.Join("boot", from)); err != nil {
				continue
			}
			if err := a.root.Rename(path.Join("boot", from), path.Join(mod, to)); err != nil {
				return false, fmt.Errorf("kernel %s: %w", v, err)
			}
		}
		fmt.Fprintf(a.log, "kernel %s → /%s/vmlinuz\n", v, mod)
		found = true
	}
	if !found {
		mods, _ := fs.ReadDir(a.root.FS(), "usr/lib/modules")
		for _, m := range mods {
			if _, err := a.root.Stat(path.Join("usr/lib/modules", m.Name(), "vmlinuz")); err == nil {
				found = true
			}
		}
	}
	// Debian's /vmlinuz and /initrd.img links point into /boot, now empty.
	for _, l := range []string{"vmlinuz", "vmlinuz.old", "initrd.img", "initrd.img.old"} {
		if info, err := a.root.Lstat(l); err == nil && info.Mode()&fs.ModeSymlink != 0 {
			_ = a.root.Remove(l)
		}
	}
	return found, nil
}

// finalize empties /etc/machine-id (a host makes its own at first boot;
// machineid-compat: false leaves none),
// empties the API filesystems' mount points, and removes what a commit
// cannot hold (device nodes, sockets, FIFOs).
func (a *assembler) finalize() error {
	if c := a.def.Treefile.MachineidCompat; c != nil && !*c {
		if err := a.root.Remove("etc/machine-id"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	} else if err := a.writeFile("etc/machine-id", nil, 0o444); err != nil {
		return fmt.Errorf("/etc/machine-id: %w", err)
	}
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "var/tmp"} {
		entries, err := fs.ReadDir(a.root.FS(), d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if err := a.root.RemoveAll(path.Join(d, e.Name())); err != nil {
				return fmt.Errorf("empty /%s: %w", d, err)
			}
		}
	}
	var special []string
	err := fs.WalkDir(a.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if t := d.Type(); t&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0 {
			special = append(special, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range special {
		fmt.Fprintf(a.log, "removing /%s: OSTree commits hold no device nodes, sockets or FIFOs\n", p)
		if err := a.root.Remove(p); err != nil {
			return err
		}
	}
	return nil
}

// mountPoints are the directories a booted deployment mounts on: /sysroot
// (the physical root), /boot and /var (the stateroot's) from
// ostree-prepare-root, and the kernel's file systems from systemd.
var mountPoints = []string{"boot", "dev", "proc", "run", "sys", "sysroot", "tmp", "var"}

// deploymentLayout gives a bootable tree the layout ostree admin deploy
// and a booted deployment need, as rpm-ostree composes it: /etc moved to
// /usr/etc (deploy refuses a tree without it, and makes each deployment's
// /etc from it, merged with the previous one's), the mount points, among
// them an empty /sysroot, where the physical root is mounted at boot, and /ostree linked to
// sysroot/ostree, where ostree finds its repository and deployments. A
// tree without a kernel is not deployed and keeps its /etc.
func (a *assembler) deploymentLayout(bootable bool) error {
	if !bootable {
		return nil
	}
	if _, err := a.root.Lstat("usr/etc"); err == nil {
		return errors.New("the tree holds both /etc and /usr/etc: a bootable tree's /etc is moved to /usr/etc, which must not exist")
	}
	if info, err := a.root.Lstat("etc"); err == nil && info.IsDir() {
		if err := a.root.Rename("etc", "usr/etc"); err != nil {
			return fmt.Errorf("/etc → /usr/etc: %w", err)
		}
		fmt.Fprintln(a.log, "deployment layout: /etc → /usr/etc")
	}
	// The mount points a booted deployment needs, which a root of a few
	// packages may lack (rpm-ostree's filesystem package has them).
	var made []string
	for _, d := range mountPoints {
		if _, err := a.root.Lstat(d); errors.Is(err, fs.ErrNotExist) {
			if err := a.root.MkdirAll(d, 0o755); err != nil {
				return err
			}
			made = append(made, "/"+d)
		}
	}
	if len(made) > 0 {
		fmt.Fprintf(a.log, "deployment layout: mount points %s\n", strings.Join(made, " "))
	}
	if info, err := a.root.Lstat("ostree"); err == nil {
		if info.Mode()&fs.ModeSymlink == 0 {
			return errors.New("/ostree is in the tree: a bootable tree links it to sysroot/ostree")
		}
		if err := a.root.Remove("ostree"); err != nil {
			return err
		}
	}
	fmt.Fprintln(a.log, "deployment layout: /sysroot, /ostree → sysroot/ostree")
	return a.root.Symlink("sysroot/ostree", "ostree")
}

// packages lists the tree's packages from its dpkg status.
func (a *assembler) packages() ([]Package, error) {
	data, err := a.root.ReadFile("var/lib/dpkg/status")
	if errors.Is(err, fs.ErrNotExist) {
		return []Package{}, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseDpkgStatus(data)
}

// mutateOsRelease writes the commit's version into /usr/lib/os-release,
// as rpm-ostree's mutate-os-release does: VERSION and PRETTY_NAME have
// the given string replaced by the version, and OSTREE_VERSION is added.
func (a *assembler) mutateOsRelease(version string) error {
	from := a.def.Treefile.MutateOsRelease
	if from == "" {
		return nil
	}
	name := "usr/lib/os-release"
	data, err := a.root.ReadFile(name)
	if err != nil {
		return fmt.Errorf("mutate-os-release: %w", err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if strings.HasPrefix(l, "OSTREE_VERSION=") {
			continue
		}
		if strings.HasPrefix(l, "VERSION=") || strings.HasPrefix(l, "PRETTY_NAME=") {
			l = strings.ReplaceAll(l, from, version)
		}
		lines = append(lines, l)
	}
	lines = append(lines, fmt.Sprintf("OSTREE_VERSION='%s'", version))
	return a.writeFile(name, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// checkoutLayers puts the ostree-layers refs' trees on the root, after the
// packages: a file a layer shares with a package must be identical.
// ostree checkout --union-identical would say so, but it needs hardlinks,
// which an archive repository (the one hosts pull from) cannot give: each
// layer is checked out beside the root, compared with it, and then put on
// it with --union.
func (a *assembler) checkoutLayers(ctx context.Context, repo *Repo) error {
	for _, ref := range a.def.Treefile.OstreeLayers {
		fmt.Fprintf(a.log, "ostree-layers: %s\n", ref)
		if err := a.checkoutLayer(ctx, repo, ref); err != nil {
			return fmt.Errorf("ostree-layers %s: %w", ref, err)
		}
	}
	return nil
}

func (a *assembler) checkoutLayer(ctx context.Context, repo *Repo, ref string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(a.dir), "layer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "tree")
	if err := repo.cmd(a.log, "checkout", "--force-copy", ref, tree).run(ctx); err != nil {
		return err
	}
	if err := a.layerConflicts(tree); err != nil {
		return err
	}
	return repo.cmd(a.log, "checkout", "--union", "--force-copy", ref, a.dir).run(ctx)
}

// layerConflicts finds a path of the layer tree that the root holds
// otherwise: a file of other content, a link to elsewhere, or another
// kind of entry.
func (a *assembler) layerConflicts(tree string) error {
	return filepath.WalkDir(tree, func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == tree {
			return err
		}
		rel, err := filepath.Rel(tree, p)
		if err != nil {
			return err
		}
		have, err := a.root.Lstat(rel)
		if errors.Is(err, fs.ErrNotExist) {
			if e.IsDir() {
				return fs.SkipDir // nothing of the root below it
			}
			return nil
		}
		if err != nil {
			return err
		}
		conflict := fmt.Errorf("/%s differs between the layer and the tree below it (a layer may only add files, or repeat identical ones)", rel)
		if have.Mode().Type() != e.Type() {
			return conflict
		}
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			mine, err := os.Readlink(p)
			if err != nil {
				return err
			}
			theirs, err := a.root.Readlink(rel)
			if err != nil || theirs != mine {
				return conflict
			}
		case e.Type().IsRegular():
			mine, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			theirs, err := a.root.ReadFile(rel)
			if err != nil || !bytes.Equal(mine, theirs) {
				return conflict
			}
		}
		return nil
	})
}
