package cli

import (
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/spf13/cobra"

	"github.com/berthpaas/berth/client"
)

func newDeleteCommand(g *globals) *cobra.Command {
	var files []string
	var ignoreNotFound bool
	cmd := &cobra.Command{
		Use:   "delete (KIND NAME... | -f FILE|-)",
		Short: "Delete objects by name or as listed in a file",
		Example: `  berth delete pod web
  berth delete -f web.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := deleteTargets(cmd, g, files, args)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			var errs []error
			for _, m := range targets {
				err := c.Delete(cmd.Context(), m.res, m.namespace, m.name)
				if apierrors.IsNotFound(err) && ignoreNotFound {
					continue
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %q deleted\n", m.res.Singular, m.name)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "file of the objects to delete (- for stdin)")
	cmd.Flags().BoolVar(&ignoreNotFound, "ignore-not-found", false, "do not fail on objects that do not exist")
	return cmd
}

// deleteTargets are the objects named on the command line or in files.
func deleteTargets(cmd *cobra.Command, g *globals, files, args []string) ([]manifest, error) {
	if len(files) > 0 {
		if len(args) > 0 {
			return nil, errors.New("give either KIND NAME... or -f FILE, not both")
		}
		return readManifests(cmd, g, files)
	}
	if len(args) < 2 {
		return nil, errors.New("give KIND NAME... or -f FILE")
	}
	res, err := client.LookupResource(args[0])
	if err != nil {
		return nil, err
	}
	namespace := ""
	if res.Namespaced {
		if namespace, err = g.ns(); err != nil {
			return nil, err
		}
	}
	var targets []manifest
	for _, name := range args[1:] {
		targets = append(targets, manifest{res: res, namespace: namespace, name: name})
	}
	return targets, nil
}
