package testenv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// ClusterCIDR is the pod range of a test master on dataDir (give it as
// --cluster-cidr to a berth process): a 10.X.0.0/16 that no other test
// master on this machine holds and no interface or route of the host
// overlaps, so that the Docker networks of test clusters that run side by
// side (one engine, several test binaries) never clash. The data dir
// remembers it, so that a master restarted on it keeps its range. A lock
// file held until the test ends reserves it.
func ClusterCIDR(t testing.TB, dataDir string) netip.Prefix {
	t.Helper()
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	remembered := filepath.Join(dataDir, "test-cluster-cidr")
	if data, err := os.ReadFile(remembered); err == nil {
		if p, err := netip.ParsePrefix(strings.TrimSpace(string(data))); err == nil {
			if lockCIDR(t, p) {
				return p
			}
			t.Fatalf("the cluster range %s of data dir %s is held by another running test master", p, dataDir)
		}
	}
	p := ReserveClusterCIDR(t)
	if err := os.WriteFile(remembered, []byte(p.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// ReserveClusterCIDR returns a 10.X.0.0/16 for a test's pods that no other
// test on this machine holds until the test ends, and that no interface
// of the host overlaps.
func ReserveClusterCIDR(t testing.TB) netip.Prefix {
	t.Helper()
	used := hostPrefixes(t)
	for _, x := range rand.Perm(150) {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(100 + x), 0, 0}), 16)
		if !overlapsAny(p, used) && lockCIDR(t, p) {
			return p
		}
	}
	t.Fatal("no free 10.X.0.0/16 for a test cluster's pods")
	return netip.Prefix{}
}

// heldCIDRs are the ranges this test binary holds the locks of: a master
// restarted on a data dir keeps its range.
var heldCIDRs sync.Map

// lockCIDR takes the machine-wide lock of a test cluster range until the
// test ends; false if another test holds it.
func lockCIDR(t testing.TB, p netip.Prefix) bool {
	if _, mine := heldCIDRs.Load(p); mine {
		return true
	}
	path := filepath.Join(os.TempDir(), "berth-test-cidr-"+strings.NewReplacer(".", "-", "/", "_").Replace(p.String())+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false
		}
		t.Fatal(err)
	}
	heldCIDRs.Store(p, true)
	t.Cleanup(func() { heldCIDRs.Delete(p); f.Close() })
	return true
}

// hostPrefixes are the IPv4 networks of the host's interfaces.
func hostPrefixes(t testing.TB) []netip.Prefix {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(fmt.Errorf("host addresses: %w", err))
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
			out = append(out, p.Masked())
		}
	}
	return out
}

func overlapsAny(p netip.Prefix, others []netip.Prefix) bool {
	for _, o := range others {
		if p.Overlaps(o) {
			return true
		}
	}
	return false
}
