package pgserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// superuser and database are the role initdb creates and the database
	// Start creates for Berth.
	superuser = "berth"
	database  = "berth"

	// startTimeout bounds Start when ctx has no earlier deadline.
	startTimeout = 60 * time.Second
	// startAttempts covers a port taken between our probe and postgres'
	// bind, and children of a killed server still holding shared memory.
	startAttempts = 5

	// maxSocketDirLen leaves room for "/.s.PGSQL.65535" within the 107
	// bytes a Unix socket path may have (108 with the NUL).
	maxSocketDirLen = 107 - len("/.s.PGSQL.65535")
)

// errExitedEarly marks a start attempt that may succeed if retried.
var errExitedEarly = errors.New("postgres exited during start")

// Server is a running private PostgreSQL. Its methods are safe for
// concurrent use.
type Server struct {
	dir     string
	sockDir string
	// tempSockDir is true when sockDir lives in os.TempDir and Stop removes it.
	tempSockDir bool
	port        int
	logPath     string
	logFile     *os.File
	logger      *slog.Logger
	proc        *process
	stopOnce    sync.Once
	stopErr     error
}

// process is one run of the postmaster.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the postmaster has exited
	err    error         // the exit status; written before exited is closed
	// crashWatch is set once the server is ready and cleared by Stop: an
	// exit in between is a crash worth logging.
	crashWatch atomic.Bool
}

// Start runs PostgreSQL on the data directory dir, creating it with initdb
// when dir/PG_VERSION is missing, and returns once the server accepts
// connections and the "berth" database exists. The server's log is appended
// to postgres.log beside dir. Start returns ErrBinariesNotFound when the
// PostgreSQL programs are not installed. The server outlives ctx; call Stop.
func Start(ctx context.Context, dir string, logger *slog.Logger) (*Server, error) {
	bins, err := findBinaries()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	acct, err := serverAccount()
	if err != nil {
		return nil, err
	}
	logger = logger.With("component", "postgres", "data_dir", dir)
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()

	if err := prepareDataDir(dir, acct, logger); err != nil {
		return nil, err
	}
	s := &Server{dir: dir, logger: logger, logPath: filepath.Join(filepath.Dir(dir), "postgres.log")}
	s.logFile, err = os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open postgres log: %w", err)
	}
	if err := s.start(ctx, bins, acct); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

func prepareDataDir(dir string, acct *account, logger *slog.Logger) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := acct.ensureReachable(dir, logger); err != nil {
		return err
	}
	return acct.chownTree(dir)
}

// start does the part of Start that needs cleaning up on failure.
func (s *Server) start(ctx context.Context, bins binaries, acct *account) error {
	if _, err := os.Stat(filepath.Join(s.dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := s.initdb(ctx, bins.initdb, acct); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if err := s.makeSocketDir(acct); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err := s.launch(ctx, bins.postgres, acct)
		if err == nil {
			break
		}
		if !errors.Is(err, errExitedEarly) || attempt == startAttempts {
			return err
		}
		s.logger.Warn("postgres did not start, retrying", "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("start postgres: %w (last attempt: %w)", ctx.Err(), err)
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
	if err := s.ensureDatabase(ctx); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		s.halt(stopCtx)
		return err
	}
	s.logger.Info("postgres ready", "port", s.port, "socket_dir", s.sockDir, "log", s.logPath)
	return nil
}

func (s *Server) initdb(ctx context.Context, initdb string, acct *account) error {
	s.logger.Info("creating database cluster")
	cmd := exec.CommandContext(ctx, initdb,
		"--pgdata", s.dir,
		"--username", superuser,
		"--encoding", "UTF8",
		"--no-locale",
		"--auth-local", "trust",
		"--auth-host", "scram-sha-256",
		"--no-instructions",
	)
	cmd.Dir = s.dir
	cmd.SysProcAttr = acct.sysProcAttr()
	// Held while initdb runs: its parent-death signal follows the thread
	// that forked it (see launch).
	runtime.LockOSThread()
	out, err := cmd.CombinedOutput()
	runtime.UnlockOSThread()
	_, _ = s.logFile.Write(out)
	if err != nil {
		return fmt.Errorf("initdb %q: %w: %s", s.dir, err, lastLines(string(out), 5))
	}
	return nil
}

// makeSocketDir puts the socket in the data directory when its path fits,
// and otherwise in a fresh short directory under os.TempDir.
func (s *Server) makeSocketDir(acct *account) error {
	s.sockDir = filepath.Join(s.dir, "socket")
	if len(s.sockDir) > maxSocketDirLen {
		dir, err := os.MkdirTemp("", "berth-pg-")
		if err != nil {
			return fmt.Errorf("create socket directory: %w", err)
		}
		if len(dir) > maxSocketDirLen {
			_ = os.Remove(dir)
			return fmt.Errorf("socket directory %q is longer than %d bytes, even in TMPDIR", s.sockDir, maxSocketDirLen)
		}
		s.sockDir, s.tempSockDir = dir, true
	} else if err := os.Mkdir(s.sockDir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create socket directory: %w", err)
	}
	// Whoever can enter this directory can connect as superuser.
	if err := os.Chmod(s.sockDir, 0o700); err != nil {
		return err
	}
	return acct.chown(s.sockDir)
}

// launch runs the postmaster once, on a fresh free port, and waits until it
// accepts connections. It returns an error wrapping errExitedEarly when the
// postmaster exits before that.
func (s *Server) launch(ctx context.Context, postgres string, acct *account) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logStart, _ := s.logFile.Seek(0, io.SeekEnd)
	cmd := exec.Command(postgres,
		"-D", s.dir,
		"-k", s.sockDir,
		"-h", "127.0.0.1",
		"-p", strconv.Itoa(port),
		"-c", "fsync=on",
		"-c", "logging_collector=off",
	)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = s.logFile, s.logFile
	cmd.SysProcAttr = acct.sysProcAttr()
	p := &process{cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// The server's parent-death signal is sent when the thread that
		// forked it ends, not the process (prctl(2), golang/go#27505):
		// a thread ends whenever a goroutine that locked it ends locked,
		// as code that enters a network namespace does. So the server is
		// forked from a thread this goroutine holds until the server
		// exits; then the thread ends with it.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.exited)
		if p.crashWatch.Load() {
			s.logger.Error("postgres exited unexpectedly", "error", p.err, "pid", cmd.Process.Pid)
		}
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("run postgres: %w", err)
	}
	s.port, s.proc = port, p

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.ping(ctx) == nil {
			p.crashWatch.Store(true)
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%w: %v: %s", errExitedEarly, p.err, s.logSince(logStart))
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
			return fmt.Errorf("wait for postgres to accept connections: %w: %s", ctx.Err(), s.logSince(logStart))
		case <-tick.C:
		}
	}
}

