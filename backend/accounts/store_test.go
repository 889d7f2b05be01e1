package accounts

import (
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/berthpaas/berth/migrations"
)

func TestOpenAgainIsANoOp(t *testing.T) {
	s := testStore(t)
	mustCreateUser(t, s, "survives-reopen")

	// Two at once, as two masters starting together would.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			again, err := Open(t.Context(), sharedURL, slog.New(slog.DiscardHandler))
			if err == nil {
				again.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i+2, err)
		}
	}

	var version int64
	if err := s.pool.QueryRow(t.Context(), `SELECT max(version_id) FROM goose_db_version`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if want := latestMigration(t); version != want {
		t.Errorf("schema version %d, want %d", version, want)
	}
	if _, err := s.GetUser(t.Context(), "survives-reopen"); err != nil {
		t.Errorf("user lost by reopening: %v", err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// latestMigration is the version of the last migration in package
// migrations.
func latestMigration(t *testing.T) int64 {
	t.Helper()
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v, %v", files, err)
	}
	var latest int64
	for _, f := range files {
		n, err := strconv.ParseInt(strings.SplitN(f, "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", f, err)
		}
		latest = max(latest, n)
	}
	return latest
}
