// Package proxy is the service proxy of a node agent, kube-proxy's
// iptables mode: a connection to a service's clusterIP:port, from a pod
// or from the host, or to its node port on any address of the host, is
// DNATed to one of the service's ready endpoints, on any node; the pod
// network (backend/node/network) routes it there and judges it by the
// pods' own addresses, so project isolation applies to services as to
// pods.
//
// # The chains of one instance (id: ID of the service network)
//
//	nat PREROUTING, OUTPUT ─► BERTH-SVC-id
//	  per service port:  -d clusterIP -p proto --dport port ─► BERTH-S-id-<hash>
//	  then, for local destinations but loopback ─► BERTH-NP-id
//	BERTH-NP-id           per node port: mark for masquerade, ─► BERTH-S-id-<hash>
//	BERTH-S-id-<hash>     sessionAffinity ClientIP: "recent" matches first;
//	                      then one endpoint at random: statistic 1/n,
//	                      1/(n-1) ... ─► BERTH-E-…
//	BERTH-E-id-<hash>     a pod reaching itself: mark; DNAT to ip:port
//	nat POSTROUTING ─► BERTH-MASQ-id: marked packets are masqueraded
//	filter FORWARD, OUTPUT (new connections) ─► BERTH-REJ-id: a service
//	                      port without endpoints is refused at once
//	filter FORWARD (last) ─► BERTH-FWD-id: accepts marked and DNATed
//	                      packets that Docker's chains would drop
//
// Every chain name carries the instance's id, so that the proxies of
// other clusters on one host, and their leftovers, are never touched; a
// sync writes the instance's chains whole with iptables-restore
// --noflush (never the built-in chains, which are Docker's and the pod
// network's too), deleting its chains no longer needed.
//
// # Lifecycle
//
//	New ─► checkHost: iptables tools, the nat table readable, ip_forward
//	       and bridge-nf-call-iptables on (an error wrapping
//	       errUnsupported says what the host lacks: the agent reports it
//	       in the node's ServiceProxyUnavailable condition)
//	Run ─► sync ◄── Update (services, endpoints), health changes, every
//	       resyncPeriod; the jumps into the chains after the first sync;
//	       then the conntrack entries of UDP flows the rules no longer
//	       send there (clearFlows)
//	     ─► ctx ends: Cleanup removes the jumps and every chain of the id
//
// One agent per host programs the rules of a service network (the agent
// takes a lock file; the others stand by and take over when it goes):
// the tests run several agents on one host, and two writers of the same
// chains would undo each other.
//
// # Retrying on another endpoint
//
// DNAT rules cannot retry a connection, as the userspace proxy of
// Kubernetes 1.0 did. Instead the proxier probes its TCP endpoints
// (healthChecker) and takes out of the rules those that no longer accept
// connections (their node died with them) until the endpoints
// controller removes them, well before a client's first connect times
// out, so that its retry lands on a live endpoint.
//
// # UDP flows and conntrack
//
// DNAT is decided on a flow's first packet; the rest follow its conntrack
// entry. A UDP client that keeps one source port (a resolver, a metrics
// sender) would keep reaching an endpoint that left, or keep missing a
// service that had no endpoint when it began. After each sync the
// proxier deletes, through netlink (Conntrack), the UDP entries DNATed
// to endpoints no longer in a port's rules, and those to a port that has
// just got endpoints, as kube-proxy does. UDP endpoints are not probed:
// their readiness is the pods' (their readiness probes), as in
// Kubernetes.
//
// # Balancing
//
// Each new connection (each UDP flow) goes to one of the n ready
// endpoints with probability 1/n, as in kube-proxy's iptables mode. A
// round robin by nth counters was tried and starved endpoints: a
// counter starts again whenever its rule is written, every sync writes
// every chain, and syncs follow any change of the cluster's services or
// endpoints or of an endpoint's health; when they came closer together
// than n connections, the first endpoints of a chain got none
// (TestRewritesDoNotStarveEndpoints).
package proxy
