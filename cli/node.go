package cli

import (
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

// nodeTokenKind is the spec.kind of the tokens that let a node join.
const nodeTokenKind = "node"

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
	node.AddCommand(newNodeTokenCommand(g))
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
	cmd := &cobra.Command{
		Use:   "create NAME [--ttl 24h]",
		Short: "Create a node bootstrap token; its secret is printed once",
		Long: `Create a token a node agent joins the cluster with (berth node --token-file).
The secret is printed on stdout, alone, and only this once. Once joined, the
agent holds a credential of its own; the bootstrap token is needed only to
join, and may expire.`,
		Example: `  berth node token create rack1 --ttl 24h > rack1.token
  berth node --master https://master:8443 --token-file rack1.token`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			created, expires, err := createToken(cmd, c, args[0], nodeTokenKind, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "node token %q created%s.\nThe secret below is shown only this once: save it to the file berth node --token-file reads.\n", args[0], expires)
			fmt.Fprintln(cmd.OutOrStdout(), created.Status.Secret)
			return nil
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "lifetime of the token, e.g. 24h (default: the server's)")
	return cmd
}

func newNodeTokenListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List your node bootstrap tokens (without their secrets)",
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
				if t.Spec.Kind != nodeTokenKind {
					continue
				}
				if !found {
					fmt.Fprintln(tw, "NAME\tEXPIRES\tLAST USED\tAGE")
					found = true
				}
				cells := []string{t.Name, relativeTime(t.Status.ExpiresAt, now), relativeTime(t.Status.LastUsed, now), relativeTime(&t.CreationTimestamp, now)}
				fmt.Fprintln(tw, strings.Join(cells, "\t"))
			}
			if !found {
				fmt.Fprintln(cmd.ErrOrStderr(), "No node tokens found.")
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
