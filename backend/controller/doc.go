// Package controller runs the master's background work: the scheduler and
// the controllers (replication, node lifecycle), together, in the one
// master that holds the leadership.
//
//	leader.Run(ctx, etcd, "controllers", id, logger, func(ctx) {
//		controller.RunAll(ctx, store, logger, controller.Options{})
//	})
//
// Its subpackages hold the controllers and what they share: cache (watch
// caches), queue (work queue), record (events).
package controller
