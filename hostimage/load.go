package hostimage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// maxIncludeDepth bounds include nesting, as rpm-ostree's
// INCLUDE_MAXDEPTH does.
const maxIncludeDepth = 50

// LoadOptions tune Load.
type LoadOptions struct {
	// Basearch is the architecture composed for (rpm-ostree's ${basearch});
	// default the machine's (Basearch()).
	Basearch string
}

// Definition is a loaded, expanded and validated treefile with the files
// it reads.
type Definition struct {
	// Main is the top treefile, relative to the definition's directory.
	Main     string
	Treefile *Treefile
	// Treefiles are the treefiles read, the main one first.
	Treefiles []string
	// RepoKind is "deb" when the repos are deb822 NAME.sources files
	// beside the main treefile, "rpm" when they are sections of *.repo
	// files there.
	RepoKind string
	// RepoFiles are the *.sources or *.repo files the repos come from, in
	// the order the treefile's repos first name them.
	RepoFiles []string
	// Lockfiles pin package versions: manifest-lock.json and
	// manifest-lock.BASEARCH.json beside the main treefile, as
	// coreos-assembler names them.
	Lockfiles []string

	// content and executable hold every input as read.
	content    map[string][]byte
	executable map[string]bool
}

// Content returns an input of the definition as read ("" and false for a
// file that is not one of Inputs).
func (d *Definition) Content(p string) ([]byte, bool) {
	data, ok := d.content[p]
	return data, ok
}

// Executable reports whether an input is executable (its mode, or the
// stored file's flag).
func (d *Definition) Executable(p string) bool { return d.executable[p] }

// Files returns the definition's inputs as stored files: what the server
// keeps of a definition loaded from a directory.
func (d *Definition) Files() Files {
	var out Files
	for _, p := range d.Inputs() {
		out = append(out, File{Path: p, Content: string(d.content[p]), Executable: d.executable[p]})
	}
	return out
}

