package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Tables is what the proxy needs of the host's packet filter: iptables'
// nat and filter tables, through the iptables tools.
type Tables interface {
	// Restore applies an iptables-restore input without flushing the
	// tables it names (only the chains it declares).
	Restore(ctx context.Context, rules string) error
	// Chains lists the chains of a table.
	Chains(ctx context.Context, table string) (map[string]bool, error)
	// EnsureJump adds a rule to a built-in chain unless it is there.
	EnsureJump(ctx context.Context, j jump) error
	// DeleteJump removes a rule from a built-in chain if it is there.
	DeleteJump(ctx context.Context, j jump) error
	// DeleteChains flushes and deletes chains of a table.
	DeleteChains(ctx context.Context, table string, chains []string) error
}

// execTables runs the iptables tools.
type execTables struct {
	// wait is "-w" for the legacy tools, which share a lock; the
	// nf_tables ones need none.
	wait []string
}

// newExecTables checks that the tools are there and that this process
// may use them (CAP_NET_ADMIN), as a clear error otherwise.
func newExecTables(ctx context.Context) (*execTables, error) {
	for _, tool := range []string{"iptables", "iptables-save", "iptables-restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not installed (Debian: apt-get install iptables)", tool)
		}
	}
	out, err := exec.CommandContext(ctx, "iptables", "--version").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("iptables --version: %v: %s", err, bytes.TrimSpace(out))
	}
	t := &execTables{}
	if strings.Contains(string(out), "legacy") {
		t.wait = []string{"-w"}
	}
	if _, err := t.run(ctx, nil, "iptables", "-t", "nat", "-S", "POSTROUTING"); err != nil {
		return nil, fmt.Errorf("cannot read the nat table (the agent needs CAP_NET_ADMIN, i.e. root): %w", err)
	}
	return t, nil
}

func (t *execTables) run(ctx context.Context, stdin []byte, tool string, args ...string) ([]byte, error) {
	if tool == "iptables" {
		args = append(append([]string{}, t.wait...), args...)
	}
	cmd := exec.CommandContext(ctx, tool, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (t *execTables) Restore(ctx context.Context, rules string) error {
	_, err := t.run(ctx, []byte(rules), "iptables-restore", "--noflush")
	return err
}

func (t *execTables) Chains(ctx context.Context, table string) (map[string]bool, error) {
	out, err := t.run(ctx, nil, "iptables-save", "-t", table)
	if err != nil {
		return nil, err
	}
	chains := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, ":") {
			name, _, _ := strings.Cut(line[1:], " ")
			chains[name] = true
		}
	}
	return chains, sc.Err()
}

func (t *execTables) EnsureJump(ctx context.Context, j jump) error {
	check := append([]string{"-t", j.table, "-C", j.chain}, j.args...)
	if _, err := t.run(ctx, nil, "iptables", check...); err == nil {
		return nil
	}
	op := []string{"-t", j.table, "-A", j.chain}
	if j.first {
		op = []string{"-t", j.table, "-I", j.chain, "1"}
	}
	_, err := t.run(ctx, nil, "iptables", append(op, j.args...)...)
	return err
}

func (t *execTables) DeleteJump(ctx context.Context, j jump) error {
	// A rule added twice (two agents raced) is deleted twice.
	for range 8 {
		check := append([]string{"-t", j.table, "-C", j.chain}, j.args...)
		if _, err := t.run(ctx, nil, "iptables", check...); err != nil {
			return nil
		}
		if _, err := t.run(ctx, nil, "iptables", append([]string{"-t", j.table, "-D", j.chain}, j.args...)...); err != nil {
			return err
		}
	}
	return nil
}

func (t *execTables) DeleteChains(ctx context.Context, table string, chains []string) error {
	if len(chains) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%s\n", table)
	for _, ch := range chains {
		fmt.Fprintf(&b, ":%s - [0:0]\n", ch)
	}
	for _, ch := range chains {
		fmt.Fprintf(&b, "-X %s\n", ch)
	}
	b.WriteString("COMMIT\n")
	return t.Restore(ctx, b.String())
}

var _ Tables = (*execTables)(nil)

// errUnsupported marks what the host lacks for the proxy.
var errUnsupported = errors.New("this host cannot run the service proxy")
