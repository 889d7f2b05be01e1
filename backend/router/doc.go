// Package router is the master's HTTP router: it makes routes
// (berth.dev/v1) reachable from outside the cluster. A request is matched
// by its host (case-insensitive, without port) and the longest path
// prefix of that host's routes, then proxied to a ready endpoint of the
// route's service, round robin, as OpenShift's router does with HAProxy.
//
//	request ──▶ host + path ──▶ route ──▶ service port ──▶ ready endpoint
//	   │            │ none           │ none ready (or no service)
//	   │            ▼                ▼
//	   │          404 page         503 page naming the route
//	   ▼
//	TLS: the SNI name picks the route's certificate (its secret, or one the
//	cluster CA issues for hosts under the apps domain)
//
// The router reads routes, services, endpoints and TLS secrets through
// informers on the master's registries; what it knows is at most one
// watch event behind. It dials only addresses of the pod network, so no
// endpoint (which a cluster admin may write by hand) can turn it towards
// the master's own ports or the host's. It trusts no X-Forwarded-* or
// Forwarded header a client sends: it is the edge, and writes its own.
//
// Requests go through httputil.ReverseProxy. Plain ones (GET, HEAD,
// OPTIONS, TRACE with no body and no upgrade) are sent by the router's
// own inline transport, in the goroutine that serves the client, on
// connections it keeps per endpoint; the others (a body, a websocket) by
// http.Transport, whose writer and reader goroutines let a request's body
// and its answer flow at once. Both dial only the pod network and bound
// an answer's header.
package router
