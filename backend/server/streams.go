package server

import (
	"context"
	"log/slog"

	"github.com/berthpaas/berth/backend/accounts"
	"github.com/berthpaas/berth/backend/streams"
)

// startStreams builds the registry of the API's long-lived streams with
// cfg's limits. Revocations made through this master's account store end
// their streams at once; those made by other masters are found by the
// registry's periodic re-check, which runs until the returned function is
// called.
func startStreams(ctx context.Context, cfg Config, acct *accounts.Store, logger *slog.Logger) (*streams.Registry, func()) {
	reg := streams.New(streams.Config{
		Limits:          cfg.StreamLimits,
		Checker:         acct,
		RecheckInterval: cfg.StreamRecheckInterval,
		Logger:          logger.With("component", "streams"),
	})
	acct.OnRevoke(func(r accounts.Revocation) {
		for _, c := range r.Credentials {
			reg.EndCredential(c)
		}
		if r.UserID != 0 {
			reg.EndUser(r.UserID)
		}
	})
	ctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		reg.Run(ctx)
	}()
	return reg, func() { stop(); <-done }
}
