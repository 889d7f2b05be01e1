package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/portforward"

	"github.com/berthpaas/berth/client"
)

func newPortForwardCommand(g *globals) *cobra.Command {
	var addresses []string
	cmd := &cobra.Command{
		Use:   "port-forward POD [LOCAL_PORT:]REMOTE_PORT...",
		Short: "Forward local ports to a pod",
		Long: `Listen on local ports and forward each connection to a port of a running
pod, as kubectl port-forward does, until interrupted. The pod's side is its
own loopback address: a server listening only on the pod's localhost is
reached too. A port given alone is the same locally; :REMOTE_PORT picks a
free local port and prints it.`,
		Example: `  berth port-forward web 8080
  berth port-forward web 9000:8080 9443:8443
  berth port-forward --address 0.0.0.0 web :8080`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			namespace, c, err := g.target()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var pod corev1.Pod
			if err := c.Get(ctx, client.Pods, namespace, args[0], &pod); err != nil {
				return err
			}
			if pod.Status.Phase != corev1.PodRunning {
				// kubectl's words.
				return fmt.Errorf("unable to forward port because pod is not running. Current status=%v", pod.Status.Phase)
			}
			dialer, err := c.PortForwardDialer(namespace, args[0])
			if err != nil {
				return err
			}
			stop := make(chan struct{})
			defer context.AfterFunc(ctx, func() { close(stop) })()
			fw, err := portforward.NewOnAddressesForStreaming(dialer, addresses, args[1:], stop, nil, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			err = fw.ForwardPorts()
			if ctx.Err() != nil {
				return nil // interrupted: how a port forward ends
			}
			return err
		},
	}
	cmd.Flags().StringSliceVar(&addresses, "address", []string{"localhost"}, "local addresses to listen on (comma-separated); localhost means 127.0.0.1 and ::1")
	return cmd
}
