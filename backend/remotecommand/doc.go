// Package remotecommand speaks the Kubernetes streaming protocols of
// `kubectl exec` and `kubectl attach`: the websocket protocol, both as the
// server the node agent runs (Serve) and as the client of `berth exec` and
// of tests (Dial); and, on the server side, v4.channel.k8s.io over SPDY,
// for client-go's NewSPDYExecutor and kubectl before 1.29 (or with
// KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false).
//
// # Wire format
//
// The client opens a websocket and offers subprotocols; the server picks the
// first it supports in the order v5.channel.k8s.io, v4.channel.k8s.io,
// channel.k8s.io. Every binary message starts with a channel byte:
//
//	0   stdin   client → server
//	1   stdout  server → client
//	2   stderr  server → client (unused with a TTY)
//	3   error   server → client: the outcome, sent once, just before closing
//	4   resize  client → server: {"Width":W,"Height":H}, TTY only
//	255 close   client → server, v5 only: the second byte names the channel
//	            the client closes; for stdin (255 0) the command reads EOF
//
// On v5 and v4 the error channel carries a metav1.Status: Success, or
// Failure with reason NonZeroExitCode and a cause of type ExitCode whose
// message is the decimal exit code, or another Failure for errors. On
// channel.k8s.io it carries the failure message as plain text and nothing
// on success.
//
// v4 has no close channel: a v4 client cannot tell the command that stdin
// ended except by closing the connection, which also ends the session
// before the exit status can be delivered. Commands that read stdin to EOF
// need v5 (kubectl ≥ 1.30 and Dial prefer it).
//
// # Session lifecycle (server side)
//
//	upgrade ──▶ announce (empty message on the lowest output channel)
//	   │
//	   ├─ read loop: stdin ▶ Streams.Stdin, resize ▶ Streams.Resize,
//	   │             close(0) ▶ Stdin EOF, pings/pongs ▶ read deadline
//	   ├─ keepalive: ping every PingPeriod
//	   └─ run(ctx, streams)
//	         │
//	   run returns ──▶ status on channel 3 ──▶ close frame (1000)
//	         │           ──▶ wait for the client's close ──▶ connection closed
//	   client goes away (close, network error, missed pings)
//	         ──▶ ctx cancelled, Stdin EOF, writes fail ──▶ wait for run
//
// Serve returns only after run has returned, so no goroutine of a session
// outlives it; run must therefore return when its context is done.
//
// # SPDY
//
// A request with `Upgrade: SPDY/3.1` negotiates its protocol in
// X-Stream-Protocol-Version headers (v4.channel.k8s.io only; 403 with the
// accepted list otherwise) and is switched to SPDY with apimachinery's
// stream library (k8s.io/streaming). The client then opens one stream per
// channel, named by its streamType header (error, stdin, stdout, stderr,
// resize), within StreamCreationTimeout. Stdin ends when the client
// half-closes its stream; resize carries a JSON size per event. When run
// returns, its Status goes on the error stream and the connection closes,
// which ends every stream; the client going away (the connection closing)
// cancels run's context.
package remotecommand
