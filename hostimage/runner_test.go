package hostimage_test

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/hostimage"
)

// fakeRpmOstree stands in for rpm-ostree, which does not run on Debian: it
// records its command line, commits a small tree with the real ostree on
// the ref with rpm-ostree's package metadata, and writes compose.json as
// rpm-ostree does. FAKE_MODE=unchanged writes nothing (rpm-ostree's "no
// apparent changes"); FAKE_MODE=fail moves the ref and then fails.
const fakeRpmOstree = `#!/bin/sh
set -eu
printf '%s\n' "$@" > "$FAKE_ARGS"
for a in "$@"; do
  case "$a" in
    --repo=*) repo=${a#--repo=} ;;
    --write-composejson-to=*) cj=${a#--write-composejson-to=} ;;
  esac
done
[ "${FAKE_MODE:-}" = unchanged ] && { echo "No apparent changes since previous commit; use --force-nocache to override"; exit 0; }
tree=$(mktemp -d)
mkdir -p "$tree/usr/lib" && echo "$FAKE_CONTENT" > "$tree/usr/lib/content"
parent=$(ostree --repo="$repo" rev-parse "$FAKE_REF" 2>/dev/null || true)
commit=$(ostree --repo="$repo" commit --branch="$FAKE_REF" --tree=dir="$tree" --add-metadata-string=version=40.1 \
  "--add-metadata=rpmostree.rpmdb.pkglist=[('kernel', uint64 0, '6.8.5', '301.fc40', 'x86_64'), ('bash', uint64 1, '5.2', '1', 'x86_64')]")
rm -rf "$tree"
echo "Wrote commit: $commit"
[ "${FAKE_MODE:-}" = fail ] && { echo "error: the sky fell" >&2; exit 1; }
printf '{"ref": "%s", "ostree-commit": "%s", "ostree-parent-commit": "%s", "ostree-version": "40.1", "rpm-ostree-inputhash": "x"}\n' \
  "$FAKE_REF" "$commit" "$parent" > "$cj"
`

