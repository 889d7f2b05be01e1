package testenv

import "net/netip"

// ServiceCIDR is the service range of the test master whose pod range is
// clusterCIDR (10.X.0.0/16, X from 100): 10.250.(X-100).0/24. The pod
// range is the test's alone (clusterCIDR's lock), and so is this one: the
// cluster IPs, DNS address and proxy rules of test clusters that run side
// by side never clash.
func ServiceCIDR(clusterCIDR netip.Prefix) netip.Prefix {
	x := clusterCIDR.Addr().As4()[1]
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 250, x - 100, 0}), 24)
}
