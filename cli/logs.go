package cli

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthpaas/berth/client"
)

func newLogsCommand(g *globals) *cobra.Command {
	var (
		opts  client.LogOptions
		tail  int64
		since time.Duration
	)
	cmd := &cobra.Command{
		Use:   "logs [-f] [-c CONTAINER] [--tail N] [--since 5m] POD",
		Short: "Print the log of a container of a pod",
		Long: `Print the log of a container of a pod (its first container unless -c names
another). With -f the output keeps coming as the container writes it, until
the container ends or the command is interrupted.`,
		Example: `  berth logs web
  berth logs -f --tail 10 web
  berth logs -p -c sidecar web`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tail >= 0 {
				opts.TailLines = &tail
			}
			if since < 0 {
				return fmt.Errorf("--since %s: must not be negative", since)
			}
			if since > 0 {
				seconds := int64(math.Ceil(since.Seconds()))
				opts.SinceSeconds = &seconds
			}
			namespace, err := g.ns()
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			body, err := c.PodLogs(ctx, namespace, args[0], opts)
			if err != nil {
				return err
			}
			defer body.Close()
			_, err = io.Copy(cmd.OutOrStdout(), body)
			if ctx.Err() != nil {
				return nil // interrupted: the end a follow usually has
			}
			if err != nil {
				return fmt.Errorf("log of pod %q: %w", args[0], err)
			}
			return nil
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing the log as it grows")
	flags.StringVarP(&opts.Container, "container", "c", "", "container name (default: the pod's first)")
	flags.Int64Var(&tail, "tail", -1, "print only the last N lines (-1 for all)")
	flags.DurationVar(&since, "since", 0, "print only lines newer than this, e.g. 5m or 2h")
	flags.BoolVar(&opts.Timestamps, "timestamps", false, "prefix each line with its time")
	flags.BoolVarP(&opts.Previous, "previous", "p", false, "print the log of the previous, terminated instance of the container")
	return cmd
}