func (s *Server) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.urlFor("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.Ping(ctx)
}

// ensureDatabase creates the berth database on every start rather than
// right after initdb, so that a crash between the two does not leave a
// cluster without it.
func (s *Server) ensureDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.urlFor("postgres"))
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", database).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %q: %w", database, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{database}.Sanitize()); err != nil {
		return fmt.Errorf("create database %q: %w", database, err)
	}
	s.logger.Info("created database", "database", database)
	return nil
}

// URL returns a connection URL for pgx (and libpq) to the berth database as
// the berth superuser, over the Unix socket.
func (s *Server) URL() string { return s.urlFor(database) }

func (s *Server) urlFor(db string) string {
	q := url.Values{
		"host":    {s.sockDir},
		"port":    {strconv.Itoa(s.port)},
		"user":    {superuser},
		"sslmode": {"disable"},
	}
	return (&url.URL{Scheme: "postgres", Path: "/" + db, RawQuery: q.Encode()}).String()
}

// LogPath returns the file the server writes its log to.
func (s *Server) LogPath() string { return s.logPath }

// Stop shuts the server down with a fast shutdown (SIGINT: sessions are
// disconnected, work is checkpointed) and waits for it to exit. When ctx
// ends first it kills the server's processes, which is safe but makes the
// next start replay the WAL, and returns ctx's error. Calling Stop again
// returns the first result.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.stopErr = s.halt(ctx)
		s.release()
	})
	return s.stopErr
}

// halt stops the postmaster; see Stop.
func (s *Server) halt(ctx context.Context) error {
	p := s.proc
	p.crashWatch.Store(false)
	select {
	case <-p.exited:
		if p.err != nil {
			return fmt.Errorf("postgres had already exited: %w", p.err)
		}
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal postgres: %w", err)
	}
	select {
	case <-p.exited:
		s.logger.Info("postgres stopped")
		return nil
	case <-ctx.Done():
		s.logger.Warn("postgres did not stop in time, killing it")
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
		return fmt.Errorf("stop postgres: %w", ctx.Err())
	}
}

// release frees what Start acquired besides the process.
func (s *Server) release() {
	_ = s.logFile.Close()
	if s.tempSockDir {
		_ = os.RemoveAll(s.sockDir)
	}
}

// logSince returns the last lines the server logged after offset, to
// explain a failed start in the error itself.
func (s *Server) logSince(offset int64) string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	const maxTail = 4096
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > maxTail {
		offset = fi.Size() - maxTail
	}
	b, _ := io.ReadAll(io.NewSectionReader(f, offset, maxTail))
	return lastLines(string(b), 5)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// freePort asks the kernel for an unused loopback port. Another process may
// take it before postgres binds it; launch's caller retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
