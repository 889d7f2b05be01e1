package pgserver

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func startServer(t *testing.T, dir string) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real PostgreSQL; skipped in -short mode")
	}
	s, err := Start(t.Context(), dir, testLogger(t))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

func stopServer(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func connect(t *testing.T, s *Server) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), s.URL())
	if err != nil {
		t.Fatalf("connect to %s: %v", s.URL(), err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func countRows(t *testing.T, s *Server) int {
	t.Helper()
	var n int
	if err := connect(t, s).QueryRow(t.Context(), "SELECT count(*) FROM kept").Scan(&n); err != nil {
		t.Fatalf("count rows: %v", err)
	}
	return n
}

func TestStartStopRestartKeepsData(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := startServer(t, dir)

	conn := connect(t, s)
	var db, user string
	if err := conn.QueryRow(t.Context(), "SELECT current_database(), current_user").Scan(&db, &user); err != nil {
		t.Fatal(err)
	}
	if db != "berth" || user != "berth" {
		t.Errorf("connected to database %q as %q, want berth as berth", db, user)
	}
	var fsync string
	if err := conn.QueryRow(t.Context(), "SHOW fsync").Scan(&fsync); err != nil || fsync != "on" {
		t.Errorf("fsync = %q (%v), want on", fsync, err)
	}
	mustExec(t, conn, "CREATE TABLE kept (v int)")
	mustExec(t, conn, "INSERT INTO kept VALUES (1), (2)")
	conn.Close(t.Context())
	stopServer(t, s)

	if _, err := os.Stat(s.LogPath()); err != nil {
		t.Errorf("server log: %v", err)
	}
	if got := s.LogPath(); filepath.Dir(got) != filepath.Dir(dir) {
		t.Errorf("log at %q, want beside the data directory", got)
	}

	s = startServer(t, dir)
	if n := countRows(t, s); n != 2 {
		t.Errorf("after restart: %d rows, want 2", n)
	}
	stopServer(t, s)
}

func TestRestartAfterKill(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := startServer(t, dir)
	conn := connect(t, s)
	mustExec(t, conn, "CREATE TABLE kept (v int)")
	mustExec(t, conn, "INSERT INTO kept VALUES (1)")
	conn.Close(t.Context())

	// Only the postmaster dies, as in a crash: its children notice and exit
	// on their own, and postmaster.pid stays behind.
	s.proc.crashWatch.Store(false)
	if err := syscall.Kill(s.proc.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.proc.exited
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err != nil {
		t.Fatalf("want a stale postmaster.pid after the kill: %v", err)
	}
	s.release()

	s = startServer(t, dir)
	if n := countRows(t, s); n != 1 {
		t.Errorf("after crash and restart: %d rows, want 1", n)
	}
	stopServer(t, s)
}

// TestThreadEndDoesNotStopTheServer: a goroutine that locks its thread
// and ends without unlocking it ends the thread (as network namespace
// code does). The server's parent-death signal follows the thread that
// forked it, so a server forked from such a thread was stopped: an e2e
// run lost its shared PostgreSQL this way ("postgres exited unexpectedly"
// with a clean exit status). Here Start runs on a locked thread that then
// ends; the server must keep answering.
func TestThreadEndDoesNotStopTheServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real PostgreSQL; skipped in -short mode")
	}
	dir := filepath.Join(t.TempDir(), "data")
	type started struct {
		s   *Server
		err error
	}
	done := make(chan started, 1)
	// The process's main thread never ends (Go parks it instead), so a
	// goroutine locked to it is held until the test ends and the start
	// is tried from another thread.
	hold := make(chan struct{})
	defer close(hold)
	var start func()
	start = func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if syscall.Gettid() == syscall.Getpid() {
			go start()
			<-hold
			return
		}
		s, err := Start(t.Context(), dir, testLogger(t))
		done <- started{s, err}
	}
	go start()
	st := <-done
	if st.err != nil {
		t.Fatalf("Start: %v", st.err)
	}
	s := st.s
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	// The locked thread has ended by now or ends within moments; a
	// server it forked gets SIGINT and shuts down within a second.
	time.Sleep(2 * time.Second)
	select {
	case <-s.proc.exited:
		t.Fatalf("the server exited (%v) when the thread that started it ended", s.proc.err)
	default:
	}
	if err := s.ping(t.Context()); err != nil {
		t.Fatalf("the server no longer answers after the thread that started it ended: %v", err)
	}
}

func TestLongDataDirUsesShortSocketDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60), "data")
	s := startServer(t, dir)
	if !s.tempSockDir || !strings.HasPrefix(s.sockDir, os.TempDir()) {
		t.Errorf("socket dir %q, want a short one under %q", s.sockDir, os.TempDir())
	}
	connect(t, s)
	stopServer(t, s)
	if _, err := os.Stat(s.sockDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket dir %q left behind after Stop (%v)", s.sockDir, err)
	}
}

func TestStartWithoutBinaries(t *testing.T) {
	t.Setenv("PATH", "")
	withVersionedBinDirs(t, filepath.Join(t.TempDir(), "*", "bin"))

	_, err := Start(t.Context(), filepath.Join(t.TempDir(), "data"), testLogger(t))
	if !errors.Is(err, ErrBinariesNotFound) {
		t.Fatalf("Start = %v, want ErrBinariesNotFound", err)
	}
	const want = `postgres binaries not found (initdb, postgres): install the Debian package "postgresql"`
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestFindBinariesPrefersNewestVersionDir(t *testing.T) {
	root := t.TempDir()
	for _, version := range []string{"9", "15", "13"} {
		bin := filepath.Join(root, version, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"initdb", "postgres"} {
			if err := os.WriteFile(filepath.Join(bin, name), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Setenv("PATH", "")
	withVersionedBinDirs(t, filepath.Join(root, "*", "bin"))

	got, err := findBinaries()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "15", "bin", "postgres"); got.postgres != want {
		t.Errorf("postgres = %q, want %q", got.postgres, want)
	}
}

func withVersionedBinDirs(t *testing.T, pattern string) {
	old := versionedBinDirs
	versionedBinDirs = pattern
	t.Cleanup(func() { versionedBinDirs = old })
}
