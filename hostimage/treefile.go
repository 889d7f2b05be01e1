package hostimage

import (
	"encoding/json"
	"runtime"
	"slices"
	"strings"
)

// Treefile is an expanded rpm-ostree treefile: its includes merged, its
// per-architecture keys resolved and its variables substituted. Its JSON
// form is what `rpm-ostree compose tree --print-only` prints and what the
// input hash covers. Keys Berth's OSTree runner does not apply
// (RpmOstreeOnlyKeys) are kept, so that the rpm-ostree runner gets them.
type Treefile struct {
	Ref        string   `json:"ref,omitempty"`
	Basearch   string   `json:"basearch,omitempty"`
	Releasever string   `json:"releasever,omitempty"`
	Repos      []string `json:"repos,omitempty"`
	// LockfileRepos are consulted only for the versions a lockfile pins.
	LockfileRepos []string `json:"lockfile-repos,omitempty"`
	Selinux       *bool    `json:"selinux,omitempty"`
	GPGKey        string   `json:"gpg-key,omitempty"`

	Packages             []string `json:"packages,omitempty"`
	ExcludePackages      []string `json:"exclude-packages,omitempty"`
	OstreeLayers         []string `json:"ostree-layers,omitempty"`
	OstreeOverrideLayers []string `json:"ostree-override-layers,omitempty"`

	Container       *bool    `json:"container,omitempty"`
	Recommends      *bool    `json:"recommends,omitempty"`
	Documentation   *bool    `json:"documentation,omitempty"`
	InstallLangs    []string `json:"install-langs,omitempty"`
	InitramfsArgs   []string `json:"initramfs-args,omitempty"`
	BootLocation    string   `json:"boot-location,omitempty"`
	TmpIsDir        *bool    `json:"tmp-is-dir,omitempty"`
	Units           []string `json:"units,omitempty"`
	DefaultTarget   string   `json:"default-target,omitempty"`
	MachineidCompat *bool    `json:"machineid-compat,omitempty"`

	AutomaticVersionPrefix string `json:"automatic-version-prefix,omitempty"`
	MutateOsRelease        string `json:"mutate-os-release,omitempty"`

	EtcGroupMembers     []string       `json:"etc-group-members,omitempty"`
	PreservePasswd      *bool          `json:"preserve-passwd,omitempty"`
	CheckPasswd         map[string]any `json:"check-passwd,omitempty"`
	CheckGroups         map[string]any `json:"check-groups,omitempty"`
	IgnoreRemovedUsers  []string       `json:"ignore-removed-users,omitempty"`
	IgnoreRemovedGroups []string       `json:"ignore-removed-groups,omitempty"`

	PostprocessScript  string     `json:"postprocess-script,omitempty"`
	Postprocess        []string   `json:"postprocess,omitempty"`
	AddFiles           []AddFile  `json:"add-files,omitempty"`
	RemoveFiles        []string   `json:"remove-files,omitempty"`
	RemoveFromPackages [][]string `json:"remove-from-packages,omitempty"`
	ReadonlyExecutable *bool      `json:"readonly-executables,omitempty"`

	AddCommitMetadata map[string]any `json:"add-commit-metadata,omitempty"`
	Metadata          map[string]any `json:"metadata,omitempty"`

	// Where the external files are, relative to the definition's
	// directory (they are named relative to the treefile that names them).
	postprocessScriptPath string
}

// AddFile is one add-files entry: a file of the definition and where it
// goes in the tree. Its JSON form is rpm-ostree's pair [source, dest].
type AddFile struct {
	// Source as written, relative to the treefile that names it.
	Source string
	// Dest is the absolute path in the tree, under /usr or /etc.
	Dest string
	// Path is the source relative to the definition's directory.
	Path string
}

// MarshalJSON writes the pair rpm-ostree reads.
func (a AddFile) MarshalJSON() ([]byte, error) { return json.Marshal([2]string{a.Source, a.Dest}) }

// PostprocessScriptPath is the postprocess-script relative to the
// definition's directory ("" when there is none).
func (t *Treefile) PostprocessScriptPath() string { return t.postprocessScriptPath }

// DocumentationWanted reports whether documentation stays in the tree
// (rpm-ostree's default: it does).
func (t *Treefile) DocumentationWanted() bool { return t.Documentation == nil || *t.Documentation }

// localeDir holds the translations install-langs selects among.
const localeDir = "usr/share/locale"

// localeWanted reports whether install-langs keeps the translations of
// /usr/share/locale/NAME. As RPM's _install_langs, a language keeps the
// files of the locales it begins with (en_US keeps en and en_US, not
// en_GB); "all", or no install-langs, keeps every locale.
func (t *Treefile) localeWanted(name string) bool {
	if len(t.InstallLangs) == 0 {
		return true
	}
	for _, l := range t.InstallLangs {
		if l == "all" || slices.Contains(localePrefixes(l), name) {
			return true
		}
	}
	return false
}

// localePrefixes are the locales a language begins with:
// en_US.UTF-8@euro begins with en, en_US, en_US.UTF-8 and itself.
func localePrefixes(lang string) []string {
	var out []string
	for i := 1; i <= len(lang); i++ {
		if i == len(lang) || strings.ContainsRune("_.@", rune(lang[i])) {
			out = append(out, lang[:i])
		}
	}
	return out
}

// localeFilter is dpkg's filter for install-langs (nil when every locale
// stays): the files of each locale's directory are left out, but those of
// the wanted locales. Files directly in /usr/share/locale (locale.alias)
// stay.
func (t *Treefile) localeFilter() []string {
	if len(t.InstallLangs) == 0 || slices.Contains(t.InstallLangs, "all") {
		return nil
	}
	opts := []string{"path-exclude=/" + localeDir + "/*/*"}
	seen := map[string]bool{}
	for _, l := range t.InstallLangs {
		for _, p := range localePrefixes(l) {
			if !seen[p] {
				seen[p] = true
				opts = append(opts, "path-include=/"+localeDir+"/"+p+"/*")
			}
		}
	}
	return opts
}

// JSON is the expanded treefile as rpm-ostree --print-only prints it.
func (t *Treefile) JSON() []byte {
	data, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		panic(err) // every field marshals
	}
	return append(data, '\n')
}

// RpmOstreeOnlyKeys are the treefile keys that only the rpm-ostree runner
// applies: they concern RPM databases, SELinux, initramfs generation and
// passwd handling, which a Debian root made by mmdebstrap has no use for.
// The OSTree runner says in the build log which of them a build sets.
var RpmOstreeOnlyKeys = []string{
	"selinux", "exclude-packages", "ostree-override-layers", "container",
	"initramfs-args", "boot-location", "tmp-is-dir", "machineid-compat", "etc-group-members",
	"preserve-passwd", "check-passwd", "check-groups", "ignore-removed-users",
	"ignore-removed-groups", "remove-from-packages", "readonly-executables", "lockfile-repos",
}

// Basearch is rpm-ostree's name for the architecture Go runs on (uname's).
func Basearch() string { return basearchOf(runtime.GOARCH) }

func basearchOf(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i686"
	case "arm":
		return "armhfp"
	}
	return goarch // ppc64le, s390x, riscv64
}

// DebianArch is Debian's name for an rpm-ostree basearch.
func DebianArch(basearch string) string {
	switch basearch {
	case "x86_64":
		return "amd64"
	case "aarch64":
		return "arm64"
	case "i686":
		return "i386"
	case "armhfp":
		return "armhf"
	case "ppc64le":
		return "ppc64el"
	}
	return basearch
}
