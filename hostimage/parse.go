package hostimage

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// fileParser turns one treefile's keys into a layer.
type fileParser struct {
	l    *loader
	file string
	dir  string
	raw  map[string]any
	json bool // JSON treefiles may carry comment keys, as rpm-ostree's do
	tf   Treefile
}

func (p *fileParser) add(key, detail string) { p.l.ps.add(p.file, key, detail) }

// keyKinds are the keys Berth reads, with the shape of their values.
var keyKinds = map[string]string{
	"ref": "string", "basearch": "string", "releasever": "string", "gpg-key": "string",
	"boot-location": "string", "default-target": "string", "automatic-version-prefix": "string",
	"mutate-os-release": "string", "postprocess-script": "string",
	"selinux": "bool", "container": "bool", "recommends": "bool", "documentation": "bool",
	"tmp-is-dir": "bool", "machineid-compat": "bool", "preserve-passwd": "bool", "readonly-executables": "bool",
	"repos": "strings", "lockfile-repos": "strings", "packages": "strings", "exclude-packages": "strings",
	"ostree-layers": "strings", "ostree-override-layers": "strings", "install-langs": "strings",
	"initramfs-args": "strings", "units": "strings", "etc-group-members": "strings",
	"ignore-removed-users": "strings", "ignore-removed-groups": "strings", "postprocess": "strings",
	"remove-files": "strings",
	"add-files":    "pairs", "remove-from-packages": "lists",
	"add-commit-metadata": "map", "metadata": "map", "check-passwd": "map", "check-groups": "map",
	"include": "include", "arch-include": "arch-include",
}

func (p *fileParser) parse() (*Treefile, []string) {
	keys := make([]string, 0, len(p.raw))
	for k := range p.raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var includes, archIncludes []string
	var archPackages []string
	for _, k := range keys {
		v := p.raw[k]
		if strings.HasPrefix(k, "packages-") {
			list, ok := p.strings(k, v)
			if ok && k == "packages-"+p.l.basearch {
				archPackages = list
			}
			continue
		}
		kind, known := keyKinds[k]
		if !known {
			if p.json && (strings.HasPrefix(k, "comment") || strings.HasPrefix(k, "#")) {
				continue
			}
			p.add(k, "unknown key"+suggest(k))
			continue
		}
		switch kind {
		case "string":
			if s, ok := v.(string); ok {
				p.setString(k, s)
			} else {
				p.add(k, "must be a string")
			}
		case "bool":
			if b, ok := v.(bool); ok {
				p.setBool(k, b)
			} else {
				p.add(k, "must be true or false")
			}
		case "strings":
			if list, ok := p.strings(k, v); ok {
				p.setStrings(k, list)
			}
		case "pairs":
			p.addFiles(v)
		case "lists":
			p.removeFromPackages(v)
		case "map":
			m, ok := v.(map[string]any)
			if !ok {
				p.add(k, "must be a mapping")
				continue
			}
			p.setMap(k, m)
		case "include":
			includes = append(includes, p.includes(k, v)...)
		case "arch-include":
			m, ok := v.(map[string]any)
			if !ok {
				p.add(k, "must be a mapping of architecture to treefiles")
				continue
			}
			if inc, ok := m[p.l.basearch]; ok {
				archIncludes = append(archIncludes, p.includes(k+"."+p.l.basearch, inc)...)
			}
		}
	}
	p.tf.Packages = splitPackages(append(p.tf.Packages, archPackages...))
	p.check()
	return &p.tf, append(includes, archIncludes...)
}

