// Package core holds the strategies of the Kubernetes core/v1 resources that
// Berth serves: pods, services, replication controllers, namespaces, events
// and nodes. Each strategy is a stateless value satisfying generic.Strategy:
// it defaults new objects, validates them, and states which fields an update
// may change. Strategies do no I/O and read no clock; storage, clusterIP and
// nodePort allocation, and timestamps belong to the registry.
//
// A write goes through a strategy in this order:
//
//	create:        PrepareForCreate → Validate
//	update:        PrepareForUpdate(new, old) → ValidateUpdate(new, old)
//	status update: PrepareForStatusUpdate(new, old) → ValidateUpdate(new, old)
//
// Error paths are the JSON paths of the offending fields, in the form
// Kubernetes uses ("spec.containers[0].ports[0].containerPort"), so that
// kubectl shows the same causes it would show against a Kubernetes cluster.
package core
