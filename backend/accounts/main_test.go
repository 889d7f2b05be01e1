package accounts

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/pgserver"
)

// The integration tests share one PostgreSQL and one Store; each test uses
// names of its own.
var (
	sharedStore *Store // nil in -short mode
	sharedURL   string
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	dir, err := os.MkdirTemp("", "berth-accounts-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgserver.Start(ctx, filepath.Join(dir, "pg"), logger)
	if err != nil {
		hint := ""
		if errors.Is(err, pgserver.ErrBinariesNotFound) {
			hint = " (run with -short to skip the integration tests)"
		}
		fmt.Fprintf(os.Stderr, "start PostgreSQL for the integration tests: %v%s\n", err, hint)
		return 1
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
	}()

	sharedURL = srv.URL()
	sharedStore, err = Open(ctx, sharedURL, logger)
	if err != nil {
		fmt.Fprintf(os.Stderr, "open store: %v\n", err)
		return 1
	}
	defer sharedStore.Close()
	return m.Run()
}

// testStore returns the shared store, or skips the test in -short mode.
func testStore(t *testing.T) *Store {
	t.Helper()
	if sharedStore == nil {
		t.Skip("integration test: needs a real PostgreSQL; skipped in -short mode")
	}
	return sharedStore
}

// mustCreateUser creates a user that is deleted when the test ends.
func mustCreateUser(t testing.TB, s *Store, name string) User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), name, "correct horse", false)
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", name, err)
	}
	deleteUserAtEnd(t, s, name)
	return u
}

func deleteUserAtEnd(t testing.TB, s *Store, name string) {
	t.Cleanup(func() {
		if err := s.DeleteUser(context.Background(), name); err != nil && !errors.Is(err, ErrNotFound) {
			t.Errorf("clean up user %q: %v", name, err)
		}
	})
}

// deleteAuditAtEnd removes the test's audit entries, by namespace.
func deleteAuditAtEnd(t *testing.T, s *Store, namespaces ...string) {
	t.Cleanup(func() {
		if _, err := s.pool.Exec(context.Background(), `DELETE FROM audit_log WHERE namespace = ANY($1)`, namespaces); err != nil {
			t.Errorf("clean up audit log: %v", err)
		}
	})
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("%s = %v, want %v", what, err, want)
	}
}
