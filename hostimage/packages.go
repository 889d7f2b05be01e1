package hostimage

import (
	"fmt"
	"sort"
	"strings"
)

// Package is one installed package, as a commit's metadata lists it.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
}

// Commit metadata keys.
const (
	// MetaPackages lists the packages of a commit Berth composed, a(sss):
	// name, version, architecture.
	MetaPackages = "berth.packages"
	// MetaInputHash is the input hash the commit was composed from.
	MetaInputHash = "berth.inputhash"
	// MetaVersion is OSTree's own version key.
	MetaVersion = "version"
	// metaRpmPackages is rpm-ostree's list, a(stsss): name, epoch,
	// version, release, architecture.
	metaRpmPackages = "rpmostree.rpmdb.pkglist"
)

// ParseDpkgStatus lists the installed packages of a dpkg status file
// (/var/lib/dpkg/status), sorted by name.
func ParseDpkgStatus(data []byte) ([]Package, error) {
	stanzas, err := parseDeb822(string(data))
	if err != nil {
		return nil, fmt.Errorf("dpkg status: %w", err)
	}
	var out []Package
	for _, st := range stanzas {
		if !strings.HasSuffix(st["Status"], " installed") || st["Package"] == "" {
			continue
		}
		out = append(out, Package{Name: st["Package"], Version: st["Version"], Arch: st["Architecture"]})
	}
	sortPackages(out)
	return out, nil
}

func sortPackages(pkgs []Package) {
	sort.Slice(pkgs, func(i, j int) bool {
		if pkgs[i].Name != pkgs[j].Name {
			return pkgs[i].Name < pkgs[j].Name
		}
		return pkgs[i].Arch < pkgs[j].Arch
	})
}

// packagesGVariant is the package list as a GVariant a(sss) literal.
func packagesGVariant(pkgs []Package) string {
	if len(pkgs) == 0 {
		return "@a(sss) []"
	}
	parts := make([]string, len(pkgs))
	for i, p := range pkgs {
		parts[i] = "(" + gvString(p.Name) + ", " + gvString(p.Version) + ", " + gvString(p.Arch) + ")"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// parsePackages reads Berth's a(sss) list, or rpm-ostree's a(stsss).
func parsePackages(text string) ([]Package, error) {
	v, err := parseGVariant(text)
	if err != nil {
		return nil, err
	}
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("package list: not an array")
	}
	out := make([]Package, 0, len(items))
	for _, it := range items {
		t, ok := it.([]any)
		if !ok {
			return nil, fmt.Errorf("package list: an item is not a tuple")
		}
		s := make([]string, len(t))
		for i, f := range t {
			s[i] = fmt.Sprint(f)
		}
		switch len(t) {
		case 3:
			out = append(out, Package{Name: s[0], Version: s[1], Arch: s[2]})
		case 5: // rpm: name, epoch, version, release, arch
			ver := s[2] + "-" + s[3]
			if s[1] != "0" && s[1] != "" {
				ver = s[1] + ":" + ver
			}
			out = append(out, Package{Name: s[0], Version: ver, Arch: s[4]})
		default:
			return nil, fmt.Errorf("package list: a tuple of %d fields", len(t))
		}
	}
	sortPackages(out)
	return out, nil
}

// PackageChange is a package whose version changed between two commits.
type PackageChange struct {
	Name string `json:"name"`
	Arch string `json:"arch"`
	From string `json:"from"`
	To   string `json:"to"`
}

// PackageDiff is what changed in the package list from one commit to
// another.
type PackageDiff struct {
	Added   []Package       `json:"added"`
	Removed []Package       `json:"removed"`
	Changed []PackageChange `json:"changed"`
}

// DiffPackages compares two package lists.
func DiffPackages(from, to []Package) PackageDiff {
	key := func(p Package) string { return p.Name + "\x00" + p.Arch }
	old := map[string]Package{}
	for _, p := range from {
		old[key(p)] = p
	}
	d := PackageDiff{Added: []Package{}, Removed: []Package{}, Changed: []PackageChange{}}
	seen := map[string]bool{}
	for _, p := range to {
		k := key(p)
		seen[k] = true
		o, ok := old[k]
		switch {
		case !ok:
			d.Added = append(d.Added, p)
		case o.Version != p.Version:
			d.Changed = append(d.Changed, PackageChange{Name: p.Name, Arch: p.Arch, From: o.Version, To: p.Version})
		}
	}
	for _, p := range from {
		if !seen[key(p)] {
			d.Removed = append(d.Removed, p)
		}
	}
	return d
}