// Inputs are every file the definition reads, sorted: treefiles, added
// files, the postprocess script, repo files and lockfiles.
func (d *Definition) Inputs() []string {
	set := map[string]bool{}
	for _, p := range d.Treefiles {
		set[p] = true
	}
	for _, a := range d.Treefile.AddFiles {
		set[a.Path] = true
	}
	if p := d.Treefile.postprocessScriptPath; p != "" {
		set[p] = true
	}
	for _, p := range d.RepoFiles {
		set[p] = true
	}
	for _, p := range d.Lockfiles {
		set[p] = true
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// LoadFiles loads the treefile main of a stored definition.
func LoadFiles(files Files, main string, opts LoadOptions) (*Definition, error) {
	if err := files.Check(); err != nil {
		return nil, err
	}
	return load(filesFS(files), main, opts)
}

// LoadDir loads the treefile main (relative to dir) of a definition kept
// in a directory; nothing outside dir is read, whatever the treefiles say
// and whatever symbolic links dir holds.
func LoadDir(dir, main string, opts LoadOptions) (*Definition, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return load(root.FS(), main, opts)
}

// filesFS serves a definition's files to the loader.
type filesFS Files

func (f filesFS) ReadFile(name string) ([]byte, error) {
	if file, ok := Files(f).Get(name); ok {
		return []byte(file.Content), nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// Stat answers only the mode, for Executable.
func (f filesFS) Stat(name string) (fs.FileInfo, error) {
	if file, ok := Files(f).Get(name); ok {
		return fileInfo{file}, nil
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

type fileInfo struct{ f File }

func (i fileInfo) Name() string       { return path.Base(i.f.Path) }
func (i fileInfo) Size() int64        { return int64(len(i.f.Content)) }
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }
func (i fileInfo) Mode() fs.FileMode {
	if i.f.Executable {
		return 0o755
	}
	return 0o644
}

func isExecutable(fsys fs.FS, p string) bool {
	info, err := fs.Stat(fsys, p)
	return err == nil && info.Mode()&0o111 != 0
}

func (f filesFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: errors.ErrUnsupported}
}

func (f filesFS) ReadDir(name string) ([]fs.DirEntry, error) {
	var out []fs.DirEntry
	for _, file := range Files(f).Sorted() {
		if path.Dir(file.Path) == name {
			out = append(out, fileEntry(path.Base(file.Path)))
		}
	}
	return out, nil
}

type fileEntry string

func (e fileEntry) Name() string               { return string(e) }
func (e fileEntry) IsDir() bool                { return false }
func (e fileEntry) Type() fs.FileMode          { return 0 }
func (e fileEntry) Info() (fs.FileInfo, error) { return nil, errors.ErrUnsupported }

// source is what the loader reads from.
type source interface {
	fs.ReadFileFS
	fs.ReadDirFS
}

// loader holds one Load.
type loader struct {
	fsys     source
	main     string
	mainDir  string
	basearch string
	ps       problems
	read     []string        // treefiles, in the order read
	seen     map[string]bool // treefiles already read
}

func load(fsys fs.FS, main string, opts LoadOptions) (*Definition, error) {
	src, ok := fsys.(source)
	if !ok {
		return nil, fmt.Errorf("hostimage: %T cannot be read by the loader", fsys)
	}
	if opts.Basearch == "" {
		opts.Basearch = Basearch()
	}
	l := &loader{fsys: src, main: main, mainDir: path.Dir(main), basearch: opts.Basearch, seen: map[string]bool{}}
	if err := checkRelPath(main); err != nil {
		l.ps.add(main, "", err.Error())
		return nil, l.ps.err()
	}
	tf := l.parseRecurse(main, nil)
	if tf == nil {
		return nil, l.ps.err()
	}
	if tf.Basearch == "" {
		tf.Basearch = l.basearch
	} else if tf.Basearch != l.basearch {
		l.ps.add(main, "basearch", fmt.Sprintf("%q: cross-composes are not supported (this build is for %s)", tf.Basearch, l.basearch))
	}
	l.substitute(tf)
	def := &Definition{Main: main, Treefile: tf, Treefiles: l.read}
	l.validate(def)
	if err := l.ps.err(); err != nil {
		return nil, err
	}
	def.content, def.executable = map[string][]byte{}, map[string]bool{}
	for _, p := range def.Inputs() {
		data, err := src.ReadFile(p)
		if err != nil {
			l.ps.add(p, "", readProblem(err))
			continue
		}
		if len(data) > MaxFileBytes {
			l.ps.add(p, "", fmt.Sprintf("%d bytes: a definition's file has at most %d (binaries come from packages and ostree-layers)", len(data), MaxFileBytes))
			continue
		}
		def.content[p] = data
		def.executable[p] = isExecutable(src, p)
	}
	if err := l.ps.err(); err != nil {
		return nil, err
	}
	return def, nil
}

// parseRecurse reads file and what it includes, merged with rpm-ostree's
// rules: the including file's scalars win, lists are the included file's
// followed by the including file's. chain is the include path so far.
func (l *loader) parseRecurse(file string, chain []string) *Treefile {
	if slices.Contains(chain, file) {
		l.ps.add(chain[len(chain)-1], "include", fmt.Sprintf("include cycle: %s", strings.Join(append(chain, file), " → ")))
		return nil
	}
	if l.seen[file] {
		by := l.main
		if len(chain) > 0 {
			by = chain[len(chain)-1]
		}
		l.ps.add(by, "include", fmt.Sprintf("%s is included more than once", file))
		return nil
	}
	if len(chain) > maxIncludeDepth {
		l.ps.add(chain[len(chain)-1], "include", fmt.Sprintf("includes nest deeper than %d", maxIncludeDepth))
		return nil
	}
	l.seen[file] = true
	l.read = append(l.read, file)
	layer, includes := l.parseFile(file)
	if layer == nil {
		return nil
	}
	chain = append(chain, file)
	for _, inc := range includes {
		included := l.parseRecurse(inc, chain)
		if included != nil {
			merge(layer, included)
		}
	}
	return layer
}

// parseFile reads one treefile into a layer and the files it includes,
// resolved relative to it.
func (l *loader) parseFile(file string) (*Treefile, []string) {
	data, err := l.fsys.ReadFile(file)
	if err != nil {
		l.ps.add(file, "", readProblem(err))
		return nil, nil
	}
	if len(data) > MaxFileBytes {
		l.ps.add(file, "", fmt.Sprintf("%d bytes: a treefile has at most %d", len(data), MaxFileBytes))
		return nil, nil
	}
	isYAML := strings.HasSuffix(file, ".yaml") || strings.HasSuffix(file, ".yml")
	if isYAML {
		data, err = yaml.YAMLToJSONStrict(data)
		if err != nil {
			l.ps.add(file, "", "not YAML: "+strings.TrimPrefix(err.Error(), "error converting YAML to JSON: "))
			return nil, nil
		}
	}
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || raw == nil {
		what := "a JSON object"
		if isYAML {
			what = "a YAML mapping"
		}
		detail := "not " + what
		if err != nil {
			detail += ": " + err.Error()
		}
		l.ps.add(file, "", detail)
		return nil, nil
	}
	if _, err := dec.Token(); err != io.EOF {
		l.ps.add(file, "", "holds more than one document")
		return nil, nil
	}
	p := &fileParser{l: l, file: file, dir: path.Dir(file), raw: raw, json: !isYAML}
	return p.parse()
}

func readProblem(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file in the definition"
	case errors.Is(err, fs.ErrPermission):
		return "cannot be read"
	}
	// os.Root refuses paths that escape it through symbolic links.
	return "cannot be read: " + err.Error()
}

// resolve turns a path written in the treefile at dir into one relative
// to the definition's directory, or says why it cannot be used.
func resolve(dir, p string) (string, error) {
	if p == "" {
		return "", errors.New("empty path")
	}
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%q is absolute: name files relative to the treefile", p)
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%q holds a NUL", p)
	}
	full := path.Join(dir, p)
	if full == ".." || strings.HasPrefix(full, "../") {
		return "", fmt.Errorf("%q is outside the definition's directory", p)
	}
	return full, nil
}

// validate checks what can only be checked on the merged treefile.
func (l *loader) validate(def *Definition) {
	tf, main := def.Treefile, def.Main
	if tf.Ref == "" {
		l.ps.add(main, "ref", "required: the OSTree branch the build commits to")
	} else if !validRef(tf.Ref) {
		l.ps.add(main, "ref", fmt.Sprintf("%q is not a valid OSTree ref (letters, digits, and . _ - / between them)", tf.Ref))
	}
	if len(tf.Packages) == 0 {
		l.ps.add(main, "packages", "required: at least one package")
	}
	if len(tf.Repos) == 0 {
		l.ps.add(main, "repos", "required: the package repositories, named after NAME.sources or sections of *.repo files beside the treefile")
	}
	l.checkRepos(def)
	def.Lockfiles = l.lockfiles()
}

var refPattern = regexp.MustCompile(`^[\w\d][-._\w\d]*(/[\w\d][-._\w\d]*)*$`)

func validRef(r string) bool { return len(r) <= 255 && refPattern.MatchString(r) }

// checkRepos finds each repo's file beside the main treefile: NAME.sources
// (deb822, read by the OSTree runner) or a [NAME] section of a *.repo file
// (read by rpm-ostree). One definition uses one kind.
func (l *loader) checkRepos(def *Definition) {
	entries, _ := l.fsys.ReadDir(l.mainDir)
	repoSections := map[string]string{} // section → .repo file
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".repo") {
			continue
		}
		p := path.Join(l.mainDir, e.Name())
		data, err := l.fsys.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
				repoSections[strings.TrimSpace(line[1:len(line)-1])] = p
			}
		}
	}
	files := map[string]bool{}
	kinds := map[string]bool{}
	// In the order repos names them: the first is the host's main
	// repository (mmdebstrap's SUITE is its first suite).
	add := func(p string) {
		if !files[p] {
			files[p] = true
			def.RepoFiles = append(def.RepoFiles, p)
		}
	}
	for i, name := range def.Treefile.Repos {
		key := fmt.Sprintf("repos[%d]", i)
		sources := path.Join(l.mainDir, name+".sources")
		if strings.Contains(name, "/") || name == "" || name == "." || name == ".." {
			l.ps.add(def.Main, key, fmt.Sprintf("%q is not a repository name", name))
			continue
		}
		if data, err := l.fsys.ReadFile(sources); err == nil {
			if _, err := ParseSources(data); err != nil {
				l.ps.add(sources, "", err.Error())
			}
			add(sources)
			kinds["deb"] = true
			continue
		}
		if p, ok := repoSections[name]; ok {
			add(p)
			kinds["rpm"] = true
			continue
		}
		l.ps.add(def.Main, key, fmt.Sprintf("repository %q has no file: want %s (deb822) or a [%s] section in a *.repo file beside %s",
			name, sources, name, path.Base(def.Main)))
	}
	if len(kinds) > 1 {
		l.ps.add(def.Main, "repos", "mixes deb822 .sources and .repo repositories: a host is composed from one kind")
	}
	for k := range kinds {
		def.RepoKind = k
	}
}

