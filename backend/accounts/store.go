package accounts

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/berthpaas/berth/migrations"
)

// Store is the account store. Its methods are safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	// hashSlots bounds concurrent argon2id computations: each takes
	// passwordParams.memory KiB, and a burst of logins must not exhaust RAM.
	hashSlots chan struct{}
	tokens    *ttlCache[[32]byte, authResult]
	roles     *ttlCache[roleKey, string]

	hooksMu  sync.Mutex
	onRevoke []func(Revocation) // guarded by hooksMu
}

// Open connects to the PostgreSQL database at url (a pgx connection string)
// and brings its schema up to date. Several processes may Open the same
// database at once: migrations run under an advisory lock.
func Open(ctx context.Context, url string, logger *slog.Logger) (*Store, error) {
	logger = logger.With("component", "accounts")
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open account database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to account database: %w", err)
	}
	if err := migrate(ctx, pool, logger); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{
		pool:      pool,
		logger:    logger,
		hashSlots: make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
		tokens:    newTTLCache[[32]byte, authResult](tokenCacheTTL),
		roles:     newTTLCache[roleKey, string](roleCacheTTL),
	}, nil
}

func migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migrations lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		// Migrations are numbered as they are written, on parallel
		// branches: a database that has a later one still takes an earlier
		// one that lands after it. Each migration stands on its own.
		goose.WithAllowOutofOrder(true),
	)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range results {
		logger.Info("applied migration", "version", r.Source.Version, "source", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// Close releases the connections. Pending AuditWriter entries are lost if
// their writer has not finished first.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping account database: %w", err)
	}
	return nil
}
