package hostimage

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// files builds a definition from path, content pairs.
func files(kv ...string) Files {
	var out Files
	for i := 0; i < len(kv); i += 2 {
		out = append(out, File{Path: kv[i], Content: kv[i+1]})
	}
	return out
}

const debSources = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n"

func TestIncludeSemantics(t *testing.T) {
	tests := []struct {
		name  string
		files Files
		want  map[string]any // keys of the expanded treefile's JSON
	}{
		{
			name: "the including file's scalars win, lists concatenate included first",
			files: files(
				"host.yaml", "include: base.yaml\nref: os/${basearch}/host\npackages: [b]\nunits: [b.service]\ndocumentation: true\n",
				"base.yaml", "ref: base/ref\nrepos: [debian]\npackages: [a]\nunits: [a.service]\ndocumentation: false\ndefault-target: multi-user.target\n",
				"debian.sources", debSources,
			),
			want: map[string]any{
				"ref": "os/x86_64/host", "packages": []any{"a", "b"}, "units": []any{"a.service", "b.service"},
				"documentation": true, "default-target": "multi-user.target", "repos": []any{"debian"},
			},
		},
		{
			name: "nested includes resolve relative to the including file",
			files: files(
				"host.yaml", "include: common/mid.yaml\nref: r\npackages: [c]\n",
				"common/mid.yaml", "include: ../shared/base.yaml\npackages: [b]\nadd-files: [[unit.service, /usr/lib/systemd/system/unit.service]]\n",
				"common/unit.service", "[Unit]\n",
				"shared/base.yaml", "packages: [a]\nrepos: [debian]\n",
				"debian.sources", debSources,
			),
			want: map[string]any{
				"ref": "r", "packages": []any{"a", "b", "c"}, "repos": []any{"debian"},
				"add-files": []any{[]any{"unit.service", "/usr/lib/systemd/system/unit.service"}},
			},
		},
		{
			name: "several includes: the first's scalars win, a later one's lists come first",
			files: files(
				"host.yaml", "include: [one.yaml, two.yaml]\npackages: [self]\nrepos: [debian]\n",
				"one.yaml", "ref: one\npackages: [one]\n",
				"two.yaml", "ref: two\npackages: [two]\n",
				"debian.sources", debSources,
			),
			want: map[string]any{"ref": "one", "packages": []any{"two", "one", "self"}},
		},
		{
			name: "arch-include and packages-ARCH follow the build's architecture",
			files: files(
				"host.yaml", "arch-include: {x86_64: x86.yaml, aarch64: arm.yaml}\nref: r\nrepos: [debian]\npackages: [a]\npackages-x86_64: [grub-pc]\npackages-aarch64: [grub-efi]\n",
				"x86.yaml", "packages: [intel-microcode]\n",
				"arm.yaml", "packages: [never]\n",
				"debian.sources", debSources,
			),
			want: map[string]any{"packages": []any{"intel-microcode", "a", "grub-pc"}},
		},
		{
			name: "maps merge, the including file's entries win; releasever expands",
			files: files(
				"host.yaml", "include: base.yaml\nref: os/${releasever}/${basearch}\nreleasever: \"12\"\npackages: [a  b]\nrepos: [debian]\nadd-commit-metadata: {team: hosts}\n",
				"base.yaml", "add-commit-metadata: {team: base, tier: 1}\n",
				"debian.sources", debSources,
			),
			want: map[string]any{
				"ref": "os/12/x86_64", "packages": []any{"a", "b"},
				"add-commit-metadata": map[string]any{"team": "hosts", "tier": float64(1)},
			},
		},
		{
			name: "JSON treefiles take comment keys",
			files: files(
				"host.json", `{"ref": "r", "comment-packages": "why", "packages": ["a"], "repos": ["debian"]}`,
				"debian.sources", debSources,
			),
			want: map[string]any{"ref": "r", "packages": []any{"a"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def, err := LoadFiles(tc.files, tc.files[0].Path, LoadOptions{Basearch: "x86_64"})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			var got map[string]any
			if err := json.Unmarshal(def.Treefile.JSON(), &got); err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.want {
				if !reflect.DeepEqual(got[k], want) {
					t.Errorf("%s = %#v, want %#v", k, got[k], want)
				}
			}
		})
	}
}

func TestInvalidTreefiles(t *testing.T) {
	base := func(extra string) Files {
		return files("host.yaml", "ref: r\nrepos: [debian]\npackages: [a]\n"+extra, "debian.sources", debSources, "unit.service", "[Unit]\n")
	}
	tests := []struct {
		name  string
		files Files
		main  string
		want  []string // each a substring of one problem, "file: key: ..."
	}{
		{"unknown key", base("packagez: [b]\n"), "", []string{`host.yaml: packagez: unknown key (did you mean "packages"?)`}},
		{"missing ref and packages", files("host.yaml", "repos: [debian]\n", "debian.sources", debSources), "",
			[]string{"host.yaml: ref: required", "host.yaml: packages: required"}},
		{"add-files source missing", base("add-files: [[nope.service, /usr/lib/systemd/system/nope.service]]\n"), "",
			[]string{"host.yaml: add-files[0]: source nope.service: no such file in the definition"}},
		{"add-files destination outside /usr and /etc", base("add-files: [[unit.service, /opt/unit.service]]\n"), "",
			[]string{`host.yaml: add-files[0]: destination "/opt/unit.service" is outside /usr and /etc`}},
		{"add-files destination under /usr/local", base("add-files: [[unit.service, /usr/local/bin/x]]\n"), "",
			[]string{"is under /usr/local"}},
		{"add-files destination climbing out", base("add-files: [[unit.service, /usr/../var/x]]\n"), "",
			[]string{"is not a clean path"}},
		{"add-files source climbing out", base("add-files: [[../../etc/shadow, /etc/shadow]]\n"), "",
			[]string{`host.yaml: add-files[0]: source "../../etc/shadow" is outside the definition's directory`}},
		{"add-files source absolute", base("add-files: [[/etc/shadow, /etc/shadow]]\n"), "",
			[]string{`source "/etc/shadow" is absolute`}},
		{"malformed unit", base("units: [docker, 'a b.service', foo@.service]\n"), "",
			[]string{`host.yaml: units[0]: "docker" is not a systemd unit name`, `units[1]: "a b.service"`, `units[2]: "foo@.service" is a template`}},
		{"default-target not a target", base("default-target: multi-user.service\n"), "", []string{"default-target: \"multi-user.service\" is not a systemd target"}},
		{"repo without a file", files("host.yaml", "ref: r\nrepos: [debian, updates]\npackages: [a]\n", "debian.sources", debSources), "",
			[]string{`host.yaml: repos[1]: repository "updates" has no file: want updates.sources`}},
		{"repo file broken", files("host.yaml", "ref: r\nrepos: [debian]\npackages: [a]\n", "debian.sources", "Types: deb\n"), "",
			[]string{"debian.sources: stanza 1: URIs is missing"}},
		{"include cycle", files("host.yaml", "include: a.yaml\nref: r\npackages: [x]\nrepos: [debian]\n", "a.yaml", "include: b.yaml\n", "b.yaml", "include: a.yaml\n", "debian.sources", debSources), "",
			[]string{"b.yaml: include: include cycle: host.yaml → a.yaml → b.yaml → a.yaml"}},
		{"self include", files("host.yaml", "include: host.yaml\nref: r\npackages: [x]\nrepos: [debian]\n", "debian.sources", debSources), "",
			[]string{"include cycle: host.yaml → host.yaml"}},
		{"include outside the directory", base("include: ../../etc/passwd\n"), "", []string{`host.yaml: include: "../../etc/passwd" is outside the definition's directory`}},
		{"include missing", base("include: gone.yaml\n"), "", []string{"gone.yaml: no such file in the definition"}},
		{"not YAML", files("host.yaml", "ref: [unclosed\n"), "", []string{"host.yaml: not YAML"}},
		{"not a mapping", files("host.yaml", "- a\n- b\n"), "", []string{"host.yaml: not a YAML mapping"}},
		{"wrong types", base("documentation: nope\nunits: docker.service\nadd-files: [[a]]\n"), "",
			[]string{"documentation: must be true or false", "units: must be a list of strings", "add-files[0]: must be a pair"}},
		{"bad ref", files("host.yaml", "ref: 'a b'\nrepos: [debian]\npackages: [a]\n", "debian.sources", debSources), "", []string{`ref: "a b" is not a valid OSTree ref`}},
		{"unknown variable", files("host.yaml", "ref: os/${stream}\nrepos: [debian]\npackages: [a]\n", "debian.sources", debSources), "", []string{"ref: unknown variable ${stream}"}},
		{"remove-files climbing out", base("remove-files: [../etc, /]\n"), "", []string{`remove-files[0]: "../etc" climbs out`, `remove-files[1]: "/" names the whole tree`}},
		{"bad package name", base("packages-x86_64: ['-rf']\n"), "", []string{`packages[1]: "-rf" is not a package name`}},
		{"install-langs not a locale", base("install-langs: [en_US, \"en'; rm -rf /; '\"]\n"), "", []string{`install-langs[1]: "en'; rm -rf /; '" is not a locale`}},
		{"cross-compose", base("basearch: aarch64\n"), "", []string{"cross-composes are not supported"}},
		{"main path outside", base(""), "../host.yaml", []string{"outside the definition's directory"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			main := tc.main
			if main == "" {
				main = "host.yaml"
			}
			_, err := LoadFiles(tc.files, main, LoadOptions{Basearch: "x86_64"})
			if err == nil {
				t.Fatal("loaded, want an error")
			}
			list := Problems(err)
			if list == nil {
				t.Fatalf("error %v is not an ErrorList", err)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if len(list) < len(tc.want) {
				t.Errorf("%d problems, want %d: %v", len(list), len(tc.want), err)
			}
		})
	}
}

// TestInstallLangs: as RPM's _install_langs, a language keeps the
// locales it begins with, and dpkg's filter says the same.
func TestInstallLangs(t *testing.T) {
	tests := []struct {
		langs  []string
		keep   []string
		drop   []string
		filter []string
	}{
		{nil, []string{"en", "fr", "pt_BR"}, nil, nil},
		{[]string{"all"}, []string{"en", "fr"}, nil, nil},
		{[]string{"en_US"}, []string{"en", "en_US"}, []string{"en_GB", "fr", "e", "en_U"},
			[]string{"path-exclude=/usr/share/locale/*/*", "path-include=/usr/share/locale/en/*", "path-include=/usr/share/locale/en_US/*"}},
		{[]string{"sr_RS@latin", "pt"}, []string{"sr", "sr_RS", "sr_RS@latin", "pt"}, []string{"sr@latin", "pt_BR"},
			[]string{"path-exclude=/usr/share/locale/*/*", "path-include=/usr/share/locale/sr/*", "path-include=/usr/share/locale/sr_RS/*",
				"path-include=/usr/share/locale/sr_RS@latin/*", "path-include=/usr/share/locale/pt/*"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.langs, ","), func(t *testing.T) {
			tf := &Treefile{InstallLangs: tc.langs}
			for _, l := range tc.keep {
				if !tf.localeWanted(l) {
					t.Errorf("%s is left out", l)
				}
			}
			for _, l := range tc.drop {
				if tf.localeWanted(l) {
					t.Errorf("%s is kept", l)
				}
			}
			if got := tf.localeFilter(); !slices.Equal(got, tc.filter) {
				t.Errorf("dpkg filter %q, want %q", got, tc.filter)
			}
		})
	}
}

func TestFilesCheck(t *testing.T) {
	tests := []struct {
		name string
		fs   Files
		want string
	}{
		{"absolute", files("/etc/passwd", "x"), "is absolute"},
		{"climbing", files("../x", "x"), "outside the definition's directory"},
		{"unclean", files("a/../../x", "x"), "not a clean path"},
		{"duplicate", files("a", "1", "a", "2"), "appears twice"},
		{"file and directory", files("a", "1", "a/b", "2"), "is a file, but a/b is inside it"},
		{"too large", files("a", strings.Repeat("x", MaxFileBytes+1)), "at most"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.fs.Check()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want %q", err, tc.want)
			}
			if err := tc.fs.WriteDir(t.TempDir()); err == nil {
				t.Fatal("WriteDir wrote files Check refuses")
			}
		})
	}
}