func (l *loader) lockfiles() []string {
	var out []string
	for _, name := range []string{"manifest-lock.json", "manifest-lock." + l.basearch + ".json"} {
		p := path.Join(l.mainDir, name)
		if _, err := l.fsys.ReadFile(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// substitute expands ${basearch} and ${releasever} where rpm-ostree does:
// ref, automatic-version-prefix and mutate-os-release.
func (l *loader) substitute(tf *Treefile) {
	vars := map[string]string{"basearch": tf.Basearch}
	if tf.Releasever != "" {
		vars["releasever"] = tf.Releasever
	}
	for _, f := range []struct {
		key string
		v   *string
	}{{"ref", &tf.Ref}, {"automatic-version-prefix", &tf.AutomaticVersionPrefix}, {"mutate-os-release", &tf.MutateOsRelease}} {
		out, err := expandVars(*f.v, vars)
		if err != nil {
			l.ps.add(l.main, f.key, err.Error())
			continue
		}
		*f.v = out
	}
}

var varPattern = regexp.MustCompile(`\$\{([^}]*)\}`)

func expandVars(s string, vars map[string]string) (string, error) {
	var bad []string
	out := varPattern.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if v, ok := vars[name]; ok {
			return v
		}
		bad = append(bad, m)
		return m
	})
	if len(bad) > 0 {
		known := make([]string, 0, len(vars))
		for k := range vars {
			known = append(known, "${"+k+"}")
		}
		sort.Strings(known)
		return "", fmt.Errorf("unknown variable %s in %q (known: %s)", bad[0], s, strings.Join(known, ", "))
	}
	return out, nil
}
