package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthpaas/berth/client"
)

type getOptions struct {
	output        string
	allNamespaces bool
	selector      string
	fieldSelector string
	watch         bool
}

func newGetCommand(g *globals) *cobra.Command {
	o := &getOptions{}
	cmd := &cobra.Command{
		Use:   "get KIND[,KIND...] [NAME] [-o json|yaml|wide|name] [-l SELECTOR] [-w]",
		Short: "Show objects, as a table or as JSON or YAML",
		Long: `Show one object or a list of them. KIND is a resource name, its singular,
its short name or its kind: pods (po), services (svc), endpoints (ep),
replicationcontrollers (rc), events (ev), namespaces (ns), nodes (no),
projects, members, users, tokens, routes. KIND/NAME works too, and so do several
kinds at once (svc,ep), each in its own table.

The table is the server's; -o wide adds its extra columns. -w keeps printing
changes as they happen, until interrupted.`,
		Example: `  berth get pods
  berth get po web -o yaml
  berth get svc -l app=web -o wide
  berth get svc,endpoints
  berth get pods -A -w`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name := args[0], ""
			if len(args) == 2 {
				name = args[1]
			} else if k, n, ok := strings.Cut(kind, "/"); ok {
				kind, name = k, n
			}
			var resources []client.Resource
			for _, k := range strings.Split(kind, ",") {
				res, err := client.LookupResource(k)
				if err != nil {
					return err
				}
				resources = append(resources, res)
			}
			if len(resources) == 1 {
				return runGet(cmd, g, o, resources[0], name)
			}
			return runGetKinds(cmd, g, o, resources, name)
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&o.output, "output", "o", "", "output format: json, yaml, wide or name")
	flags.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	flags.StringVarP(&o.selector, "selector", "l", "", "label selector, e.g. app=web,tier!=db")
	flags.StringVar(&o.fieldSelector, "field-selector", "", "field selector, e.g. status.phase=Running")
	flags.BoolVarP(&o.watch, "watch", "w", false, "after printing, keep printing changes")
	return cmd
}

// getContext is what printing one kind needs.
type getContext struct {
	client    *client.Client
	namespace string
	opts      client.ListOptions
}

func (o *getOptions) context(g *globals, res client.Resource, name string) (getContext, error) {
	switch o.output {
	case "", "wide", "json", "yaml", "name":
	default:
		return getContext{}, fmt.Errorf("unknown output format %q: use json, yaml, wide or name", o.output)
	}
	c, err := g.client()
	if err != nil {
		return getContext{}, err
	}
	gc := getContext{client: c, opts: client.ListOptions{LabelSelector: o.selector, FieldSelector: o.fieldSelector}}
	if res.Namespaced && !(o.allNamespaces && name == "") {
		if gc.namespace, err = g.ns(); err != nil {
			return getContext{}, err
		}
	}
	return gc, nil
}

// runGet prints one object (name set) or a list, then, with -w, the
// changes.
func runGet(cmd *cobra.Command, g *globals, o *getOptions, res client.Resource, name string) error {
	gc, err := o.context(g, res, name)
	if err != nil {
		return err
	}
	p := newPrinter(cmd.OutOrStdout(), o.output, res, gc.namespace == "" && res.Namespaced)
	ctx := cmd.Context()
	var resourceVersion string
	if p.table() {
		table, err := gc.client.Table(ctx, res, gc.namespace, name, gc.opts)
		if err != nil {
			return err
		}
		if len(table.Rows) == 0 && name == "" && !o.watch {
			fmt.Fprintln(cmd.ErrOrStderr(), noResources(gc.namespace, res))
			return nil
		}
		if err := p.printTable(table); err != nil {
			return err
		}
		resourceVersion = table.ResourceVersion
		if name != "" && len(table.Rows) == 1 {
			resourceVersion = rowResourceVersion(table.Rows[0].Object.Raw)
		}
	} else {
		raw, err := getRaw(ctx, gc, res, name)
		if err != nil {
			return err
		}
		if err := p.printObject(raw); err != nil {
			return err
		}
		resourceVersion = rowResourceVersion(raw)
	}
	if !o.watch {
		return nil
	}
	return watchAndPrint(cmd, gc.client, p, res, gc.namespace, name, gc.opts, resourceVersion)
}

