// Package fake is a simulated container runtime for hollow nodes: one
// process can run hundreds of node agents on it for scale tests, as
// Kubernetes' kubemark does. Nothing runs: a container's state is computed
// from the clock when asked, so a container costs a few hundred bytes and
// no goroutine (only a following Logs call holds one, the caller's).
//
// Conventions, since fake containers run no command:
//
//	env FAKE_EXIT_AFTER=2s   the container exits 2s after it started
//	env FAKE_EXIT_CODE=3     ... with exit code 3 (alone: exits at once)
//	image containing "unpullable"  the pull fails (ErrImagePull, then ImagePullBackOff)
//
// A container's life, as the agent sees it through SyncPod and ListPods:
//
//	SyncPod ─► waiting (ContainerCreating, Options.StartDelay) ─► running ─► exited (FAKE_EXIT_*)
//	                                                               ▲            │ restart policy allows
//	                                      back-off elapsed ───────┘◄── waiting (CrashLoopBackOff)
//	StopPod ─► exited (143) ─► StartPod ─► running     KillPod ─► gone
//
// Restart policy and back-off are runtime.Restarts and runtime.BackOff,
// the Docker runtime's own. Each running container prints a synthetic log
// line when it starts and then one per Options.LogInterval.
package fake