// TestLoadDirSymlinkEscape performs the attack of a definitions directory
// whose files are symbolic links to files outside it: nothing outside the
// directory is read.
func TestLoadDirSymlinkEscape(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("root:x:0:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "def")
	if err := files(
		"host.yaml", "include: base.yaml\nref: r\nrepos: [debian]\npackages: [a]\nadd-files: [[stolen, /etc/stolen]]\n",
		"debian.sources", debSources,
	).WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"stolen": secret, "base.yaml": secret} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := LoadDir(dir, "host.yaml", LoadOptions{Basearch: "x86_64"})
	if err == nil {
		t.Fatal("loaded a definition whose files lead outside its directory")
	}
	for _, want := range []string{"base.yaml: cannot be read", "add-files[0]: source stolen: cannot be read"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestInputHash(t *testing.T) {
	def := func(fs Files) *Definition {
		t.Helper()
		d, err := LoadFiles(fs, "host.yaml", LoadOptions{Basearch: "x86_64"})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	base := files(
		"host.yaml", "# a comment\nref: r\nrepos: [debian]\npackages: [a]\nadd-files: [[node.env, /etc/berth/node.env]]\n",
		"debian.sources", debSources, "node.env", "A=1\n",
	)
	h0 := def(base).InputHash(nil)
	same := files(
		"host.yaml", "packages: [a]\nrepos: [debian]\nref: r\nadd-files:\n  - [node.env, /etc/berth/node.env]\n",
		"debian.sources", debSources, "node.env", "A=1\n",
	)
	if h := def(same).InputHash(nil); h != h0 {
		t.Errorf("comments and key order changed the hash")
	}
	changes := map[string]Files{
		"a package":      files("host.yaml", "ref: r\nrepos: [debian]\npackages: [a, b]\nadd-files: [[node.env, /etc/berth/node.env]]\n", "debian.sources", debSources, "node.env", "A=1\n"),
		"an added file":  files("host.yaml", "ref: r\nrepos: [debian]\npackages: [a]\nadd-files: [[node.env, /etc/berth/node.env]]\n", "debian.sources", debSources, "node.env", "A=2\n"),
		"a repo file":    files("host.yaml", "ref: r\nrepos: [debian]\npackages: [a]\nadd-files: [[node.env, /etc/berth/node.env]]\n", "debian.sources", debSources+"Signed-By: /k.gpg\n", "node.env", "A=1\n"),
		"a file's mode":  append(files("host.yaml", "ref: r\nrepos: [debian]\npackages: [a]\nadd-files: [[node.env, /etc/berth/node.env]]\n", "debian.sources", debSources), File{Path: "node.env", Content: "A=1\n", Executable: true}),
		"a lockfile":     append(Files(nil), append(base, File{Path: "manifest-lock.json", Content: `{"packages":{}}`})...),
		"the postscript": files("host.yaml", "ref: r\nrepos: [debian]\npackages: [a]\nadd-files: [[node.env, /etc/berth/node.env]]\npostprocess-script: post.sh\n", "debian.sources", debSources, "node.env", "A=1\n", "post.sh", "true\n"),
	}
	for what, fs := range changes {
		if h := def(fs).InputHash(nil); h == h0 {
			t.Errorf("changing %s kept the hash", what)
		}
	}
	if h := def(base).InputHash(map[string]string{"layer berth/node": "abc"}); h == h0 {
		t.Error("an extra input kept the hash")
	}
}

// FuzzLoad feeds the loader arbitrary treefiles: it must return a
// definition or an ErrorList, never panic or read outside the files.
func FuzzLoad(f *testing.F) {
	f.Add("ref: r\nrepos: [debian]\npackages: [a]\n", "include: host.yaml\n")
	f.Add(`{"ref": "${basearch}", "packages": ["a b"], "include": ["b.yaml", "b.yaml"]}`, "packages: [x]\n")
	f.Add("add-files: [[b.yaml, /etc/x], [../x, /usr/y]]\nunits: [a@b.service]\n", "arch-include: {x86_64: host.yaml}\n")
	f.Add("include: [b.yaml]\nremove-files: [a/../../b]\nadd-commit-metadata: {a: [1, {b: 2}]}\n", "include: b.yaml\n")
	f.Fuzz(func(t *testing.T, host, other string) {
		fs := files("host.yaml", host, "b.yaml", other, "debian.sources", debSources)
		def, err := LoadFiles(fs, "host.yaml", LoadOptions{Basearch: "x86_64"})
		if err != nil {
			if Problems(err) == nil {
				t.Fatalf("error %v is not an ErrorList", err)
			}
			return
		}
		for _, p := range def.Inputs() {
			if _, ok := fs.Get(p); !ok {
				t.Fatalf("input %q is not one of the files", p)
			}
		}
		_ = def.InputHash(nil)
	})
}
