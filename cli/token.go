package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/client"
)

func newTokenCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "token",
		Aliases: []string{"tokens"},
		Short:   "Create, list and revoke your API tokens",
	}
	cmd.AddCommand(newTokenCreateCommand(g), newTokenListCommand(g), newTokenRevokeCommand(g))
	return cmd
}

func newTokenCreateCommand(g *globals) *cobra.Command {
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "create NAME [--ttl 720h]",
		Short: "Create an API token; its secret is printed once",
		Long: `Create a named API token for scripts and kubectl (--token). The secret is
printed on stdout, alone, and only this once: the server keeps only a hash.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			created, expires, err := createToken(cmd, c, args[0], berthv1.TokenSpec{}, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "token/%s created%s.\nThe secret below is shown only this once: store it now.\n", args[0], expires)
			fmt.Fprintln(cmd.OutOrStdout(), created.Status.Secret)
			return nil
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "lifetime of the token, e.g. 720h (default: the server's)")
	return cmd
}

func newTokenListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List your tokens (without their secrets)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGet(cmd, g, &getOptions{}, client.Tokens, "")
		},
	}
}

func newTokenRevokeCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.Delete(cmd.Context(), client.Tokens, "", args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token %q revoked\n", args[0])
			return nil
		},
	}
}

// createToken creates a token of kind ("" for an API token) and returns
// it with its expiry worded for people (", expires ..." or "").
func createToken(cmd *cobra.Command, c *client.Client, name string, spec berthv1.TokenSpec, ttl time.Duration) (berthv1.Token, string, error) {
	kind := spec.Kind
	token := &berthv1.Token{
		TypeMeta:   metav1.TypeMeta{APIVersion: berthv1.SchemeGroupVersion.String(), Kind: "Token"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       spec,
	}
	if ttl > 0 {
		token.Spec.TTL = ttl.String()
	}
	var created berthv1.Token
	if err := c.Create(cmd.Context(), client.Tokens, "", token, &created); err != nil {
		return created, "", err
	}
	if created.Status.Secret == "" {
		what := "token"
		if kind != "" {
			what = kind + " token"
		}
		return created, "", fmt.Errorf("the server created %s %q but sent no secret", what, name)
	}
	expires := ""
	if created.Status.ExpiresAt != nil {
		expires = ", expires " + created.Status.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return created, expires, nil
}
