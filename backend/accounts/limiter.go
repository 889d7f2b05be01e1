package accounts

import (
	"strings"
	"sync"
	"time"
)

// LimiterConfig tunes a LoginLimiter; zero fields take the defaults.
type LimiterConfig struct {
	// MaxFailures within Window lock a user name or an address out.
	// Default 5.
	MaxFailures int
	// Window is how far back failures count. Default one minute.
	Window time.Duration
	// Backoff is how long a lockout lasts. Default one minute.
	Backoff time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// LoginLimiter slows password guessing down. It counts failed logins per
// user name and per client address; after MaxFailures within Window for
// either, logins for it are refused for Backoff. Counting by address stops
// one client trying many names; counting by name stops many clients trying
// one. State is in memory, per process.
type LoginLimiter struct {
	cfg LimiterConfig

	mu        sync.Mutex
	keys      map[string]*loginAttempts // guarded by mu
	lastSweep time.Time                 // guarded by mu
}

type loginAttempts struct {
	failures     []time.Time // within the window, oldest first
	blockedUntil time.Time
}

// sweepAbove is the number of tracked keys past which idle ones are
// forgotten, at most once per window.
const sweepAbove = 1024

// NewLoginLimiter returns a limiter with cfg's settings.
func NewLoginLimiter(cfg LimiterConfig) *LoginLimiter {
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Minute
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &LoginLimiter{cfg: cfg, keys: make(map[string]*loginAttempts)}
}

// limiterKeys names the counters a login attempt touches. Names are
// lowercased so that case variants share a counter.
func limiterKeys(user, addr string) []string {
	keys := make([]string, 0, 2)
	if user != "" {
		keys = append(keys, "user\x00"+strings.ToLower(user))
	}
	if addr != "" {
		keys = append(keys, "addr\x00"+addr)
	}
	return keys
}

// Allow reports whether a login by user from addr may be tried now. When
// it may not, callers answer with ErrRateLimited.
func (l *LoginLimiter) Allow(user, addr string) bool {
	return l.RetryAfter(user, addr) == 0
}

// RetryAfter returns how long until a login by user from addr is allowed;
// zero if it is allowed now.
func (l *LoginLimiter) RetryAfter(user, addr string) time.Duration {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range limiterKeys(user, addr) {
		if a, ok := l.keys[k]; ok {
			wait = max(wait, a.blockedUntil.Sub(now))
		}
	}
	return wait
}

// Failure records a failed login.
func (l *LoginLimiter) Failure(user, addr string) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range limiterKeys(user, addr) {
		a := l.keys[k]
		if a == nil {
			a = &loginAttempts{}
			l.keys[k] = a
		}
		a.failures = append(recent(a.failures, now.Add(-l.cfg.Window)), now)
		if len(a.failures) >= l.cfg.MaxFailures {
			a.blockedUntil = now.Add(l.cfg.Backoff)
			a.failures = nil
		}
	}
	l.sweep(now)
}

// Success records a successful login. It clears the user's failures but
// not the address's: otherwise a client could reset its own counter by
// logging in to an account it owns between guesses at others.
func (l *LoginLimiter) Success(user, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if user != "" {
		delete(l.keys, "user\x00"+strings.ToLower(user))
	}
}

// recent drops the failures before since.
func recent(failures []time.Time, since time.Time) []time.Time {
	i := 0
	for i < len(failures) && failures[i].Before(since) {
		i++
	}
	return failures[i:]
}

// sweep forgets keys with nothing recent, so that a scan over many
// addresses does not grow the map forever. l.mu must be held.
func (l *LoginLimiter) sweep(now time.Time) {
	if len(l.keys) <= sweepAbove || now.Sub(l.lastSweep) < l.cfg.Window {
		return
	}
	l.lastSweep = now
	since := now.Add(-l.cfg.Window)
	for k, a := range l.keys {
		if now.After(a.blockedUntil) && len(recent(a.failures, since)) == 0 {
			delete(l.keys, k)
		}
	}
}
