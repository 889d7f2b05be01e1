package proxy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// The kernel settings the proxy needs: forwarding (pods' packets to
// other pods, across hosts), and bridged packets passing iptables (a
// reply from a pod on the same bridge as its client must be un-NATed).
var requiredSysctls = []struct{ path, why string }{
	{"/proc/sys/net/ipv4/ip_forward", "IP forwarding is off"},
	{"/proc/sys/net/bridge/bridge-nf-call-iptables", "bridged traffic does not pass iptables (load the br_netfilter module)"},
}

// checkHost returns, when the host cannot run the proxy, an error
// saying what it lacks. It turns on the kernel settings it needs where
// it may.
func checkHost(ctx context.Context) (Tables, error) {
	t, err := newExecTables(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnsupported, err)
	}
	for _, s := range requiredSysctls {
		if err := ensureSysctl(s.path); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errUnsupported, s.why, err)
		}
	}
	return t, nil
}

func ensureSysctl(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s does not exist", path)
	}
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(data)) == "1" {
		return nil
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("%s is 0 and cannot be set: %w", path, err)
	}
	return nil
}
