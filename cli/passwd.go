package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
)

func newPasswdCommand(g *globals) *cobra.Command {
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "passwd [USER] [--password-stdin]",
		Short: "Change your password, or (cluster admins) set another user's",
		Long: `Change your own password: the current one is asked for, then the new one
twice. A cluster admin names USER to set another user's password without
knowing theirs.

The user's other sessions (console sign-ins, berth logins elsewhere) end, and
with them their watches, logs and terminals; this login stays. API tokens stay
valid: revoke them with berth token delete.

When stdin is not a terminal, pass --password-stdin: stdin holds the current
password on its first line and the new one on its second, or only the new one
when a cluster admin sets another user's.`,
		Example: `  berth passwd
  printf '%s\n%s\n' "$OLD" "$NEW" | berth passwd --password-stdin
  echo "$NEW" | berth passwd alice --password-stdin   # cluster admins`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			who, err := c.WhoAmI(cmd.Context())
			if err != nil {
				return err
			}
			user := who.Username
			if len(args) == 1 {
				user = args[0]
			}
			own := user == who.Username
			change, err := readPasswordChange(cmd, own, passwordStdin)
			if err != nil {
				return err
			}
			var status metav1.Status
			path := "/apis/berth.dev/v1/users/" + url.PathEscape(user) + "/password"
			if err := c.Do(cmd.Context(), http.MethodPut, path, nil, change, &status); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Password of %s changed.\n", user)
			if status.Message != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), status.Message)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the passwords from stdin: the current one, then the new one, a line each")
	return cmd
}

// readPasswordChange reads the passwords from the terminal, or from stdin
// with --password-stdin; the current one only for one's own.
func readPasswordChange(cmd *cobra.Command, own, fromStdin bool) (*berthv1.PasswordChange, error) {
	change := &berthv1.PasswordChange{
		TypeMeta: metav1.TypeMeta{APIVersion: berthv1.SchemeGroupVersion.String(), Kind: "PasswordChange"},
	}
	if fromStdin {
		lines := bufio.NewReader(cmd.InOrStdin())
		if own {
			current, err := stdinLine(lines, "the current password")
			if err != nil {
				return nil, err
			}
			change.CurrentPassword = current
		}
		next, err := stdinLine(lines, "the new password")
		if err != nil {
			return nil, err
		}
		change.NewPassword = next
		return change, nil
	}
	fd, tty := terminalFD(cmd)
	if !tty {
		return nil, errors.New("stdin is not a terminal: pass the passwords on stdin with --password-stdin")
	}
	var err error
	if own {
		if change.CurrentPassword, err = readSecret(cmd, fd, "Current password: "); err != nil {
			return nil, err
		}
	}
	if change.NewPassword, err = readSecret(cmd, fd, "New password: "); err != nil {
		return nil, err
	}
	again, err := readSecret(cmd, fd, "Retype new password: ")
	if err != nil {
		return nil, err
	}
	if again != change.NewPassword {
		return nil, errors.New("the new passwords do not match; nothing changed")
	}
	return change, nil
}

// stdinLine reads one line of --password-stdin, naming what it should
// hold when it is missing.
func stdinLine(r *bufio.Reader, what string) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("--password-stdin: no line with %s on stdin", what)
	}
	return line, nil
}
