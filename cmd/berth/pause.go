package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// pauseCommand is the process of a pod's infra container: it holds the
// network namespace and exits 0 on SIGTERM or SIGINT.
func pauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "pause",
		Short:  "Block until SIGTERM or SIGINT (the process of a pod's infra container)",
		Args:   cobra.ArbitraryArgs,
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
			<-sigs
			return nil
		},
	}
}
