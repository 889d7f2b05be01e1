package network

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"

	"github.com/berthpaas/berth/backend/errdefs"
)

// The host's packet filter, through the iptables commands Docker itself
// uses (whichever backend the system's alternatives select), so that the
// agent's rules land beside Docker's. Each command waits for the xtables
// lock that Docker, kube-proxy and other agents share.

// ErrUnsupported: the host cannot carry the pod network (no iptables or
// ip command, no permission, no DOCKER-USER chain). [ErrUnavailable]
var ErrUnsupported = errdefs.New(errdefs.ErrUnavailable, "the host cannot carry the pod network")

// run runs a command and returns its output, or its error with what it
// printed.
func run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, &commandError{cmd: name + " " + strings.Join(args, " "), msg: msg, err: err}
	}
	return stdout.Bytes(), nil
}

type commandError struct {
	cmd, msg string
	err      error
}

func (e *commandError) Error() string { return fmt.Sprintf("%s: %s", e.cmd, e.msg) }
func (e *commandError) Unwrap() error { return e.err }

// exitCode is the exit status of a command that ran and failed, else -1.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

func iptables(ctx context.Context, args ...string) ([]byte, error) {
	return run(ctx, nil, "iptables", append([]string{"-w", "5"}, args...)...)
}

// checkHost says why the host cannot carry the pod network, if it cannot:
// the commands it needs are missing, the agent may not use them, or
// Docker does not manage iptables (its DOCKER-USER chain is missing).
func checkHost(ctx context.Context) error {
	for _, tool := range []string{"iptables", "iptables-restore", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: the %s command is missing (install iptables and iproute2)", ErrUnsupported, tool)
		}
	}
	if _, err := iptables(ctx, "-S", "DOCKER-USER"); err != nil {
		if strings.Contains(err.Error(), "ermission denied") || strings.Contains(err.Error(), "must be root") {
			return fmt.Errorf("%w: the agent may not change the packet filter (run it as root, or with CAP_NET_ADMIN): %v", ErrUnsupported, err)
		}
		return fmt.Errorf("%w: Docker's DOCKER-USER chain is missing (is Docker running with --iptables=false, or is the agent outside the engine's network namespace?): %v", ErrUnsupported, err)
	}
	return nil
}

// ourChains lists the chains of table whose names start with prefix.
func ourChains(ctx context.Context, table, prefix string) ([]string, error) {
	out, err := iptables(ctx, "-t", table, "-S")
	if err != nil {
		return nil, err
	}
	var chains []string
	for line := range strings.Lines(string(out)) {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "-N "); ok && strings.HasPrefix(name, prefix) {
			chains = append(chains, name)
		}
	}
	return chains, nil
}

// restoreInput is the iptables-restore --noflush input that makes the
// agent's chains of each table hold exactly rs, and deletes its chains
// that rs lacks (existing, by table).
func restoreInput(rs ruleset, existing map[string][]string) []byte {
	var b strings.Builder
	for _, table := range []string{"filter", "nat"} {
		chains := rs[table]
		var stale []string
		for _, ch := range existing[table] {
			if _, keep := chains[ch]; !keep {
				stale = append(stale, ch)
			}
		}
		if len(chains) == 0 && len(stale) == 0 {
			continue
		}
		fmt.Fprintf(&b, "*%s\n", table)
		names := sortedKeys(chains)
		// Declaring a chain flushes it: every rule that jumps to a stale
		// chain goes before the chain is deleted.
		for _, ch := range slices.Concat(names, stale) {
			fmt.Fprintf(&b, ":%s - [0:0]\n", ch)
		}
		for _, ch := range names {
			for _, rule := range chains[ch] {
				b.WriteString(rule + "\n")
			}
		}
		for _, ch := range stale {
			fmt.Fprintf(&b, "-X %s\n", ch)
		}
		b.WriteString("COMMIT\n")
	}
	return []byte(b.String())
}

func restore(ctx context.Context, input []byte) error {
	if len(input) == 0 {
		return nil
	}
	_, err := run(ctx, input, "iptables-restore", "-w", "5", "--noflush")
	return err
}

// ensureJump puts the jump first in its chain, unless it is there.
func ensureJump(ctx context.Context, j jump) error {
	if _, err := iptables(ctx, "-t", j.table, "-C", j.from, "-j", j.to); err == nil {
		return nil
	} else if exitCode(err) != 1 {
		return err
	}
	_, err := iptables(ctx, "-t", j.table, "-I", j.from, "1", "-j", j.to)
	return err
}

// removeJump removes every copy of the jump; a missing chain is fine.
func removeJump(ctx context.Context, j jump) error {
	for {
		_, err := iptables(ctx, "-t", j.table, "-D", j.from, "-j", j.to)
		if err == nil {
			continue
		}
		if exitCode(err) == 1 || exitCode(err) == 2 {
			return nil // no such rule, or no such chain
		}
		return err
	}
}
