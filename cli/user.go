package cli

import (
	"crypto/rand"
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/client"
)

func newUserCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "user",
		Aliases: []string{"users"},
		Short:   "Manage accounts (cluster admins)",
	}
	cmd.AddCommand(newUserCreateCommand(g), newUserDeleteCommand(g))
	return cmd
}

func newUserCreateCommand(g *globals) *cobra.Command {
	var admin, passwordStdin bool
	cmd := &cobra.Command{
		Use:   "create NAME [--admin] [--password-stdin]",
		Short: "Create an account; prints a generated password unless one is given on stdin",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			password, generated := "", false
			if passwordStdin {
				var err error
				if password, err = readPasswordStdin(cmd); err != nil {
					return err
				}
			} else {
				password, generated = generatePassword(), true
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			user := &berthv1.User{
				TypeMeta:   metav1.TypeMeta{APIVersion: berthv1.SchemeGroupVersion.String(), Kind: "User"},
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec:       berthv1.UserSpec{ClusterAdmin: admin, Password: password},
			}
			if err := c.Create(cmd.Context(), client.Users, "", user, nil); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "user/%s created\n", name)
			if generated {
				fmt.Fprintf(out, "password: %s\n", password)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&admin, "admin", false, "make the user a cluster admin")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin instead of generating one")
	return cmd
}

func newUserDeleteCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an account",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.Delete(cmd.Context(), client.Users, "", args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %q deleted\n", args[0])
			return nil
		},
	}
}

// generatePassword returns 20 random characters from an alphabet without
// look-alikes (about 115 bits).
func generatePassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	for i := range b {
		b[i] = alphabet[randIndex(len(alphabet))]
	}
	return string(b)
}

// randIndex returns a uniform random number in [0, n), n < 256.
func randIndex(n int) int {
	limit := 256 - 256%n
	var buf [1]byte
	for {
		_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails
		if int(buf[0]) < limit {
			return int(buf[0]) % n
		}
	}
}
