// Package controller runs the master's background work: the scheduler and
// the controllers (replication, node lifecycle, namespace, endpoints, pod
// subnets, and with host images the builder and node upgrades), together, in
// the one master that holds the leadership. They share the registries the
// API serves (core.NewRegistries), so their writes pass the same admission
// and are audited under their own names (system:<component>).
//
//	leader.Run(ctx, etcd, "controllers", id, logger, func(ctx) {
//		controller.RunAll(ctx, registries, logger, controller.Options{})
//	})
//
// Its subpackages hold the controllers and what they share: cache (watch
// caches), queue (work queue), record (events).
package controller
