package hostimage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// inputHashVersion changes when what the hash covers changes, so that a
// new Berth does not take an old build's inputs for its own.
const inputHashVersion = "berth.hostimage.inputhash/1"

// InputHash digests everything a build is made of, as rpm-ostree's
// inputhash does: the expanded treefile (re-serialized, so that comments,
// spacing and key order do not count), the content and mode of every file
// it reads besides treefiles (added files, the postprocess script, repo
// files, lockfiles), and extra: what the runner adds (its kind, the
// commits of ostree-layers, the state of the package repositories). Equal
// hashes mean an equal build: nothing to compose.
func (d *Definition) InputHash(extra map[string]string) string {
	h := sha256.New()
	fmt.Fprintln(h, inputHashVersion)
	tf, err := json.Marshal(d.Treefile)
	if err != nil {
		panic(err) // every field marshals
	}
	fmt.Fprintf(h, "treefile %s\n", tf)
	for _, p := range d.Inputs() {
		if slices.Contains(d.Treefiles, p) {
			continue
		}
		sum := sha256.Sum256(d.content[p])
		mode := "-"
		if d.executable[p] {
			mode = "x"
		}
		fmt.Fprintf(h, "file %q %s %s\n", p, mode, hex.EncodeToString(sum[:]))
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "extra %q=%q\n", k, strings.TrimSpace(extra[k]))
	}
	return hex.EncodeToString(h.Sum(nil))
}
