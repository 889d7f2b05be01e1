package accounts

import (
	"log/slog"
	"sync"
	"testing"
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
	if version != 2 {
		t.Errorf("schema version %d, want 2", version)
	}
	if _, err := s.GetUser(t.Context(), "survives-reopen"); err != nil {
		t.Errorf("user lost by reopening: %v", err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
