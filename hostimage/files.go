package hostimage

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Limits on a definition's files: a definition is text (treefiles, package
// sources, units, scripts, configuration), kept in the database and edited
// in a browser; binaries come from packages and ostree-layers.
const (
	MaxFiles     = 128
	MaxFileBytes = 512 << 10
	MaxDefBytes  = 2 << 20
)

// File is one file of a definition.
type File struct {
	// Path is relative to the definition's directory: clean, with no ".."
	// and no leading "/".
	Path    string `json:"path"`
	Content string `json:"content"`
	// Executable files are written 0755, others 0644; add-files keep the
	// mode of their source, as rpm-ostree does.
	Executable bool `json:"executable,omitempty"`
}

// Files is a definition as stored: its treefiles and the files they name.
type Files []File

// Check reports what is wrong with the files as a set, before any of them
// is read as a treefile: paths that would leave the definition's
// directory, duplicates, sizes.
func (fs Files) Check() error {
	var ps problems
	if len(fs) > MaxFiles {
		ps.add("", "files", fmt.Sprintf("%d files: at most %d", len(fs), MaxFiles))
	}
	seen := map[string]bool{}
	total := 0
	for i, f := range fs {
		key := fmt.Sprintf("files[%d]", i)
		if err := checkRelPath(f.Path); err != nil {
			ps.add(f.Path, key, err.Error())
			continue
		}
		if seen[f.Path] {
			ps.add(f.Path, key, "the path appears twice")
		}
		seen[f.Path] = true
		if len(f.Content) > MaxFileBytes {
			ps.add(f.Path, key, fmt.Sprintf("%d bytes: at most %d", len(f.Content), MaxFileBytes))
		}
		total += len(f.Content)
	}
	if total > MaxDefBytes {
		ps.add("", "files", fmt.Sprintf("%d bytes in all: at most %d", total, MaxDefBytes))
	}
	// A file and a directory of the same name cannot both be written.
	for p := range seen {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if seen[d] {
				ps.add(d, "", fmt.Sprintf("is a file, but %s is inside it", p))
			}
		}
	}
	return ps.err()
}

// checkRelPath accepts a clean relative path that stays where it is put.
func checkRelPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty path")
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("%q is absolute: paths are relative to the definition's directory", p)
	case strings.ContainsRune(p, 0) || strings.Contains(p, "\\"):
		return fmt.Errorf("%q holds a NUL or a backslash", p)
	case path.Clean(p) != p:
		return fmt.Errorf("%q is not a clean path (want %q)", p, path.Clean(p))
	case p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("%q is outside the definition's directory", p)
	case len(p) > 255:
		return fmt.Errorf("%q is longer than 255 bytes", p[:40]+"...")
	}
	return nil
}

// Get returns the file at p.
func (fs Files) Get(p string) (File, bool) {
	for _, f := range fs {
		if f.Path == p {
			return f, true
		}
	}
	return File{}, false
}

// Sorted returns the files ordered by path.
func (fs Files) Sorted() Files {
	out := append(Files(nil), fs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// WriteDir writes the files into dir, which must be empty or missing. The
// files are checked first: none is written outside dir.
func (fs Files) WriteDir(dir string) error {
	if err := fs.Check(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, f := range fs {
		if d := path.Dir(f.Path); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("write %s: %w", f.Path, err)
			}
		}
		mode := os.FileMode(0o644)
		if f.Executable {
			mode = 0o755
		}
		if err := root.WriteFile(f.Path, []byte(f.Content), mode); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		if err := root.Chmod(f.Path, mode); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	return nil
}

// ReadDir reads every regular file under dir as a definition (what `berth
// hostimage` sends to the server from a directory of definitions).
// Symbolic links and other special files are refused, as are files past
// the limits.
func ReadDir(dir string) (Files, error) {
	var out Files
	total := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir // .git and the like
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file (symbolic links and special files are not taken)", rel)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > MaxFileBytes {
			return fmt.Errorf("%s: %d bytes: at most %d", rel, info.Size(), MaxFileBytes)
		}
		total += int(info.Size())
		if total > MaxDefBytes || len(out) == MaxFiles {
			return fmt.Errorf("%s: the definition is larger than %d files or %d bytes", dir, MaxFiles, MaxDefBytes)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out = append(out, File{Path: rel, Content: string(data), Executable: info.Mode()&0o111 != 0})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
