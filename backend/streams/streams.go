package streams

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berthpaas/berth/backend/errdefs"
)

// Kind is a kind of stream; each has limits of its own.
type Kind string

// The kinds of streams.
const (
	// Watch is an API watch, the console's multiplexed ones included
	// (each is an in-process API watch of its own).
	Watch Kind = "watch"
	// Log is a log follow (GET .../log?follow=true).
	Log Kind = "log"
	// Exec is an exec, attach or port forward session.
	Exec Kind = "exec"
	// Console is a console websocket.
	Console Kind = "console"
)

// Kinds lists every kind, for flags and metrics.
var Kinds = []Kind{Watch, Log, Exec, Console}

// Limits bound the streams open at once, per kind: per user and in total
// on this master. A kind missing from a map takes its default.
type Limits struct {
	PerUser map[Kind]int
	Total   map[Kind]int
}

// DefaultLimits leave room for a person with several console tabs and a
// few kubectl -w, and stop one user (or a bug) from holding the master's
// memory and file descriptors.
var DefaultLimits = Limits{
	PerUser: map[Kind]int{Watch: 100, Log: 20, Exec: 20, Console: 20},
	Total:   map[Kind]int{Watch: 5000, Log: 500, Exec: 500, Console: 1000},
}

// retryAfter is what a refusal asks the client to wait: a stream ends at
// any time, so soon is as good a guess as any (kube-apiserver's
// max-in-flight filter answers Retry-After: 1 too).
const retryAfter = time.Second

// defaultRecheckInterval is how often the credentials of open streams are
// checked against the database: the most a stream outlives a revocation
// made on another master.
const defaultRecheckInterval = 10 * time.Second

// ErrRevoked ends the streams of a credential that was revoked, expired,
// logged out or whose user was deleted; it is the cause of their
// context (context.Cause).
var ErrRevoked = errdefs.New(errdefs.ErrUnauthenticated, "the credential this stream was opened with is no longer valid")

// errShutdown ends every stream when the server stops.
var errShutdown = errdefs.New(errdefs.ErrUnavailable, "the server is shutting down")

// Owner says whose a stream is.
type Owner struct {
	// User is whose per-user limit the stream counts against: the user's
	// name, or "node:NAME" for a node agent's credential (node tokens
	// belong to the admin who made them, yet each node is on its own).
	User string
	// UserID is the account the credential belongs to.
	UserID int64
	// Credential identifies the secret the stream was opened with
	// (CredentialOf).
	Credential [32]byte
}

// CredentialOf is how a secret is known here: its SHA-256, as the account
// store keeps it. The secret itself is not held.
func CredentialOf(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// Checker tells which credentials are still valid.
type Checker interface {
	// LiveCredentials returns the credentials of creds that are known,
	// not revoked, not expired, and whose user exists.
	LiveCredentials(ctx context.Context, creds [][32]byte) (map[[32]byte]bool, error)
}

// Config sets a Registry up.
type Config struct {
	// Limits; zero maps take DefaultLimits.
	Limits Limits
	// Checker re-checks the credentials of open streams every
	// RecheckInterval (default 10 s) while Run runs; nil checks nothing.
	Checker         Checker
	RecheckInterval time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
}

// Registry holds the open streams of a master.
type Registry struct {
	perUserLimit map[Kind]int
	totalLimit   map[Kind]int
	checker      Checker
	interval     time.Duration
	logger       *slog.Logger

	mu       sync.Mutex
	perUser  map[userKind]int      // guarded by mu
	total    map[Kind]int          // guarded by mu
	sessions map[*Session]struct{} // guarded by mu
	closed   bool                  // guarded by mu

	refused map[Kind]*atomic.Uint64 // written once, in New
}

type userKind struct {
	user string
	kind Kind
}

// New returns a registry.
func New(cfg Config) *Registry {
	r := &Registry{
		perUserLimit: withDefaults(cfg.Limits.PerUser, DefaultLimits.PerUser),
		totalLimit:   withDefaults(cfg.Limits.Total, DefaultLimits.Total),
		checker:      cfg.Checker,
		interval:     cfg.RecheckInterval,
		logger:       cfg.Logger,
		perUser:      make(map[userKind]int),
		total:        make(map[Kind]int),
		sessions:     make(map[*Session]struct{}),
		refused:      make(map[Kind]*atomic.Uint64),
	}
	if r.interval <= 0 {
		r.interval = defaultRecheckInterval
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	for _, k := range Kinds {
		r.refused[k] = new(atomic.Uint64)
	}
	return r
}

func withDefaults(m, defaults map[Kind]int) map[Kind]int {
	out := make(map[Kind]int, len(defaults))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range m {
		if v > 0 {
			out[k] = v
		}
	}
	return out
}

// Session is one open stream. Its context ends when the stream's own
// context does, when its credential stops being valid (the cause is
// ErrRevoked), or when the server shuts down; Close releases its slot.
type Session struct {
	r      *Registry
	owner  Owner
	kind   Kind
	ctx    context.Context
	cancel context.CancelCauseFunc
	once   sync.Once
}

// Open takes a slot of kind for owner and returns the session, whose
// context derives from ctx. Past a limit it returns a 429 error (with
// Retry-After) that says which limit; the caller must Close the session
// when the stream ends.
func (r *Registry) Open(ctx context.Context, owner Owner, kind Kind) (*Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errShutdown
	}
	uk := userKind{owner.User, kind}
	if n, limit := r.perUser[uk], r.perUserLimit[kind]; n >= limit {
		r.refused[kind].Add(1)
		return nil, errdefs.TooManyRequests(retryAfter, "%q has %d %s streams open, the most allowed per user; close one and retry", owner.User, n, kind)
	}
	if n, limit := r.total[kind], r.totalLimit[kind]; n >= limit {
		r.refused[kind].Add(1)
		return nil, errdefs.TooManyRequests(retryAfter, "this server has %d %s streams open, the most it allows; retry later", n, kind)
	}
	r.perUser[uk]++
	r.total[kind]++
	sctx, cancel := context.WithCancelCause(ctx)
	s := &Session{r: r, owner: owner, kind: kind, ctx: sctx, cancel: cancel}
	r.sessions[s] = struct{}{}
	return s, nil
}

// Context is the stream's context: serve the stream under it.
func (s *Session) Context() context.Context { return s.ctx }

// Close ends the session and frees its slot; it may be called more than
// once.
func (s *Session) Close() {
	s.once.Do(func() {
		s.cancel(context.Canceled)
		r := s.r
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.sessions, s)
		uk := userKind{s.owner.User, s.kind}
		if r.perUser[uk]--; r.perUser[uk] <= 0 {
			delete(r.perUser, uk)
		}
		r.total[s.kind]--
	})
}

