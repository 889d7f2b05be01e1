package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	v1 "k8s.io/api/core/v1"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/client"
)

func newNodeUpgradeCommand(g *globals) *cobra.Command {
	var image string
	var force, wait bool
	cmd := &cobra.Command{
		Use:   "upgrade NAME [--image HOSTIMAGE] [--force] [--wait]",
		Short: "Upgrade an OSTree node to the newest build of its host image",
		Long: `Upgrade a node to the newest successful build of its host image (the one
its booted commit was built from, or --image): the master cordons it and
deletes its pods (their replication controllers start them elsewhere), the
node's agent pulls the commit from the master's OSTree repository, deploys
it and reboots, and the master makes the node schedulable again once it
reports the new commit. A node that is not an OSTree host is refused, as is
one with pods no replication controller would recreate, unless --force.
--wait shows the upgrade's progress until it ends.`,
		Example: `  berth node upgrade rack1 --wait
  berth get nodes -o wide    # HOST-IMAGE, NEWER-BUILD`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, name := cmd.Context(), args[0]
			up, err := c.UpgradeNode(ctx, name, berthv1.NodeUpgrade{HostImage: image, Force: force})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node/%s is being upgraded to %s (%s, commit %s)\n", name, up.Build, up.Ref, short(up.Target))
			if !wait {
				return nil
			}
			progress := newProgressLine(cmd.ErrOrStderr())
			start := time.Now()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				var n v1.Node
				if err := c.Get(ctx, client.Nodes, "", name, &n); err == nil {
					var st berthv1.NodeUpgradeState
					if json.Unmarshal([]byte(n.Annotations[berthv1.AnnotationUpgrade]), &st) == nil && st.Target == up.Target {
						progress.show(fmt.Sprintf("%s %s %s  %s", name, st.Phase, time.Since(start).Round(time.Second), st.Message))
						switch st.Phase {
						case berthv1.UpgradeSucceeded:
							progress.clear()
							fmt.Fprintf(cmd.OutOrStdout(), "node/%s runs %s: %s\n", name, up.Build, st.Message)
							return nil
						case berthv1.UpgradeFailed:
							progress.clear()
							return fmt.Errorf("the upgrade of node %s failed: %s", name, st.Message)
						}
					}
				}
				select {
				case <-ctx.Done():
					progress.clear()
					fmt.Fprintf(cmd.ErrOrStderr(), "the upgrade goes on: berth get nodes -o wide shows it\n")
					return nil
				case <-tick.C:
				}
			}
		},
	}
	cmd.Flags().StringVar(&image, "image", "", "the host image to upgrade to (default: the one the node booted)")
	cmd.Flags().BoolVar(&force, "force", false, "also delete pods that no replication controller recreates")
	cmd.Flags().BoolVar(&wait, "wait", false, "show the upgrade's progress until it ends")
	return cmd
}
