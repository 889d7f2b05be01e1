package cli

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/spf13/cobra"

	"github.com/berthpaas/berth/client"
)

// applyAttempts bounds the retries of an apply that loses a race with
// another writer.
const applyAttempts = 3

func newApplyCommand(g *globals) *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "apply -f FILE|-",
		Short: "Create objects, or update them to match a file",
		Long: `Create each object of the file that does not exist yet, and update the
others to match the file: fields the file sets replace the server's, lists of
named things (containers, ports, volumes ...) are matched by name, and
fields the file leaves out keep their current value. Updates carry the
resourceVersion they were read at and are retried if the object changed in
between. Objects already as the file says are left alone ("unchanged").`,
		Example: `  berth apply -f web.yaml
  cat web.yaml | berth apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			manifests, err := readManifests(cmd, g, files)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			var errs []error
			for _, m := range manifests {
				result, err := applyOne(cmd.Context(), c, m)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", m.id(), err))
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", m.id(), result)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "file of objects (YAML or JSON; - for stdin)")
	return cmd
}

// applyOne creates or updates one object and says which it did:
// "created", "configured" or "unchanged".
func applyOne(ctx context.Context, c *client.Client, m manifest) (string, error) {
	desired := withoutServerFields(m.obj)
	for attempt := 1; ; attempt++ {
		var current map[string]any
		err := c.Get(ctx, m.res, m.namespace, m.name, &current)
		if apierrors.IsNotFound(err) {
			err = c.Create(ctx, m.res, m.namespace, desired, nil)
			if apierrors.IsAlreadyExists(err) && attempt < applyAttempts {
				continue
			}
			return "created", err
		}
		if err != nil {
			return "", err
		}
		merged := mergeValue(current, desired).(map[string]any)
		if reflect.DeepEqual(merged, current) {
			return "unchanged", nil
		}
		err = c.Update(ctx, m.res, m.namespace, m.name, merged, nil)
		if apierrors.IsConflict(err) && attempt < applyAttempts {
			continue
		}
		return "configured", err
	}
}

// withoutServerFields drops what the server owns from a manifest: status
// and the resourceVersion (the update uses the current one).
func withoutServerFields(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if k != "status" {
			out[k] = v
		}
	}
	if meta, ok := obj["metadata"].(map[string]any); ok {
		m := make(map[string]any, len(meta))
		for k, v := range meta {
			if k != "resourceVersion" {
				m[k] = v
			}
		}
		out["metadata"] = m
	}
	return out
}

// mergeValue lays desired over current without changing either: maps merge
// key by key (null removes a key, as in a JSON merge patch), lists whose
// elements all carry a distinct merge key merge element by element, and
// anything else is replaced.
func mergeValue(current, desired any) any {
	switch d := desired.(type) {
	case map[string]any:
		c, _ := current.(map[string]any)
		out := make(map[string]any, len(c)+len(d))
		for k, v := range c {
			out[k] = v
		}
		for k, v := range d {
			if v == nil {
				delete(out, k)
				continue
			}
			out[k] = mergeValue(c[k], v)
		}
		return out
	case []any:
		c, _ := current.([]any)
		return mergeList(c, d)
	default:
		return desired
	}
}

// listMergeKeys are the fields that identify an element of a list, tried
// in order, as Kubernetes' strategic merge patch does for containers,
// volumes, volume mounts, container ports and service ports.
var listMergeKeys = []string{"name", "mountPath", "containerPort", "port"}

// mergeList merges desired elements into the current elements with the
// same merge key; desired decides which elements there are and their order.
func mergeList(current, desired []any) []any {
	key := mergeKey(desired)
	if key == "" {
		return desired
	}
	byKey := map[any]any{}
	for _, el := range current {
		if m, ok := el.(map[string]any); ok && m[key] != nil {
			byKey[m[key]] = m
		}
	}
	out := make([]any, len(desired))
	for i, el := range desired {
		out[i] = mergeValue(byKey[el.(map[string]any)[key]], el)
	}
	return out
}

// mergeKey returns the first merge key that every element of list has,
// with distinct values, or "".
func mergeKey(list []any) string {
	if len(list) == 0 {
		return ""
	}
next:
	for _, key := range listMergeKeys {
		seen := map[any]bool{}
		for _, el := range list {
			m, ok := el.(map[string]any)
			if !ok {
				return ""
			}
			switch v := m[key].(type) {
			case string, float64, bool:
				if seen[v] {
					continue next
				}
				seen[v] = true
			default: // missing, null, or not usable as a key
				continue next
			}
		}
		return key
	}
	return ""
}

func newCreateCommand(g *globals) *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "create -f FILE|- | create (secret|configmap) ...",
		Short: "Create the objects of a file, a secret or a config map",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			manifests, err := readManifests(cmd, g, files)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			var errs []error
			for _, m := range manifests {
				if err := c.Create(cmd.Context(), m.res, m.namespace, m.obj, nil); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", m.id(), err))
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s created\n", m.id())
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "file of objects (YAML or JSON; - for stdin)")
	cmd.AddCommand(newCreateSecretCommand(g), newCreateConfigMapCommand(g))
	return cmd
}