// end ends the sessions for which match holds, with cause; they free
// their slots when their handlers Close them.
func (r *Registry) end(cause error, match func(*Session) bool) int {
	r.mu.Lock()
	var ended []*Session
	for s := range r.sessions {
		if match(s) {
			ended = append(ended, s)
		}
	}
	r.mu.Unlock()
	for _, s := range ended {
		s.cancel(cause)
	}
	return len(ended)
}

// EndCredential ends the streams opened with cred: it was revoked or
// logged out.
func (r *Registry) EndCredential(cred [32]byte) {
	if n := r.end(ErrRevoked, func(s *Session) bool { return s.owner.Credential == cred }); n > 0 {
		r.logger.Info("ended the streams of a revoked credential", "streams", n)
	}
}

// EndUser ends every stream of a user: it was deleted.
func (r *Registry) EndUser(userID int64) {
	if n := r.end(ErrRevoked, func(s *Session) bool { return s.owner.UserID == userID }); n > 0 {
		r.logger.Info("ended the streams of a deleted user", "user_id", userID, "streams", n)
	}
}

// Shutdown ends every stream and refuses new ones.
func (r *Registry) Shutdown() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.end(errShutdown, func(*Session) bool { return true })
}

// Run re-checks the credentials of the open streams every interval until
// ctx ends, and ends the streams of those no longer valid: revocations
// made by other masters reach this one's streams within an interval.
func (r *Registry) Run(ctx context.Context) {
	if r.checker == nil {
		return
	}
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.recheck(ctx)
		}
	}
}

func (r *Registry) recheck(ctx context.Context) {
	r.mu.Lock()
	seen := make(map[[32]byte]bool)
	var creds [][32]byte
	for s := range r.sessions {
		if !seen[s.owner.Credential] {
			seen[s.owner.Credential] = true
			creds = append(creds, s.owner.Credential)
		}
	}
	r.mu.Unlock()
	if len(creds) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.interval)
	defer cancel()
	live, err := r.checker.LiveCredentials(ctx, creds)
	if err != nil {
		// A database that does not answer says nothing about the
		// credentials: the streams go on, and the next check decides.
		r.logger.Warn("cannot re-check the credentials of open streams", "error", err)
		return
	}
	// Only the credentials asked about: a stream opened while the
	// database answered has one it was not asked about, and the
	// authentication it just passed says it is live.
	if n := r.end(ErrRevoked, func(s *Session) bool { return seen[s.owner.Credential] && !live[s.owner.Credential] }); n > 0 {
		r.logger.Info("ended streams whose credentials are no longer valid", "streams", n)
	}
}

// OpenCount returns how many streams of kind are open.
func (r *Registry) OpenCount(kind Kind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total[kind]
}

// Refused returns how many streams of kind were refused at a limit.
func (r *Registry) Refused(kind Kind) uint64 { return r.refused[kind].Load() }