func getRaw(ctx context.Context, gc getContext, res client.Resource, name string) (json.RawMessage, error) {
	var raw json.RawMessage
	var err error
	if name != "" {
		err = gc.client.Get(ctx, res, gc.namespace, name, &raw)
	} else {
		err = gc.client.List(ctx, res, gc.namespace, gc.opts, &raw)
	}
	return raw, err
}

// runGetKinds prints several kinds, as kubectl get svc,ep does: a table
// for each, its names prefixed with the kind, or one List of them all.
func runGetKinds(cmd *cobra.Command, g *globals, o *getOptions, resources []client.Resource, name string) error {
	if o.watch {
		return fmt.Errorf("-w watches one kind at a time")
	}
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	var items []json.RawMessage
	printed := 0
	for _, res := range resources {
		gc, err := o.context(g, res, name)
		if err != nil {
			return err
		}
		p := newPrinter(out, o.output, res, gc.namespace == "" && res.Namespaced)
		p.kindPrefix = true
		if !p.table() {
			raw, err := getRaw(ctx, gc, res, name)
			if err != nil {
				return err
			}
			listed, err := withKind(raw, res)
			if err != nil {
				return err
			}
			items = append(items, listed...)
			continue
		}
		table, err := gc.client.Table(ctx, res, gc.namespace, name, gc.opts)
		if err != nil {
			return err
		}
		if len(table.Rows) == 0 {
			continue
		}
		if printed > 0 {
			fmt.Fprintln(out)
		}
		printed++
		if err := p.printTable(table); err != nil {
			return err
		}
	}
	if len(items) > 0 || o.output != "" && o.output != "wide" {
		list, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
		if err != nil {
			return err
		}
		return newPrinter(out, o.output, resources[0], false).printObject(list)
	}
	if printed == 0 {
		fmt.Fprintln(cmd.ErrOrStderr(), "No resources found.")
	}
	return nil
}

// withKind returns the objects of an object or a list with their kind
// and apiVersion set, as the items of a List carry them.
func withKind(raw json.RawMessage, res client.Resource) ([]json.RawMessage, error) {
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	objs := list.Items
	if list.Items == nil {
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, err
		}
		if _, isList := obj["items"]; !isList {
			objs = []map[string]any{obj}
		}
	}
	out := make([]json.RawMessage, 0, len(objs))
	for _, obj := range objs {
		obj["kind"], obj["apiVersion"] = res.Kind, res.APIVersion()
		data, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		out = append(out, data)
	}
	return out, nil
}

func watchAndPrint(cmd *cobra.Command, c *client.Client, p *printer, res client.Resource, namespace, name string, opts client.ListOptions, resourceVersion string) error {
	opts.ResourceVersion = resourceVersion
	if name != "" {
		byName := "metadata.name=" + name
		if opts.FieldSelector != "" {
			byName = opts.FieldSelector + "," + byName
		}
		opts.FieldSelector = byName
	}
	ctx := cmd.Context()
	watch := c.Watch
	if p.table() {
		watch = c.WatchTable
	}
	events, err := watch(ctx, res, namespace, opts)
	if err != nil {
		return err
	}
	for ev := range events {
		switch ev.Type {
		case client.Error:
			return ev.Err
		case client.Bookmark:
			continue
		}
		if p.table() {
			table, err := client.DecodeTable(ev.Object)
			if err != nil {
				return err
			}
			err = p.printTable(table)
			if err != nil {
				return err
			}
			continue
		}
		if err := p.printObject(ev.Object); err != nil {
			return err
		}
	}
	return nil
}

// rowResourceVersion reads metadata.resourceVersion out of an object or a
// list.
func rowResourceVersion(raw []byte) string {
	var obj struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(raw, &obj)
	return obj.Metadata.ResourceVersion
}

func noResources(namespace string, res client.Resource) string {
	if res.Namespaced && namespace != "" {
		return fmt.Sprintf("No resources found in %s namespace.", namespace)
	}
	return "No resources found."
}
