package accounts

import (
	"net"
	"strings"
	"sync"
	"time"
)

// LimiterConfig tunes a LoginLimiter; zero fields take the defaults.
type LimiterConfig struct {
	// MaxFailures within Window for one user name from one client
	// address lock that pair out. Default 5.
	MaxFailures int
	// MaxAddressFailures within Window from one client address, whatever
	// names it tries, lock the address out. Default 20.
	MaxAddressFailures int
	// Window is how far back failures count. Default one minute.
	Window time.Duration
	// Backoff is how long a first lockout lasts; each lockout that follows
	// without a quiet MaxBackoff in between lasts twice as long as the
	// one before, up to MaxBackoff. Defaults one minute and 15 minutes.
	Backoff, MaxBackoff time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// LoginLimiter slows password guessing down without letting anyone lock
// a user out. It counts failed logins per client address and per (user
// name, client address) pair, never per user alone: a counter per user
// would let anyone on the network lock that user (the admin included) out
// everywhere with a handful of wrong passwords. Counting by pair stops
// one client guessing one user's password; counting by address stops one
// client trying many names. IPv6 addresses count by /64, the block one
// machine usually holds. State is in memory, per process.
type LoginLimiter struct {
	cfg LimiterConfig

	mu        sync.Mutex
	keys      map[string]*loginAttempts // guarded by mu
	lastSweep time.Time                 // guarded by mu
}

type loginAttempts struct {
	failures     []time.Time // within the window, oldest first
	blockedUntil time.Time
	lockouts     int       // in a row; the next backoff doubles with each
	last         time.Time // the latest failure
}

// sweepAbove is the number of tracked keys past which idle ones are
// forgotten, at most once per window.
const sweepAbove = 1024

// NewLoginLimiter returns a limiter with cfg's settings.
func NewLoginLimiter(cfg LimiterConfig) *LoginLimiter {
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.MaxAddressFailures <= 0 {
		cfg.MaxAddressFailures = 20
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Minute
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Minute
	}
	if cfg.MaxBackoff < cfg.Backoff {
		cfg.MaxBackoff = max(15*time.Minute, cfg.Backoff)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &LoginLimiter{cfg: cfg, keys: make(map[string]*loginAttempts)}
}

// limiterKey is one counter and the failures that lock it.
type limiterKey struct {
	key   string
	limit int
}

// clientNetwork is the part of a client address that counts: the address
// itself for IPv4, its /64 for IPv6 (one host may use a whole /64).
func clientNetwork(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil {
		return addr
	}
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}

// limiterKeys names the counters a login attempt touches. Names are
// lowercased so that case variants share a counter.
func (l *LoginLimiter) limiterKeys(user, addr string) []limiterKey {
	network := clientNetwork(addr)
	keys := []limiterKey{{"addr\x00" + network, l.cfg.MaxAddressFailures}}
	if user != "" {
		keys = append(keys, limiterKey{"pair\x00" + strings.ToLower(user) + "\x00" + network, l.cfg.MaxFailures})
	}
	return keys
}

// Allow reports whether a login by user from addr may be tried now. When
// it may not, callers answer 429 with RetryAfter's wait.
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
	for _, k := range l.limiterKeys(user, addr) {
		if a, ok := l.keys[k.key]; ok {
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
	for _, k := range l.limiterKeys(user, addr) {
		a := l.keys[k.key]
		if a == nil {
			a = &loginAttempts{}
			l.keys[k.key] = a
		}
		if now.Sub(a.last) >= l.cfg.MaxBackoff && now.After(a.blockedUntil) {
			a.lockouts = 0 // quiet long enough: start over at the first backoff
		}
		a.last = now
		a.failures = append(recent(a.failures, now.Add(-l.cfg.Window)), now)
		if len(a.failures) >= k.limit {
			a.blockedUntil = now.Add(l.backoff(a.lockouts))
			a.lockouts++
			a.failures = nil
		}
	}
	l.sweep(now)
}

// backoff is the length of a lockout after n earlier ones in a row.
func (l *LoginLimiter) backoff(n int) time.Duration {
	d := l.cfg.Backoff
	for range n {
		if d >= l.cfg.MaxBackoff/2 {
			return l.cfg.MaxBackoff
		}
		d *= 2
	}
	return d
}

// Success records a successful login. It clears the pair's failures but
// not the address's: otherwise a client could reset its own counter by
// logging in to an account it owns between guesses at others.
func (l *LoginLimiter) Success(user, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if user != "" {
		delete(l.keys, "pair\x00"+strings.ToLower(user)+"\x00"+clientNetwork(addr))
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

// sweep forgets keys that are neither locked nor remembered for a longer
// next lockout, so that a scan over many addresses does not grow the map
// forever. l.mu must be held.
func (l *LoginLimiter) sweep(now time.Time) {
	if len(l.keys) <= sweepAbove || now.Sub(l.lastSweep) < l.cfg.Window {
		return
	}
	l.lastSweep = now
	idle := max(l.cfg.Window, l.cfg.MaxBackoff)
	for k, a := range l.keys {
		if now.After(a.blockedUntil) && now.Sub(a.last) >= idle {
			delete(l.keys, k)
		}
	}
}
