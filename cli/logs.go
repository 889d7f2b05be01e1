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
		opts      client.LogOptions
		tail      int64
		since     time.Duration
		sinceTime string
		limit     int64
	)
	cmd := &cobra.Command{
		Use:   "logs [-f] [-c CONTAINER] [--tail N] [--since 5m] POD",
		Short: "Print the log of a container of a pod",
		Long: `Print the log of a container of a pod (its first container unless -c names
another). With -f the output keeps coming as the container writes it (output
without a newline, such as a progress bar, too), until the container ends or
the command is interrupted; a lost connection (the server or the node
restarting) is taken up again where it was, without losing or repeating a
line.`,
		Example: `  berth logs web
  berth logs -f --tail 10 web
  berth logs --since-time 2025-03-01T12:00:00.5Z web
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
			if sinceTime != "" {
				t, err := time.Parse(time.RFC3339Nano, sinceTime)
				if err != nil {
					return fmt.Errorf("--since-time %q: not an RFC 3339 time (2006-01-02T15:04:05Z, fractions of a second allowed)", sinceTime)
				}
				if since > 0 {
					return fmt.Errorf("--since and --since-time: give one of them")
				}
				opts.SinceTime = &t
			}
			if limit < 0 {
				return fmt.Errorf("--limit-bytes %d: must not be negative", limit)
			}
			if limit > 0 {
				opts.LimitBytes = &limit
			}
			namespace, c, err := g.target()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if opts.Follow && opts.LimitBytes == nil {
				return followLog(ctx, c, namespace, args[0], opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
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
	flags.StringVar(&sinceTime, "since-time", "", "print only lines logged at or after this RFC 3339 time (to the nanosecond)")
	flags.Int64Var(&limit, "limit-bytes", 0, "print at most this many bytes of the log (0 for all)")
	flags.BoolVar(&opts.Timestamps, "timestamps", false, "prefix each line with its time")
	flags.BoolVarP(&opts.Previous, "previous", "p", false, "print the log of the previous, terminated instance of the container")
	return cmd
}
