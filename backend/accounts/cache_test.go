package accounts

import (
	"testing"
	"time"
)

func TestTTLCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newTTLCache[string, int](10 * time.Second)
	c.now = func() time.Time { return now }

	tests := []struct {
		name    string
		advance time.Duration
		key     string
		want    int
		wantOK  bool
	}{
		{"fresh", 0, "a", 1, true},
		{"bounded by notAfter", 0, "b", 2, true},
		{"past notAfter", 3 * time.Second, "b", 0, false},
		{"still within ttl", 0, "a", 1, true},
		{"past ttl", 7 * time.Second, "a", 0, false},
	}
	gen := c.generation()
	c.put("a", 1, gen, time.Time{})
	c.put("b", 2, gen, now.Add(2*time.Second))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = now.Add(tt.advance)
			got, ok := c.get(tt.key)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("get(%q) = %d, %v; want %d, %v", tt.key, got, ok, tt.want, tt.wantOK)
			}
		})
	}

	t.Run("put after an invalidation is ignored", func(t *testing.T) {
		gen := c.generation()
		c.invalidate(func(string, int) bool { return false })
		c.put("stale", 3, gen, time.Time{})
		if _, ok := c.get("stale"); ok {
			t.Error("a value read before an invalidation was cached")
		}
	})
	t.Run("invalidate drops matching entries", func(t *testing.T) {
		gen := c.generation()
		c.put("x", 1, gen, time.Time{})
		c.put("y", 2, gen, time.Time{})
		c.invalidate(func(k string, _ int) bool { return k == "x" })
		if _, ok := c.get("x"); ok {
			t.Error("x still cached")
		}
		if _, ok := c.get("y"); !ok {
			t.Error("y dropped")
		}
	})
}