func (p *fileParser) strings(key string, v any) ([]string, bool) {
	items, ok := v.([]any)
	if !ok {
		p.add(key, "must be a list of strings")
		return nil, false
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		s, ok := it.(string)
		if !ok {
			p.add(fmt.Sprintf("%s[%d]", key, i), "must be a string")
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func (p *fileParser) includes(key string, v any) []string {
	var names []string
	switch x := v.(type) {
	case string:
		names = []string{x}
	case []any:
		list, ok := p.strings(key, x)
		if !ok {
			return nil
		}
		names = list
	default:
		p.add(key, "must be a file name or a list of them")
		return nil
	}
	var out []string
	for i, n := range names {
		full, err := resolve(p.dir, n)
		if err != nil {
			k := key
			if len(names) > 1 {
				k = fmt.Sprintf("%s[%d]", key, i)
			}
			p.add(k, err.Error())
			continue
		}
		out = append(out, full)
	}
	return out
}

func (p *fileParser) setString(k, s string) {
	t := &p.tf
	switch k {
	case "ref":
		t.Ref = s
	case "basearch":
		t.Basearch = s
	case "releasever":
		t.Releasever = s
	case "gpg-key":
		t.GPGKey = s
	case "boot-location":
		t.BootLocation = s
	case "default-target":
		t.DefaultTarget = s
	case "automatic-version-prefix":
		t.AutomaticVersionPrefix = s
	case "mutate-os-release":
		t.MutateOsRelease = s
	case "postprocess-script":
		t.PostprocessScript = s
		full, err := resolve(p.dir, s)
		if err != nil {
			p.add(k, err.Error())
			return
		}
		if _, err := p.l.fsys.ReadFile(full); err != nil {
			p.add(k, fmt.Sprintf("%s: %s", full, readProblem(err)))
			return
		}
		t.postprocessScriptPath = full
	}
}

func (p *fileParser) setBool(k string, b bool) {
	t := &p.tf
	ptr := &b
	switch k {
	case "selinux":
		t.Selinux = ptr
	case "container":
		t.Container = ptr
	case "recommends":
		t.Recommends = ptr
	case "documentation":
		t.Documentation = ptr
	case "tmp-is-dir":
		t.TmpIsDir = ptr
	case "machineid-compat":
		t.MachineidCompat = ptr
	case "preserve-passwd":
		t.PreservePasswd = ptr
	case "readonly-executables":
		t.ReadonlyExecutable = ptr
	}
}

func (p *fileParser) setStrings(k string, list []string) {
	t := &p.tf
	switch k {
	case "repos":
		t.Repos = list
	case "lockfile-repos":
		t.LockfileRepos = list
	case "packages":
		t.Packages = list
	case "exclude-packages":
		t.ExcludePackages = list
	case "ostree-layers":
		t.OstreeLayers = list
	case "ostree-override-layers":
		t.OstreeOverrideLayers = list
	case "install-langs":
		t.InstallLangs = list
	case "initramfs-args":
		t.InitramfsArgs = list
	case "units":
		t.Units = list
	case "etc-group-members":
		t.EtcGroupMembers = list
	case "ignore-removed-users":
		t.IgnoreRemovedUsers = list
	case "ignore-removed-groups":
		t.IgnoreRemovedGroups = list
	case "postprocess":
		t.Postprocess = list
	case "remove-files":
		t.RemoveFiles = list
	}
}

func (p *fileParser) setMap(k string, m map[string]any) {
	t := &p.tf
	m = plainNumbers(m).(map[string]any)
	switch k {
	case "add-commit-metadata":
		t.AddCommitMetadata = m
	case "metadata":
		t.Metadata = m
	case "check-passwd":
		t.CheckPasswd = m
	case "check-groups":
		t.CheckGroups = m
	}
}

// plainNumbers turns the decoder's json.Numbers into int64 or float64, so
// that the expanded treefile prints them as numbers.
func plainNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = plainNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = plainNumbers(e)
		}
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

func (p *fileParser) addFiles(v any) {
	items, ok := v.([]any)
	if !ok {
		p.add("add-files", "must be a list of [source, destination] pairs")
		return
	}
	for i, it := range items {
		key := fmt.Sprintf("add-files[%d]", i)
		pair, ok := it.([]any)
		if !ok || len(pair) != 2 {
			p.add(key, "must be a pair [source, destination]")
			continue
		}
		src, ok1 := pair[0].(string)
		dest, ok2 := pair[1].(string)
		if !ok1 || !ok2 {
			p.add(key, "must be a pair of strings [source, destination]")
			continue
		}
		full, err := resolve(p.dir, src)
		if err != nil {
			p.add(key, "source "+err.Error())
			continue
		}
		if _, err := p.l.fsys.ReadFile(full); err != nil {
			p.add(key, fmt.Sprintf("source %s: %s", full, readProblem(err)))
			continue
		}
		if err := checkAddFileDest(dest); err != nil {
			p.add(key, err.Error())
			continue
		}
		p.tf.AddFiles = append(p.tf.AddFiles, AddFile{Source: src, Dest: dest, Path: full})
	}
}

// checkAddFileDest accepts destinations under /usr (but not /usr/local,
// which OSTree hosts keep in /var) and /etc: the parts of a tree a commit
// holds.
func checkAddFileDest(dest string) error {
	clean := path.Clean("/" + dest)
	switch {
	case !strings.HasPrefix(dest, "/"):
		return fmt.Errorf("destination %q must be an absolute path", dest)
	case clean != dest:
		return fmt.Errorf("destination %q is not a clean path (want %q)", dest, clean)
	case strings.HasPrefix(clean, "/usr/local/") || clean == "/usr/local":
		return fmt.Errorf("destination %q is under /usr/local, which OSTree hosts keep in /var: use /usr or /etc", dest)
	case !strings.HasPrefix(clean, "/usr/") && !strings.HasPrefix(clean, "/etc/"):
		return fmt.Errorf("destination %q is outside /usr and /etc", dest)
	}
	return nil
}

func (p *fileParser) removeFromPackages(v any) {
	items, ok := v.([]any)
	if !ok {
		p.add("remove-from-packages", "must be a list of [package, path...] lists")
		return
	}
	for i, it := range items {
		list, ok := p.strings(fmt.Sprintf("remove-from-packages[%d]", i), it)
		if !ok {
			continue
		}
		if len(list) < 2 {
			p.add(fmt.Sprintf("remove-from-packages[%d]", i), "must name a package and at least one path")
			continue
		}
		p.tf.RemoveFromPackages = append(p.tf.RemoveFromPackages, list)
	}
}

var unitPattern = regexp.MustCompile(`^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?\.(service|socket|target|timer|path|mount|automount|swap|slice|device)$`)

// check validates the items of one file's keys, naming the file.
func (p *fileParser) check() {
	t := &p.tf
	for i, u := range t.Units {
		if !unitPattern.MatchString(u) || len(u) > 255 {
			p.add(fmt.Sprintf("units[%d]", i), fmt.Sprintf("%q is not a systemd unit name (want NAME.service, NAME.socket, NAME.timer, NAME.target ...)", u))
		} else if strings.Contains(u, "@.") {
			p.add(fmt.Sprintf("units[%d]", i), fmt.Sprintf("%q is a template: enable an instance of it (NAME@INSTANCE.service)", u))
		}
	}
	if t.DefaultTarget != "" && (!unitPattern.MatchString(t.DefaultTarget) || !strings.HasSuffix(t.DefaultTarget, ".target")) {
		p.add("default-target", fmt.Sprintf("%q is not a systemd target (want NAME.target)", t.DefaultTarget))
	}
	for i, r := range t.RemoveFiles {
		if _, err := CleanTreePath(r); err != nil {
			p.add(fmt.Sprintf("remove-files[%d]", i), err.Error())
		}
	}
	for i, r := range t.OstreeLayers {
		if !validRef(r) {
			p.add(fmt.Sprintf("ostree-layers[%d]", i), fmt.Sprintf("%q is not an OSTree ref", r))
		}
	}
	for i, pkg := range t.Packages {
		if !validPackage(pkg) {
			p.add(fmt.Sprintf("packages[%d]", i), fmt.Sprintf("%q is not a package name", pkg))
		}
	}
	for i, l := range t.InstallLangs {
		if !langPattern.MatchString(l) {
			p.add(fmt.Sprintf("install-langs[%d]", i), fmt.Sprintf("%q is not a locale (en_US, pt_BR, sr@latin, all)", l))
		}
	}
	if t.BootLocation != "" && t.BootLocation != "new" && t.BootLocation != "modules" {
		p.add("boot-location", fmt.Sprintf("%q: want new or modules", t.BootLocation))
	}
}

// CleanTreePath turns a path in the tree ("usr/share/doc", "/etc/x") into
// one relative to the tree's root, refusing what would name the root
// itself or climb out of it.
func CleanTreePath(p string) (string, error) {
	if p == "" || strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%q is not a path", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("%q climbs out of the tree (..)", p)
		}
	}
	clean := strings.TrimPrefix(path.Clean("/"+p), "/")
	if clean == "" {
		return "", fmt.Errorf("%q names the whole tree", p)
	}
	return clean, nil
}

var packagePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9+._~:-]*(=[A-Za-z0-9+._~:-]+)?$`)

// langPattern is a locale's name: language, then territory, codeset and
// modifier.
var langPattern = regexp.MustCompile(`^[A-Za-z]{1,8}(_[A-Za-z0-9]{1,8})?(\.[A-Za-z0-9-]{1,16})?(@[A-Za-z0-9]{1,16})?$`)

func validPackage(s string) bool { return len(s) <= 255 && packagePattern.MatchString(s) }

// splitPackages splits items on white space, as rpm-ostree allows
// ("foo bar" is two packages).
func splitPackages(pkgs []string) []string {
	if pkgs == nil {
		return nil
	}
	out := make([]string, 0, len(pkgs))
	for _, p := range pkgs {
		out = append(out, strings.Fields(p)...)
	}
	return out
}

// suggest names a known key close to an unknown one.
func suggest(k string) string {
	norm := strings.ReplaceAll(strings.ToLower(k), "_", "-")
	if _, ok := keyKinds[norm]; ok && norm != k {
		return fmt.Sprintf(" (did you mean %q?)", norm)
	}
	best, bestD := "", 3
	for known := range keyKinds {
		if d := editDistance(norm, known); d < bestD || (d == bestD && known < best) {
			best, bestD = known, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
