package network

import (
	"net/netip"
	"slices"
)

// Cluster is what the agent knows of the cluster's pod network, from the
// API: the ClusterNetwork, every Node (subnet, address, pods) and every
// project's NetID. Sync programs the host to match it.
type Cluster struct {
	// CIDR is the range every node's subnet is cut from.
	CIDR netip.Prefix
	// Isolation isolates projects: a pod reaches only pods of its NetID
	// and of the global NetID.
	Isolation bool
	// Nodes are the cluster's nodes, this one included.
	Nodes []Node
	// NetIDs maps each namespace to its NetID (berthv1.NetIDOf).
	NetIDs map[string]string
}

// Node is one node of the cluster as its Node object shows it.
type Node struct {
	Name string
	// Address is its InternalIP, the gateway of its subnet's route.
	Address netip.Addr
	// Subnet is its spec.podCIDR; invalid while it has none.
	Subnet netip.Prefix
	// Pods maps the IP of each pod running there to its namespace
	// (berthv1.AnnotationPodIPs); only IPs within Subnet are trusted.
	Pods map[netip.Addr]string
}

// GlobalNetID is the NetID whose pods reach, and are reached by, all
// (berthv1.GlobalNetID).
const GlobalNetID = "global"

// HostService is a port of the host that pods may reach: the service
// proxy's and the DNS server's. Everything else of the host is dropped.
type HostService struct {
	// Protocol is "tcp" or "udp".
	Protocol string
	// Port and LastPort (0: Port alone) are the ports.
	Port, LastPort uint16
	// AnyAddress lets pods reach the port on every address of the host
	// (NodePorts), not only on their gateway.
	AnyAddress bool
}

// DNSPort is the port of the DNS server pods reach on their gateway.
const DNSPort = 53

// DefaultHostServices are what pods reach of the host when Options name
// none: the DNS server on the gateway, over UDP and TCP.
var DefaultHostServices = []HostService{
	{Protocol: "udp", Port: DNSPort},
	{Protocol: "tcp", Port: DNSPort},
}

// podIPs returns the pods of node whose IPs lie in its subnet, sorted.
func (n Node) podIPs() []netip.Addr {
	var out []netip.Addr
	for ip := range n.Pods {
		if n.Subnet.IsValid() && n.Subnet.Contains(ip) {
			out = append(out, ip)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}
