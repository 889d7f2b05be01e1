// Package cli holds the commands of the berth command line: logging in
// and changing passwords, projects, members, users and tokens, the
// kubectl-like verbs get, apply, create, delete, describe and scale, and
// the docker-like container commands run, ps, logs, exec, attach, diff,
// stop, start and restart.
// NewRootCommand builds the tree; main adds the server commands, prints the
// error a command returns, once, and exits with ExitCode(err), which
// carries the exit code of a command run by exec or attach.
//
// Commands read stdin and write stdout and stderr through cobra's
// InOrStdin, OutOrStdout and ErrOrStderr, and read the environment only
// when they run, so tests can run a fresh tree in-process:
//
//	root := cli.NewRootCommand()
//	root.SetArgs([]string{"get", "pods", "-o", "name"})
//	root.SetOut(&out)
//	err := root.ExecuteContext(ctx)
//
// The config file (see ConfigPath) remembers the server, token, username
// and default namespace between runs; --server, --token and --namespace
// override it for one run.
package cli