func TestRpmOstreeRunner(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "rpm-ostree")
	if err := os.WriteFile(fake, []byte(fakeRpmOstree), 0o755); err != nil {
		t.Fatal(err)
	}
	argsFile := filepath.Join(dir, "args")
	t.Setenv("FAKE_ARGS", argsFile)
	t.Setenv("FAKE_REF", "berth/fedora/x86_64/host")
	repo, err := hostimage.OpenRepo(t.Context(), filepath.Join(dir, "repo"), hostimage.GPG{})
	if err != nil {
		t.Fatal(err)
	}
	files := hostimage.Files{
		{Path: "host.yaml", Content: "ref: berth/fedora/${basearch}/host\nrepos: [fedora, updates]\npackages: [kernel, moby-engine]\n"},
		{Path: "fedora.repo", Content: "[fedora]\nbaseurl=https://example.invalid/fedora\n\n[updates]\nbaseurl=https://example.invalid/updates\n"},
		{Path: "manifest-lock.x86_64.json", Content: `{"packages": {"kernel": {"evra": "6.8.5-301.fc40.x86_64"}}}`},
	}
	runners := hostimage.RunnerConfig{RpmOstree: hostimage.RpmOstreeRunner{Command: fake}}
	compose := func(n int64, content, mode string) (*hostimage.Outcome, string, error) {
		t.Setenv("FAKE_CONTENT", content)
		t.Setenv("FAKE_MODE", mode)
		var log bytes.Buffer
		work := filepath.Join(dir, "work")
		out, err := hostimage.Compose(t.Context(), hostimage.Job{
			Files: files, Main: "host.yaml", Number: n, Repo: repo, WorkDir: work,
			CacheDir: filepath.Join(dir, "cache"), Runners: runners, Log: &log, Basearch: "x86_64",
		})
		return out, log.String(), err
	}

	first, log, err := compose(1, "one", "")
	if err != nil {
		t.Fatalf("compose: %v\n%s", err, log)
	}
	args, err := os.ReadFile(argsFile)
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	want := []string{
		"compose", "tree", "--unified-core",
		"--repo=" + repo.Path,
		"--cachedir=" + filepath.Join(dir, "cache", "rpm-ostree"),
		"--write-composejson-to=" + filepath.Join(work, "compose.json"),
		"--add-metadata-string=berth.inputhash=" + first.InputHash,
		"--add-metadata-string=version=1",
		"--ex-lockfile=" + filepath.Join(work, "definition", "manifest-lock.x86_64.json"),
		filepath.Join(work, "definition", "host.yaml"),
	}
	if got := strings.Split(strings.TrimSpace(string(args)), "\n"); !slices.Equal(got, want) {
		t.Errorf("rpm-ostree command line:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	res := first.Result
	if first.Runner != "rpm-ostree" || res.Version != "40.1" || res.Parent != "" {
		t.Errorf("outcome %+v", first)
	}
	head, err := repo.RevParse(t.Context(), "berth/fedora/x86_64/host")
	if err != nil || head != res.Commit {
		t.Errorf("ref at %s (%v), compose.json said %s", head, err, res.Commit)
	}
	wantPkgs := []hostimage.Package{{Name: "bash", Version: "1:5.2-1", Arch: "x86_64"}, {Name: "kernel", Version: "6.8.5-301.fc40", Arch: "x86_64"}}
	if !slices.Equal(res.Packages, wantPkgs) {
		t.Errorf("packages %v, want %v (from rpmostree.rpmdb.pkglist)", res.Packages, wantPkgs)
	}

	second, log, err := compose(2, "two", "")
	if err != nil {
		t.Fatalf("second compose: %v\n%s", err, log)
	}
	if second.Result.Parent != res.Commit || second.Result.DeltaSize <= 0 {
		t.Errorf("second build: parent %s (want %s), delta %d bytes", second.Result.Parent, res.Commit, second.Result.DeltaSize)
	}

	unchanged, log, err := compose(3, "three", "unchanged")
	if err != nil {
		t.Fatalf("unchanged compose: %v\n%s", err, log)
	}
	if !unchanged.Result.Unchanged || unchanged.Result.Commit != second.Result.Commit {
		t.Errorf("no compose.json: outcome %+v, want the ref's commit, unchanged", unchanged.Result)
	}

	if _, log, err := compose(4, "four", "fail"); err == nil {
		t.Fatalf("a failing rpm-ostree succeeded:\n%s", log)
	}
	if head, _ := repo.RevParse(t.Context(), "berth/fedora/x86_64/host"); head != second.Result.Commit {
		t.Errorf("after a failed compose the ref is at %s, want %s where it was", head, second.Result.Commit)
	}
}

func TestReadComposeJSON(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content string
		wantCommit    string
		wantErr       bool
	}{
		{"a commit", `{"ref":"r","ostree-commit":"` + strings.Repeat("ab", 32) + `","ostree-version":"40.1"}`, strings.Repeat("ab", 32), false},
		{"no commit", `{"ref":"r"}`, "", false},
		{"not JSON", `{`, "", true},
		{"not a checksum", `{"ostree-commit":"../../x"}`, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := hostimage.ReadComposeJSON(p)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			got := ""
			if c != nil {
				got = c.Commit
			}
			if got != tc.wantCommit {
				t.Errorf("commit %q, want %q", got, tc.wantCommit)
			}
		})
	}
	if c, err := hostimage.ReadComposeJSON(filepath.Join(dir, "missing")); c != nil || err != nil {
		t.Errorf("missing compose.json: %v, %v; want no commit, no error", c, err)
	}
}

