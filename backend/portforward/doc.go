// Package portforward serves `kubectl port-forward` on the node agent: the
// portforward.k8s.io protocol over SPDY, spoken directly (client-go's SPDY
// dialer, kubectl before 1.31) or tunneled through a websocket whose
// subprotocol is SPDY/3.1+portforward.k8s.io (kubectl 1.31 and later try
// that first). Both use apimachinery's stream library (k8s.io/streaming)
// and, for the tunnel, client-go's websocket-to-net.Conn adapter, as
// kube-apiserver does; the master passes either upgrade through to the
// agent unchanged.
//
// # Protocol
//
// One connection carries any number of forwarded TCP connections. For
// each, the client opens two streams with the same requestID header and
// the remote port in the port header: an error stream (streamType=error)
// and a data stream (streamType=data). The server connects to the port
// (DialFunc), copies bytes both ways on the data stream, and writes a
// message on the error stream if the connection fails; it closes both
// streams when the pod's side closes.
//
// # Lifecycle
//
//	upgrade (SPDY, or websocket then SPDY inside it)
//	   │
//	   ├─ streams arrive ──▶ paired by requestID (a pair not complete
//	   │                      within StreamCreationTimeout is dropped,
//	   │                      with a message on its error stream)
//	   │        │ complete
//	   │        ▼
//	   │   forward: dial the port ──fails──▶ message on the error stream
//	   │        │ connected
//	   │        ▼
//	   │   client ─data─▶ pod until the client half-closes (the pod's
//	   │   side is then half-closed too); pod ─data─▶ client until the
//	   │   pod closes ──▶ data and error streams closed
//	   │
//	connection closes (client gone, or ctx done) ──▶ every stream reset,
//	every forward's connection to the pod closed; Serve returns after
//	the forwards have.
package portforward
