package cli

import (
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/spf13/cobra"

	"github.com/berthpaas/berth/client"
)

func newLoginCommand(g *globals) *cobra.Command {
	var username string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [URL] -u USER [--password-stdin]",
		Short: "Log in to a Berth server and remember the token",
		Long: `Log in to a Berth server with a username and password, and save the
server, username and token in the config file (mode 0600).

The password is asked for on the terminal; when stdin is not a terminal,
pass it on stdin with --password-stdin.`,
		Example: `  berth login https://berth.example.com -u alice
  echo "$PASSWORD" | berth login https://berth.example.com -u alice --password-stdin`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, path, err := g.config()
			if err != nil {
				return err
			}
			server := cfg.Server
			if g.server != "" {
				server = g.server
			}
			if len(args) == 1 {
				server = args[0]
			}
			if server == "" {
				return errors.New("no server: berth login URL -u USER")
			}
			if server, err = client.NormalizeServer(server); err != nil {
				return err
			}
			fd, tty := terminalFD(cmd)
			if username == "" {
				if !tty {
					return errors.New("no username: pass -u USER")
				}
				fmt.Fprint(cmd.ErrOrStderr(), "Username: ")
				if username, err = readLine(cmd); err != nil {
					return err
				}
				username = strings.TrimSpace(username)
			}
			var password string
			switch {
			case passwordStdin:
				password, err = readPasswordStdin(cmd)
			case tty:
				password, err = readSecret(cmd, fd, "Password: ")
			default:
				err = errors.New("stdin is not a terminal: pass the password on stdin with --password-stdin")
			}
			if err != nil {
				return err
			}

			var opts []client.Option
			if g.insecure {
				opts = append(opts, client.WithInsecureSkipTLSVerify())
			}
			token, err := client.Login(cmd.Context(), server, username, password, opts...)
			if err != nil {
				if apierrors.IsUnauthorized(err) {
					return fmt.Errorf("login to %s as %q failed: %w", server, username, err)
				}
				return err
			}
			if cfg.Server != server {
				cfg.Namespace = ""
			}
			cfg.Server, cfg.Token, cfg.Username = server, token, username
			cfg.InsecureSkipTLSVerify = g.insecure
			if err := cfg.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Logged in to %s as %s.\n", server, username)
			return nil
		},
	}
	cmd.Flags().StringVarP(&username, "username", "u", "", "username")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	return cmd
}

func newLogoutCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke the saved token and forget it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, path, err := g.config()
			if err != nil {
				return err
			}
			if cfg.Token == "" && g.token == "" {
				return errors.New("not logged in")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			// A token the server no longer accepts is as good as revoked.
			if err := c.Logout(cmd.Context()); err != nil && !apierrors.IsUnauthorized(err) {
				return err
			}
			if g.token == "" || g.token == cfg.Token {
				cfg.Token = ""
				if err := cfg.Save(path); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Logged out of %s.\n", c.Server())
			return nil
		},
	}
}

func newWhoAmICommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Print the user the token belongs to",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			who, err := c.WhoAmI(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), who.Username)
			return nil
		},
	}
}
