package accounts

import (
	"maps"
	"sync"
	"time"
)

// maxCacheEntries bounds a cache's memory; past it, expired entries are
// swept, and if that is not enough the cache starts over.
const maxCacheEntries = 10000

// ttlCache is a small map whose entries expire. Invalidations bump a
// generation so that a reader who looked a value up in the database before
// an invalidation cannot store it afterwards (see put).
type ttlCache[K comparable, V any] struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.RWMutex
	entries map[K]cacheEntry[V] // guarded by mu
	gen     uint64              // guarded by mu
}

type cacheEntry[V any] struct {
	value   V
	expires time.Time
}

func newTTLCache[K comparable, V any](ttl time.Duration) *ttlCache[K, V] {
	return &ttlCache[K, V]{ttl: ttl, now: time.Now, entries: make(map[K]cacheEntry[V])}
}

func (c *ttlCache[K, V]) get(k K) (V, bool) {
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.value, true
}

// generation is read before a database lookup and handed to put with its
// result.
func (c *ttlCache[K, V]) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// put stores v for the cache's lifetime, or until notAfter if that is
// sooner (zero means no bound). It does nothing if anything was
// invalidated since gen was read: v may predate that invalidation.
func (c *ttlCache[K, V]) put(k K, v V, gen uint64, notAfter time.Time) {
	expires := c.now().Add(c.ttl)
	if !notAfter.IsZero() && notAfter.Before(expires) {
		expires = notAfter
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= maxCacheEntries {
		now := c.now()
		maps.DeleteFunc(c.entries, func(_ K, e cacheEntry[V]) bool { return !now.Before(e.expires) })
		if len(c.entries) >= maxCacheEntries {
			clear(c.entries)
		}
	}
	c.entries[k] = cacheEntry[V]{value: v, expires: expires}
}

// invalidate drops the entries for which drop returns true.
func (c *ttlCache[K, V]) invalidate(drop func(K, V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	maps.DeleteFunc(c.entries, func(k K, e cacheEntry[V]) bool { return drop(k, e.value) })
}
