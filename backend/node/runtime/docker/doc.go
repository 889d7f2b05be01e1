// Package docker runs a node's pods as Docker containers: it implements
// runtime.Runtime on the Docker Engine API.
//
// A pod is one infra container, which holds the pod's network namespace
// (its IP, its host ports, its hostname and /etc/hosts), joins the agent's
// pod network (Options.Network) with an address the pod keeps while it
// lives (address.go), and runs a pause
// program that the runtime writes itself (pause.go), whatever the berth
// binary is; and one Docker container per instance of each app container,
// all joined to the infra's namespace (network mode "container:<infra id>"). Every container carries
// the ownership labels of package runtime; the runtime finds pods only by
// them, so an agent that restarts adopts what runs and never starts a
// duplicate. Containers are named
//
//	berth_<namespace>_<pod>_<container>_<uid8>_<restart count>
//
// with container "POD" for the infra.
//
// The life of one app container under SyncPod:
//
//	       image missing ──pull fails──▶ waiting ErrImagePull
//	             │                            │ (later syncs, within
//	             │ pulled / present           ▼  the back-off window)
//	             ▼                       waiting ImagePullBackOff
//	create instance n ──▶ running ──exits──▶ exited (Completed | Error)
//	       ▲                                   │
//	       │      restart policy says restart  │ Never, or OnFailure
//	       │      (Always; OnFailure on error) │ after exit code 0:
//	       │                                   ▼ stays exited
//	       └── runtime.BackOff: at once, then ◀─ waiting CrashLoopBackOff
//	           10s·2ⁿ⁻¹, at most 5m
//
// Instance n+1 replaces n; n is kept (for previous logs) and n-1 removed.
// StopPod stops the app containers and marks the pod stopped in memory and
// in a file under the state directory, so SyncPod leaves it alone (also
// after an agent restart) until StartPod. KillPod removes everything,
// including the pod's state directory, which holds its emptyDir volumes.
//
// Each container instance runs under a cgroup parent of its own,
// /berth/<scope>/<pod uid>/<instance>, which keeps the instance's counters
// after the engine has deleted its cgroup (cgroups.go): Finished reads them
// for the last usage window of a container that exited on its own. The
// parent goes once the agent recorded that window (ReleaseFinished), when
// the instance starts again (StartPod), when the pod is killed, and at
// start when its container is gone. Under the systemd cgroup driver, or an
// engine on another host, containers get no parent and Finished reports
// nothing (logged at start).
//
// Logs (logs.go) are the json-file driver's, rotated at Limits'
// LogMaxSize. The runtime reads a log from its files (jsonfile.go), not
// through the engine's API, whose follow repeats and skips lines where
// the file rotates; beside a remote engine, for a log of one file (which
// the engine truncates in place), or with Options.LogsFromEngine, the API
// serves. A follow adds the container's
// live output for the line it is writing (package logstream).
package docker
