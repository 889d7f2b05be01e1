package cli

import (
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
		Use:   "get KIND [NAME] [-o json|yaml|wide|name] [-l SELECTOR] [-w]",
		Short: "Show objects, as a table or as JSON or YAML",
		Long: `Show one object or a list of them. KIND is a resource name, its singular,
its short name or its kind: pods (po), services (svc), replicationcontrollers
(rc), events (ev), namespaces (ns), nodes (no), projects, members, users,
tokens. KIND/NAME works too.

The table is the server's; -o wide adds its extra columns. -w keeps printing
changes as they happen, until interrupted.`,
		Example: `  berth get pods
  berth get po web -o yaml
  berth get svc -l app=web -o wide
  berth get pods -A -w`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name := args[0], ""
			if len(args) == 2 {
				name = args[1]
			} else if k, n, ok := strings.Cut(kind, "/"); ok {
				kind, name = k, n
			}
			res, err := client.LookupResource(kind)
			if err != nil {
				return err
			}
			return runGet(cmd, g, o, res, name)
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

// runGet prints one object (name set) or a list, then, with -w, the
// changes.
func runGet(cmd *cobra.Command, g *globals, o *getOptions, res client.Resource, name string) error {
	switch o.output {
	case "", "wide", "json", "yaml", "name":
	default:
		return fmt.Errorf("unknown output format %q: use json, yaml, wide or name", o.output)
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	namespace := ""
	if res.Namespaced && !(o.allNamespaces && name == "") {
		if namespace, err = g.ns(); err != nil {
			return err
		}
	}
	opts := client.ListOptions{LabelSelector: o.selector, FieldSelector: o.fieldSelector}
	p := newPrinter(cmd.OutOrStdout(), o.output, res, namespace == "" && res.Namespaced)

	ctx := cmd.Context()
	var resourceVersion string
	if p.table() {
		table, err := c.Table(ctx, res, namespace, name, opts)
		if err != nil {
			return err
		}
		if len(table.Rows) == 0 && name == "" && !o.watch {
			fmt.Fprintln(cmd.ErrOrStderr(), noResources(namespace, res))
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
		var raw json.RawMessage
		if name != "" {
			err = c.Get(ctx, res, namespace, name, &raw)
		} else {
			err = c.List(ctx, res, namespace, opts, &raw)
		}
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
	return watchAndPrint(cmd, c, p, res, namespace, name, opts, resourceVersion)
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
