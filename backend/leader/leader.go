// Package leader runs work in one process at a time among several that
// campaign for the same name through an etcd election, so that several
// masters can run while one schedules and runs the controllers.
//
//	campaign ──elected──▶ fn(ctx) ──session lost / fn returns──▶ resign ─┐
//	   ▲                                                                  │
//	   └──────────────────────── new session ◀────────────────────────────┘
package leader

import (
	"context"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Prefix is where elections keep their keys: Prefix + name.
const Prefix = "/berth/leader/"

// SessionTTL is the lease of a candidate's session, in seconds: how long a
// leader that vanished without resigning keeps the leadership.
const SessionTTL = 5

// retryDelay is the pause before campaigning again after a failure.
const retryDelay = time.Second

// Run campaigns for the leadership of name as identity until ctx ends.
// While elected it runs fn with a context that ends when the leadership is
// lost (the etcd session expired or its client closed) or ctx ends; when fn
// returns, Run resigns and campaigns again. fn must return soon after its
// context ends: the next leader may start as soon as the lease is gone.
// Run returns when ctx ends.
func Run(ctx context.Context, client *clientv3.Client, name, identity string, logger *slog.Logger, fn func(ctx context.Context)) {
	logger = logger.With("election", name, "identity", identity)
	for ctx.Err() == nil {
		if err := runTerm(ctx, client, name, identity, logger, fn); err != nil && ctx.Err() == nil {
			logger.Warn("leader election", "error", err)
			select {
			case <-time.After(retryDelay):
			case <-ctx.Done():
			}
		}
	}
}

// runTerm opens a session, campaigns, and runs fn while elected.
func runTerm(ctx context.Context, client *clientv3.Client, name, identity string, logger *slog.Logger, fn func(ctx context.Context)) error {
	session, err := concurrency.NewSession(client, concurrency.WithTTL(SessionTTL), concurrency.WithContext(ctx))
	if err != nil {
		return err
	}
	defer session.Close()
	// The term ends when the session does, even while still campaigning.
	termCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-session.Done():
			cancel()
		case <-termCtx.Done():
		}
	}()
	election := concurrency.NewElection(session, Prefix+name)
	if err := election.Campaign(termCtx, identity); err != nil {
		return err
	}
	logger.Info("became leader")
	fn(termCtx)
	lost := termCtx.Err() != nil && ctx.Err() == nil
	cancel()
	if lost {
		logger.Warn("lost leadership")
		return nil
	}
	resignCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer stop()
	if err := election.Resign(resignCtx); err != nil {
		logger.Debug("resign", "error", err)
	}
	logger.Info("stepped down")
	return nil
}
