// Package hostimage is Berth's host image builder as a library: it loads
// rpm-ostree treefiles with rpm-ostree's include rules, validates them,
// renders them expanded, digests their inputs, composes them into OSTree
// commits and compares commits. It knows nothing of HTTP or storage: the
// API, the CLI (berth hostimage render|validate, offline) and a CI job of
// a definitions repository call it alike.
//
// # Definitions
//
// A definition is a directory of files (LoadDir) or the same files as
// stored by the server (Files, LoadFiles): a main treefile, the treefiles
// it includes, the files its add-files and postprocess-script name, and
// its package sources: deb822 NAME.sources beside the main treefile, or
// *.repo files for rpm-ostree. Nothing a definition names is read from
// outside its directory (os.Root), and nothing it writes into a tree
// lands outside the tree.
//
//	Load ─► parse each treefile (YAML or JSON; unknown keys refused)
//	     ─► include / arch-include, relative to the including file,
//	        merged as rpm-ostree merges (scalars: includer wins;
//	        lists: included first; cycles refused)
//	     ─► ${basearch} ${releasever} ─► validate ─► Definition
//	Definition.InputHash(runner inputs) ─► equal to the last build's: no build
//
// # A build
//
//	Compose(Job) ─► write the files ─► Load ─► runner.Inputs ─► input hash
//	  unchanged ──────────────────────────────────────────► NoChanges
//	  OSTreeRunner: root (mmdebstrap | directory | Docker image)
//	     ─► ostree-layers ─► add-files ─► units, default-target
//	     ─► remove-files ─► documentation, install-langs
//	     ─► postprocess (bubblewrap, no network) ─► os-release
//	     ─► kernel to /usr/lib/modules
//	     ─► empty machine-id, API mount points ─► package list
//	     ─► ostree commit (orphan; parent, version, input hash, packages)
//	        tree unchanged ──────────────────────────────► Unchanged
//	  RpmOstreeRunner: rpm-ostree compose tree ─► compose.json
//	  ─► static delta from the parent ─► sizes ─► ref ─► summary
//
// A build that fails or is cancelled before the ref moves leaves the
// repository's ref where it was.
//
// # Where a Debian host's compose spends its time
//
// mmdebstrap installing the packages is most of it. The rest is kept
// small: documentation and other languages' translations are never
// unpacked (dpkg filters), dpkg does not fsync, dracut runs once (gzip
// -1), and the archive repository compresses at zlib level 1
// (archive.zlib-level) with one syncfs. bench/BenchmarkDebianHostCompose
// compares a compose with a bare mmdebstrap of the same packages.
package hostimage