// TestExtractTarStaysInDir performs the attack of an image whose archive
// names files outside the root, or writes through links it made.
func TestExtractTarStaysInDir(t *testing.T) {
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	tests := []struct {
		name    string
		entries []tar.Header
	}{
		{"dot-dot name", []tar.Header{{Name: "../../../../../../.." + victim, Typeflag: tar.TypeReg, Mode: 0o644}}},
		{"through an absolute link", []tar.Header{
			{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: outside},
			{Name: "etc/victim", Typeflag: tar.TypeReg, Mode: 0o644}}},
		{"through a climbing link", []tar.Header{
			{Name: "usr", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../../.." + outside},
			{Name: "usr/victim", Typeflag: tar.TypeReg, Mode: 0o644}}},
		{"onto a link", []tar.Header{
			{Name: "x", Typeflag: tar.TypeSymlink, Linkname: victim},
			{Name: "x", Typeflag: tar.TypeReg, Mode: 0o644}}},
		{"hard link to a file outside", []tar.Header{{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../../.." + victim}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range tc.entries {
				h.ModTime = time.Unix(0, 0)
				if h.Typeflag == tar.TypeReg {
					h.Size = 6
				}
				if err := tw.WriteHeader(&h); err != nil {
					t.Fatal(err)
				}
				if h.Typeflag == tar.TypeReg {
					_, _ = tw.Write([]byte("owned\n"))
				}
			}
			tw.Close()
			err := hostimage.ExtractTar(&buf, t.TempDir())
			t.Logf("extract: %v", err)
			if _, err := os.Lstat(victim); !os.IsNotExist(err) {
				t.Errorf("the archive wrote %s outside the root", victim)
				os.Remove(victim)
			}
		})
	}
}

func TestRootSources(t *testing.T) {
	ctx := t.Context()
	src := t.TempDir()
	for p, c := range map[string]string{"usr/bin/hello": "#!/bin/sh\necho hi\n", "var/lib/dpkg/status": "Package: hello\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n"} {
		if err := os.MkdirAll(filepath.Join(src, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, p), []byte(c), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("usr/bin", filepath.Join(src, "bin")); err != nil {
		t.Fatal(err)
	}
	def := hostimage.Files{
		{Path: "host.yaml", Content: "ref: t\nrepos: [debian]\npackages: [hello]\nadd-files: [[hello.conf, /etc/hello.conf]]\n"},
		{Path: "debian.sources", Content: "Types: deb\nURIs: http://deb.invalid/debian\nSuites: bookworm\nComponents: main\n"},
		{Path: "hello.conf", Content: "greeting=hi\n"},
	}
	dir := hostimage.Directory{Path: src}
	s1, err := dir.State(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "usr/bin/hello"), []byte("#!/bin/sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if s2, _ := dir.State(ctx, nil); s2 == s1 {
		t.Error("a changed file in the directory kept its state")
	}
	sources := map[string]hostimage.RootSource{"directory": dir}
	if _, err := exec.LookPath("docker"); err == nil && exec.Command("docker", "info").Run() == nil {
		image := "berth-test-hostimage-root:" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
		tarball := tarOf(t, src)
		cmd := exec.Command("docker", "import", "-", image)
		cmd.Stdin = bytes.NewReader(tarball)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker import: %v: %s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", image).Run() })
		sources["docker image"] = hostimage.DockerImage{Image: image}
	} else {
		t.Error("docker does not answer: the Docker image root is not tested (scripts/setup starts Docker)")
	}
	for name, root := range sources {
		t.Run(name, func(t *testing.T) {
			work := t.TempDir()
			repo, err := hostimage.OpenRepo(ctx, filepath.Join(work, "repo"), hostimage.GPG{})
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			out, err := hostimage.Compose(ctx, hostimage.Job{
				Files: def, Main: "host.yaml", Number: 1, Repo: repo, WorkDir: filepath.Join(work, "build"),
				CacheDir: filepath.Join(work, "cache"), Runners: hostimage.RunnerConfig{Root: root}, Log: &log, Basearch: "x86_64",
			})
			if err != nil {
				t.Fatalf("compose: %v\n%s", err, log.String())
			}
			if len(out.Result.Packages) != 1 || out.Result.Packages[0].Name != "hello" {
				t.Errorf("packages %v", out.Result.Packages)
			}
			data, err := exec.Command("ostree", "--repo="+repo.Path, "cat", "t", "/usr/bin/hello").Output()
			if err != nil || string(data) != "#!/bin/sh\necho hello\n" {
				t.Errorf("/usr/bin/hello in the commit: %q, %v", data, err)
			}
		})
	}
}

func tarOf(t *testing.T, dir string) []byte {
	t.Helper()
	out, err := exec.Command("tar", "-C", dir, "-c", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNextVersion(t *testing.T) {
	now := time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)
	tests := []struct{ prefix, previous, want string }{
		{"", "7", "12"},
		{"12.<date:%Y%m%d>", "", "12.20260309.0"},
		{"12.<date:%Y%m%d>", "12.20260309.4", "12.20260309.5"},
		{"12.<date:%Y%m%d>", "12.20260308.4", "12.20260309.0"},
		{"40", "40.x", "40.0"},
	}
	for _, tc := range tests {
		if got := hostimage.NextVersion(tc.prefix, tc.previous, 12, now); got != tc.want {
			t.Errorf("NextVersion(%q, %q) = %q, want %q", tc.prefix, tc.previous, got, tc.want)
		}
	}
}

// TestGPGSigning signs the commit and the summary when a key is
// configured; ostree verifies both with the public key.
func TestGPGSigning(t *testing.T) {
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("gpg is not installed (scripts/setup installs gnupg)")
	}
	ctx := t.Context()
	home := filepath.Join(t.TempDir(), "gnupg")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	gen := exec.CommandContext(ctx, "gpg", "--homedir", home, "--batch", "--passphrase", "", "--quick-gen-key", "Berth hosts <hosts@berth.invalid>", "ed25519", "sign", "never")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("gpg: %v: %s", err, out)
	}
	out, err := exec.CommandContext(ctx, "gpg", "--homedir", home, "--list-keys", "--with-colons").Output()
	if err != nil {
		t.Fatal(err)
	}
	keyID := ""
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Split(l, ":"); f[0] == "fpr" && keyID == "" {
			keyID = f[9]
		}
	}
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "usr/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	repo, err := hostimage.OpenRepo(ctx, filepath.Join(work, "repo"), hostimage.GPG{KeyID: keyID, HomeDir: home})
	if err != nil {
		t.Fatal(err)
	}
	def := hostimage.Files{
		{Path: "host.yaml", Content: "ref: signed\nrepos: [debian]\npackages: [none]\n"},
		{Path: "debian.sources", Content: "Types: deb\nURIs: http://deb.invalid/debian\nSuites: bookworm\nComponents: main\n"},
	}
	res, err := hostimage.Compose(ctx, hostimage.Job{Files: def, Main: "host.yaml", Number: 1, Repo: repo,
		WorkDir: filepath.Join(work, "build"), CacheDir: filepath.Join(work, "cache"),
		Runners: hostimage.RunnerConfig{Root: hostimage.Directory{Path: src}}, Basearch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	show, err := exec.CommandContext(ctx, "ostree", "--repo="+repo.Path, "show", "--gpg-homedir="+home, res.Result.Commit).CombinedOutput()
	if err != nil || !strings.Contains(string(show), "Found 1 signature") || !strings.Contains(string(show), keyID[len(keyID)-16:]) {
		t.Errorf("the commit is not signed with the key: %v\n%s", err, show)
	}
	if _, err := os.Stat(filepath.Join(repo.Path, "summary.sig")); err != nil {
		t.Errorf("the summary is not signed: %v", err)
	}
}

// TestMmdebstrapSuiteIsTheMainRepository: mmdebstrap takes the Essential
// set from its SUITE's archive alone, so SUITE is the first suite of the
// first repository the treefile names, whatever the files are called: a
// host of debian and debian-security (which sorts first) given
// bookworm-security as SUITE lacked sh, rm and diff and never composed.
func TestMmdebstrapSuiteIsTheMainRepository(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	argsFile := filepath.Join(dir, "args")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// A stand-in that records its command line and fails, so that the
	// build stops there.
	stub := "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$FAKE_ARGS\"\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "mmdebstrap"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_ARGS", argsFile)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	archive := func(suite string) string {
		root := filepath.Join(dir, suite)
		if err := os.MkdirAll(filepath.Join(root, "dists", suite), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "dists", suite, "Release"), []byte("Suite: "+suite+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return "Types: deb\nURIs: copy://" + root + "\nSuites: " + suite + "\nComponents: main\n"
	}
	repo, err := hostimage.OpenRepo(t.Context(), filepath.Join(dir, "repo"), hostimage.GPG{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		repos, want string
	}{
		{"[debian, debian-security]", "bookworm"},
		{"[debian-security, debian]", "bookworm-security"},
	}
	for _, tc := range tests {
		t.Run(tc.repos, func(t *testing.T) {
			files := hostimage.Files{
				{Path: "host.yaml", Content: "ref: t\nrepos: " + tc.repos + "\npackages: [hello]\n"},
				{Path: "debian.sources", Content: archive("bookworm")},
				{Path: "debian-security.sources", Content: archive("bookworm-security")},
			}
			var log bytes.Buffer
			_, err := hostimage.Compose(t.Context(), hostimage.Job{
				Files: files, Main: "host.yaml", Number: 1, Repo: repo, WorkDir: filepath.Join(dir, "build"),
				Runners: hostimage.RunnerConfig{Root: hostimage.Mmdebstrap{Mode: "root"}}, Log: &log, Basearch: "x86_64",
			})
			if err == nil {
				t.Fatalf("the stand-in mmdebstrap failed, the build did not:\n%s", log.String())
			}
			data, err := os.ReadFile(argsFile)
			if err != nil {
				t.Fatalf("mmdebstrap did not run: %v\n%s", err, log.String())
			}
			args := strings.Split(strings.TrimSpace(string(data)), "\n")
			// SUITE TARGET then the sources files.
			i := slices.IndexFunc(args, func(a string) bool { return strings.HasSuffix(a, "/root") })
			if i < 1 || args[i-1] != tc.want {
				t.Fatalf("mmdebstrap %v: want SUITE %s before the target", args, tc.want)
			}
			if n := len(args) - i - 1; n != 2 {
				t.Errorf("mmdebstrap %v: want the two sources files after the target, got %d", args, n)
			}
		})
	}
}
