package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berthpaas/berth/client"
)

func newDiffCommand(g *globals) *cobra.Command {
	var container string
	cmd := &cobra.Command{
		Use:   "diff [-c CONTAINER] POD",
		Short: "List the files a container of a pod changed, like docker diff",
		Long: `List the files and directories a container of a pod (its first container
unless -c names another) added (A), changed (C) or deleted (D) in its
filesystem since it was created.`,
		Example: `  berth diff web`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			namespace, c, err := g.target()
			if err != nil {
				return err
			}
			changes, err := c.PodDiff(cmd.Context(), namespace, args[0], container)
			if err != nil {
				return err
			}
			for _, ch := range changes {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", ch.Kind, ch.Path)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&container, "container", "c", "", "container name (default: the pod's first)")
	return cmd
}

// newPodActionCommand is berth stop, start or restart.
func newPodActionCommand(g *globals, action client.PodAction, short, done string) *cobra.Command {
	return &cobra.Command{
		Use:   string(action) + " POD...",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			namespace, c, err := g.target()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				if err := c.DoPodAction(cmd.Context(), namespace, name, action); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "pod/%s %s\n", name, done)
			}
			return errors.Join(errs...)
		},
	}
}

func newPodActionCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{
		newPodActionCommand(g, client.StopPod, "Stop the containers of pods (they stay, Exited, until started)", "stopped"),
		newPodActionCommand(g, client.StartPod, "Start the stopped containers of pods again", "started"),
		newPodActionCommand(g, client.RestartPod, "Stop and start the containers of pods", "restarted"),
	}
}
