package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/remotecommand"
	"github.com/berthpaas/berth/client"
)

// ExitError is a remote command (exec, attach) that ended with a non-zero
// exit code, or was interrupted; berth exits with Code.
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string {
	if e.Code == interruptedCode {
		return "interrupted"
	}
	return fmt.Sprintf("command terminated with exit code %d", e.Code)
}

// interruptedCode is the shell's status of a process ended by SIGINT.
const interruptedCode = 130

// ExitCode is the status berth should exit with after a command returned
// err: 0 for nil, the remote command's code for an ExitError, else 1.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		return exit.Code
	}
	return 1
}

// streamOptions are the flags exec and attach share.
type streamOptions struct {
	stdin     bool
	tty       bool
	container string
}

func (o *streamOptions) register(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&o.stdin, "stdin", "i", false, "pass stdin to the container")
	cmd.Flags().BoolVarP(&o.tty, "tty", "t", false, "stdin is a TTY (with -i, on a terminal)")
	cmd.Flags().StringVarP(&o.container, "container", "c", "", "container name (default: the pod's first)")
}

func newExecCommand(g *globals) *cobra.Command {
	o := &streamOptions{}
	cmd := &cobra.Command{
		Use:   "exec [-i] [-t] [-c CONTAINER] POD -- COMMAND [ARGS...]",
		Short: "Run a command in a container of a pod",
		Long: `Run a command in a running container of a pod (its first container unless
-c names another). berth exits with the command's exit code.

-i passes stdin to the command; -t, together with -i on a terminal, gives it
a terminal: the local one is put in raw mode and its size follows the
window's.`,
		Example: `  berth exec web -- ls /tmp
  berth exec -it web -- sh
  echo hello | berth exec -i web -- cat`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if dash == 0 || (dash == -1 && len(args) > 1) || dash > 1 {
				return errors.New("give POD, then the command after --: berth exec POD -- COMMAND")
			}
			if len(args) < 2 {
				return errors.New("no command: berth exec POD -- COMMAND")
			}
			return runStream(cmd, g, o, args[0], args[1:])
		},
	}
	o.register(cmd)
	return cmd
}

func newAttachCommand(g *globals) *cobra.Command {
	o := &streamOptions{}
	cmd := &cobra.Command{
		Use:   "attach [-i] [-t] [-c CONTAINER] POD",
		Short: "Connect to the main process of a container of a pod",
		Long: `Connect to the output, and with -i the input, of the main process of a
running container of a pod, as docker attach does. With -t on a terminal the
local terminal is put in raw mode; the container needs a TTY of its own
(spec.containers[].tty).`,
		Example: `  berth attach web
  berth attach -it shell`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStream(cmd, g, o, args[0], nil)
		},
	}
	o.register(cmd)
	return cmd
}

// runStream runs an exec (command set) or an attach session with the
// command's standard streams and the local terminal.
func runStream(cmd *cobra.Command, g *globals, o *streamOptions, podName string, command []string) error {
	namespace, c, err := g.target()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	var pod corev1.Pod
	if err := c.Get(ctx, client.Pods, namespace, podName, &pod); err != nil {
		return err
	}
	if phase := pod.Status.Phase; phase == corev1.PodSucceeded || phase == corev1.PodFailed {
		return fmt.Errorf("pod %q has completed (phase %s): its containers do not run", podName, phase)
	}

	// As kubectl: stdin only with -i, and a TTY only on a terminal stdin.
	var stdin io.Reader
	tty := o.tty && o.stdin
	var local *localTerminal
	if o.stdin {
		stdin = cmd.InOrStdin()
	}
	if tty {
		if fd, ok := terminalFD(cmd); ok {
			local = &localTerminal{fd: fd}
		} else {
			fmt.Fprintln(cmd.ErrOrStderr(), "Unable to use a TTY - input is not a terminal or the right kind of file")
			tty = false
		}
	}
	opts := remotecommand.Options{
		Stdin:     o.stdin,
		Stdout:    true,
		Stderr:    !tty,
		TTY:       tty,
		Command:   command,
		Container: o.container,
	}
	var session *remotecommand.ClientSession
	if command != nil {
		session, err = c.DialExec(ctx, namespace, podName, opts)
	} else {
		session, err = c.DialAttach(ctx, namespace, podName, opts)
	}
	if err != nil {
		return err
	}

	var stderr io.Writer = cmd.ErrOrStderr()
	var resize <-chan runtime.TerminalSize
	if tty {
		stderr = nil
		sessionCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		restore, err := local.makeRaw()
		if err != nil {
			session.Close()
			return err
		}
		defer restore()
		resize = local.sizes(sessionCtx)
	}
	code, err := session.Run(ctx, stdin, cmd.OutOrStdout(), stderr, resize)
	switch {
	case ctx.Err() != nil:
		return &ExitError{Code: interruptedCode}
	case err != nil:
		return err
	case code != 0:
		return &ExitError{Code: code}
	}
	return nil
}
