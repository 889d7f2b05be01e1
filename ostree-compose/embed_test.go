package ostreecompose_test

import (
	"slices"
	"testing"

	"github.com/berthpaas/berth/hostimage"
	ostreecompose "github.com/berthpaas/berth/ostree-compose"
)

// TestHostsValidate checks each host definition as `berth hostimage
// validate` does, for both architectures it names packages for.
func TestHostsValidate(t *testing.T) {
	kinds := map[string]string{"berth-host-debian.yaml": "deb", "berth-host.yaml": "rpm"}
	for _, main := range ostreecompose.Hosts {
		for _, arch := range []string{"x86_64", "aarch64"} {
			t.Run(main+"/"+arch, func(t *testing.T) {
				def, err := hostimage.LoadDir(".", main, hostimage.LoadOptions{Basearch: arch})
				if err != nil {
					t.Fatal(err)
				}
				tf := def.Treefile
				if def.RepoKind != kinds[main] {
					t.Errorf("repos are %q, want %q", def.RepoKind, kinds[main])
				}
				for _, u := range []string{"docker.service", "berth-node.service"} {
					if !slices.Contains(tf.Units, u) {
						t.Errorf("units %v lack %s", tf.Units, u)
					}
				}
				if !slices.Contains(def.Inputs(), "berth-node.service") || !slices.Equal(tf.OstreeLayers, []string{"berth/node"}) {
					t.Errorf("the node agent's unit or binary is missing: inputs %v, layers %v", def.Inputs(), tf.OstreeLayers)
				}
				if tf.DocumentationWanted() {
					t.Error("documentation is kept")
				}
			})
		}
	}
}
