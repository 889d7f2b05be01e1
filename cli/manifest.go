package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/berthpaas/berth/client"
)

// manifest is one object read from a file, with its resource and the
// namespace it goes to.
type manifest struct {
	res       client.Resource
	namespace string // "" for cluster-scoped resources
	name      string
	obj       map[string]any
}

// id names the object as apply and create print it: "pod/web".
func (m manifest) id() string { return m.res.Singular + "/" + m.name }

// readManifests reads every object of the files ("-" is stdin): YAML
// documents separated by "---", JSON objects one after another, and the
// items of List objects.
func readManifests(cmd *cobra.Command, g *globals, files []string) ([]manifest, error) {
	if len(files) == 0 {
		return nil, errors.New("no file: pass -f FILE, or -f - for stdin")
	}
	defaultNS, err := g.ns()
	if err != nil {
		return nil, err
	}
	var out []manifest
	for _, file := range files {
		objs, err := decodeFile(cmd, file)
		if err != nil {
			return nil, err
		}
		for i, obj := range objs {
			m, err := toManifest(obj, defaultNS, g.namespaceExplicit())
			if err != nil {
				return nil, fmt.Errorf("%s: object %d: %w", file, i+1, err)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

func decodeFile(cmd *cobra.Command, file string) ([]map[string]any, error) {
	var r io.Reader
	if file == "-" {
		r = cmd.InOrStdin()
	} else {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var objs []map[string]any
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(obj) == 0 {
			continue
		}
		objs = append(objs, expandList(obj)...)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("%s: no objects", file)
	}
	return objs, nil
}

// expandList returns the items of a List (kind List or FooList), or obj
// itself.
func expandList(obj map[string]any) []map[string]any {
	kind, _ := obj["kind"].(string)
	items, ok := obj["items"].([]any)
	if !ok || !strings.HasSuffix(kind, "List") {
		return []map[string]any{obj}
	}
	var out []map[string]any
	for _, item := range items {
		if m, ok := item.(map[string]any); ok && len(m) > 0 {
			out = append(out, expandList(m)...)
		}
	}
	return out
}

func toManifest(obj map[string]any, defaultNS string, nsExplicit bool) (manifest, error) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if apiVersion == "" || kind == "" {
		return manifest{}, errors.New("apiVersion and kind are required")
	}
	res, err := client.LookupKind(apiVersion, kind)
	if err != nil {
		return manifest{}, err
	}
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if name == "" {
		return manifest{}, fmt.Errorf("%s without metadata.name", kind)
	}
	m := manifest{res: res, name: name, obj: obj}
	if !res.Namespaced {
		return m, nil
	}
	ns, _ := meta["namespace"].(string)
	switch {
	case ns == "":
		ns = defaultNS
		meta["namespace"] = ns
	case nsExplicit && ns != defaultNS:
		return manifest{}, fmt.Errorf("%s is in namespace %q, but --namespace says %q", m.id(), ns, defaultNS)
	}
	m.namespace = ns
	return m, nil
}
