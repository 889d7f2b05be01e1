// Package network is a node's share of the cluster's pod network on its
// host, flannel's host-gw scheme on Docker:
//
//   - the master gives the node a subnet (spec.podCIDR, a /24 of the
//     cluster range); the node's pods live on a Docker bridge network of
//     the agent's own with that subnet (bridge berth<scope>, network
//     berth-<scope>), never on Docker's default bridge;
//   - the host routes every other node's subnet through that node's
//     InternalIP (`ip route show proto 66`); nodes share a link, nothing is
//     encapsulated, pods see each other's own addresses (no NAT between
//     pods; what leaves the cluster is masqueraded as the node);
//   - the packet filter lets Berth's pod traffic through Docker's isolation
//     (the DOCKER-USER chain) and isolates projects, as OpenShift's
//     multi-tenant network did: a pod reaches the pods of its project's
//     NetID and those of global projects (berthv1.AnnotationNetID), and of
//     its host only HostServices; everything else is dropped. With
//     isolation off (the ClusterNetwork says so) every pod reaches every
//     pod, and the host stays closed all the same.
//
// Several agents on one host (one Docker engine) each have their own
// network, routes and chains, told apart by the scope (a hash of the
// agent's state directory). A node whose address is one of this host's
// needs no route: its subnet is on a bridge here, which the kernel routes
// to. The decision is the same code either way (routes).
//
// # Lifecycle
//
//	New ─► SetUp(subnet, cluster) ──────────────────────────┐
//	         checkHost: iptables, ip, DOCKER-USER, root     │ ErrUnsupported:
//	         remove its networks of another subnet          │ the agent says so
//	         create (or adopt) berth-<scope> on subnet      │ (NetworkUnavailable)
//	         Sync ◄─────────── Node, namespace, ClusterNetwork changes
//	           routes: add the missing, delete those of nodes gone
//	           rules: iptables-restore of its chains, jumps hooked in
//	       TearDown: jumps, chains, routes, Docker network (its containers
//	         are disconnected, keep running, and are reconnected with
//	         their addresses by the next SetUp)
//
// # The chains of one agent (scope S, bridge B)
//
//	filter DOCKER-USER ─► BERTH-S:  -o B ─► BERTH-S-IN   (to its pods)
//	                                -i B ─► BERTH-S-OUT  (from its pods)
//	  BERTH-S-IN    replies; per pod: its NetID's chain BERTH-S-N<hash>,
//	                which accepts the pods of that NetID and of global ones;
//	                the nodes' addresses; other pods of the cluster dropped;
//	                the rest is Docker's to judge (published ports)
//	  BERTH-S-OUT   to other nodes' addresses: dropped (but replies)
//	filter INPUT ─► BERTH-S-HOST: from B only HostServices on the gateway;
//	                pods of other nodes: dropped
//	nat POSTROUTING ─► BERTH-S-NAT: within the cluster nothing, else MASQUERADE
//
// # For the service proxy and the DNS server
//
// A pod's gateway is the host's address on the pod network, the first of
// the node's subnet (Network.Gateway: 10.244.3.1 for 10.244.3.0/24). The
// DNS server listens on Gateway():DNSPort (53, UDP and TCP), which
// DefaultHostServices opens to the node's pods; a service proxy that pods
// reach on the host adds its ports to Options.HostServices (AnyAddress
// for NodePorts). A proxy that DNATs cluster IPs to pod IPs in PREROUTING
// needs nothing more: the DNATed packets pass BERTH-S-IN, and the
// isolation applies to services as to pods. A proxy that connects to
// endpoints itself must ask Network.Allowed(client address, namespace of
// the service) first, since its connections come from the host.
package network
