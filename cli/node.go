package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/client"
)

// bootstrapTokenKind is the spec.kind of the tokens that let a node join.
const bootstrapTokenKind = "bootstrap"

// addNodeCommands puts "berth node token" under root's node command: the
// node agent's when main passed one, else a command of its own.
func addNodeCommands(root *cobra.Command, g *globals) {
	var node *cobra.Command
	for _, cmd := range root.Commands() {
		if cmd.Name() == "node" {
			node = cmd
		}
	}
	if node == nil {
		node = &cobra.Command{Use: "node", Short: "Manage how nodes join the cluster"}
		root.AddCommand(node)
	}
	node.AddCommand(newNodeTokenCommand(g), newNodeUpgradeCommand(g))
}

func newNodeTokenCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "token",
		Aliases: []string{"tokens"},
		Short:   "Create and list the bootstrap tokens nodes join with (cluster admins)",
	}
	cmd.AddCommand(newNodeTokenCreateCommand(g), newNodeTokenListCommand(g))
	return cmd
}

func newNodeTokenCreateCommand(g *globals) *cobra.Command {
	var ttl time.Duration
	var nodeName string
	cmd := &cobra.Command{
		Use:   "create NAME --node NODE [--ttl 1h]",
		Short: "Create a bootstrap token for one node to join with; its secret is printed once",
		Long: `Create a token the node agent NODE joins the cluster with (berth node --name NODE
--token-file FILE). The token joins that node only, once, and expires (after an
hour unless --ttl says otherwise, at most a week). Once joined, the agent holds
a credential of its own, which it rotates; it needs a new bootstrap token only
if that credential expired while the agent was down.

The secret is printed on stdout, alone, and only this once.`,
		Example: `  berth node token create rack1-join --node rack1 > rack1.token
  berth node --master https://master:8443 --certificate-authority ca.crt --name rack1 --token-file rack1.token`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if nodeName == "" {
				return errors.New("--node is required: the name of the node the token may join as")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			spec := berthv1.TokenSpec{Kind: bootstrapTokenKind, NodeName: nodeName}
			created, expires, err := createToken(cmd, c, args[0], spec, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "bootstrap token %q for node %q created%s.\nThe secret below is shown only this once: save it to the file berth node --token-file reads.\n", args[0], nodeName, expires)
			fmt.Fprintln(cmd.OutOrStdout(), created.Status.Secret)
			return nil
		},
	}
	cmd.Flags().StringVar(&nodeName, "node", "", "name of the node the token may join as (required)")
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "lifetime of the token, e.g. 24h (default 1h, at most 168h)")
	return cmd
}

func newNodeTokenListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List your bootstrap tokens not yet used (without their secrets)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var tokens berthv1.TokenList
			if err := c.List(cmd.Context(), client.Tokens, "", client.ListOptions{}, &tokens); err != nil {
				return err
			}
			now := time.Now()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 6, 4, 3, ' ', 0)
			found := false
			for _, t := range tokens.Items {
				if t.Spec.Kind != bootstrapTokenKind {
					continue
				}
				if !found {
					fmt.Fprintln(tw, "NAME\tNODE\tEXPIRES\tAGE")
					found = true
				}
				cells := []string{t.Name, t.Spec.NodeName, relativeTime(t.Status.ExpiresAt, now), relativeTime(&t.CreationTimestamp, now)}
				fmt.Fprintln(tw, strings.Join(cells, "\t"))
			}
			if !found {
				fmt.Fprintln(cmd.ErrOrStderr(), "No bootstrap tokens found.")
				return nil
			}
			return tw.Flush()
		},
	}
}

// relativeTime is "in 23h" or "5m" (ago), or "<none>".
func relativeTime(t *metav1.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "<none>"
	}
	if t.After(now) {
		return "in " + duration.HumanDuration(t.Sub(now))
	}
	return duration.HumanDuration(now.Sub(t.Time))
}
