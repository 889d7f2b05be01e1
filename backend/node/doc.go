// Package node is the node agent (`berth node`): it registers the host as
// a Node, keeps it Ready with heartbeats, runs the pods bound to it on a
// container runtime (Docker, or the fake runtime of hollow nodes), writes
// their status, and serves the endpoint the master proxies pod operations
// to (logs, exec, attach, diff, stop, start, restart).
//
// The agent reaches the cluster only through the API, with its own
// credential: it never imports the storage or the registries. Nothing
// but the master reaches the agent: its endpoint requires the master's
// client certificate, and the master requires the agent's certificate to
// name the node of the pod it asks about.
//
// # Agent lifecycle
//
//	Run ──► listen (--listen; default the advertised address, port 10250)
//	     ──► credentials (credentials.go), retried while the master is away:
//	           saved in StateDir and live ─────────────────► use them
//	           saved, expired while the agent was down ──┐
//	           none saved ───────────────────────────────┴─► node-join with the
//	               bootstrap token (single-use, names this node) and a CSR:
//	               the node's credential + a serving certificate from the
//	               cluster CA (CN=system:node:NAME, the node's address)
//	     ──► register the Node (create or update; status: capacity, addresses,
//	         nodeInfo, daemon port, Ready)
//	     ──► serve the endpoint over TLS, answering only the master's client
//	         certificate (CN=berth:master, cluster CA) ──► sd_notify READY=1
//	     ──► runners, until ctx ends:
//	           heartbeat   every HeartbeatInterval: PATCH nodes/NAME/status (Ready)
//	           pod watch   list+watch spec.nodeName=NAME ─► one worker per pod
//	           resync      every ResyncInterval: poke every worker; evict pods
//	                       past their emptyDir limits; kill orphans
//	           rotation    at 70-90% of the credential's life: node-rotate with a
//	                       new key's CSR ─► new credential + certificate, saved
//	                       0600; the master revokes the old credential
//	           upgrade     every 10 s: the Node's berth.dev/upgrade in Staging (the
//	                       master drained it) ─► pull and deploy the commit from the
//	                       master's OSTree repository ─► Rebooting ─► reboot (or
//	                       Failed, with why: a host that is not an OSTree host says so)
//	           watchdog    WATCHDOG=1 at half of WATCHDOG_USEC
//	           usage       every UsageInterval (usage.go): sample the running
//	                       containers (runtime.Stats) into windows, commit them to
//	                       the spool in StateDir/usage (spool.go: batch, then the
//	                       cursors; fsync'd); a pod's last partial window just
//	                       before the agent stops or kills it; after each pod
//	                       sync, the last window of a container that exited on
//	                       its own, up to its exit (runtime.Finished: final
//	                       counters), then runtime.ReleaseFinished
//	           usage sender deliver the spool oldest first (POST usagerecords);
//	                       master or database away: back-off, the batches wait;
//	                       a refusal for good (400, 403): set aside in rejected/
//	           pod network (Config.Network; podnetwork.go): follow every Node and
//	                       namespace, read the ClusterNetwork; once the node has
//	                       spec.podCIDR, set its network up (package network), sync
//	                       it on every change, publish the node's pod IPs on its
//	                       Node (berth.dev/pod-ips); NetworkUnavailable says why not
//	           services    (Config.Services; services.go): mirror every Service and
//	                       Endpoints; serve DNS (package clusterdns) on the pod
//	                       network's gateway; with Config.ServiceProxy, take the
//	                       host's lock of the service network and program its
//	                       iptables (package proxy), or stand by while another
//	                       agent of the host holds it; ServiceProxyUnavailable
//	                       says when the host cannot. Pods start only once the
//	                       services are listed: their containers get the
//	                       services' variables and a resolv.conf naming the DNS
//	     ──► ctx done: sd_notify STOPPING=1, endpoint shut down, the service
//	         proxy's rules removed, pod network torn down (rules, routes, Docker
//	         network); containers keep running
//
// A 401 from the master (a credential revoked or expired) makes the agent
// join again with what the bootstrap token file holds; a used or expired
// token is refused, and the agent says that it needs a new one (berth node
// token create NAME --node NODE). A master that does not answer is retried
// with jittered back-off; the containers keep running meanwhile and the
// agent reconciles when it returns. After a restart the agent adopts the
// containers it finds (the runtime knows them by their labels).
//
// # Pod worker lifecycle
//
//	          ADDED (watch or list, oldest first)
//	                │ admission (admission.go): fits beside the admitted pods?
//	                │   no: failed ─► KillPod(0), PATCH status Failed
//	                ▼       (OutOfcpu|OutOfmemory|OutOfpods|NodePorts), never started
//	┌──────────► syncing: runtime.SyncPod ─► v1.PodStatus ─► PATCH status if changed
//	│                 │ resync: an emptyDir past its limit (eviction.go) ─► failed
//	│                 │   (Evicted): containers killed, never run again
//	│ poke (watch     │ error: back-off (engine down, master away), retry
//	│ event, resync)  │
//	└─────────────────┤
//	                  │ MODIFIED with deletionTimestamp       DELETED / missing from a list
//	                  ▼                                        ▼
//	   terminating: KillPod(deletionGracePeriod)      KillPod(grace), no API call
//	                  │ DELETE gracePeriodSeconds=0            │
//	                  ▼                                        ▼
//	                done: the worker forgets the pod ◄─────────┘
//
// Each worker alone calls the runtime for its pod, so the calls for one pod
// are serial, as the runtime contract asks.
package node
