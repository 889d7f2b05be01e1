package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthpaas/berth/client"
)

func newScaleCommand(g *globals) *cobra.Command {
	replicas := int32(-1)
	cmd := &cobra.Command{
		Use:   "scale rc NAME --replicas N",
		Short: "Set the number of pods of a replication controller",
		Example: `  berth scale rc web --replicas 3
  berth scale rc/web --replicas 0`,
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
			if res.Resource != client.ReplicationControllers.Resource {
				return fmt.Errorf("scale works on replication controllers, not %s", res)
			}
			if name == "" {
				return fmt.Errorf("scale: a name is required")
			}
			if replicas < 0 {
				return fmt.Errorf("--replicas is required and must not be negative")
			}
			namespace, c, err := g.target()
			if err != nil {
				return err
			}
			patch, err := json.Marshal(map[string]any{"spec": map[string]any{"replicas": replicas}})
			if err != nil {
				return err
			}
			if err := c.Patch(cmd.Context(), res, namespace, name, client.MergePatch, patch, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s/%s scaled\n", res.Singular, name)
			return nil
		},
	}
	cmd.Flags().Int32Var(&replicas, "replicas", -1, "the number of pods wanted (required)")
	return cmd
}
