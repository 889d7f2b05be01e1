// Package client is a small typed REST client for Berth's Kubernetes-shaped
// API: the core/v1 resources (pods, services, replication controllers,
// namespaces, events, nodes) and Berth's own berth.dev/v1 group (projects,
// members, users, tokens).
//
// A Client carries a server URL and a bearer token. Its verbs (Get, List,
// Create, Update, Patch, Delete, Watch, Table) take a Resource from the table
// of known resources (LookupResource, LookupKind) and decode into whatever
// the caller passes: a typed object such as *corev1.Pod, a map, or a
// *json.RawMessage. Failed requests return an *APIError that holds the
// server's metav1.Status and reads well when printed.
//
// Pods have operations that their node serves through the server: PodLogs
// (a byte stream), PodDiff, DoPodAction (stop, start, restart), and
// DialExec and DialAttach, which open a websocket session of the
// Kubernetes channel protocol (see backend/remotecommand).
//
// Requests have a timeout; watches stream without one and end when their
// context does:
//
//	List ──► resourceVersion N ──► Watch(N) ──► ADDED/MODIFIED/DELETED ... ──► ctx done: channel closed
//	                                                 └── ERROR (410 Gone, stream broken): last event, then closed
package client
