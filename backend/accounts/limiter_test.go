package accounts

import (
	"fmt"
	"testing"
	"time"
)

func TestLoginLimiter(t *testing.T) {
	type step struct {
		advance   time.Duration
		action    string // "fail", "ok" or "" (only check)
		user      string
		addr      string
		wantAllow bool
	}
	fails := func(n int, user, addr string) []step {
		var s []step
		for range n {
			s = append(s, step{0, "fail", user, addr, true})
		}
		return s
	}
	steps := func(parts ...[]step) []step {
		var s []step
		for _, p := range parts {
			s = append(s, p...)
		}
		return s
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"four failures are fine", steps(fails(4, "ann", "10.0.0.1"), []step{
			{0, "", "ann", "10.0.0.1", true},
		})},
		{"five failures lock the user out from that address only, for the backoff", steps(fails(4, "admin", "10.0.0.66"), []step{
			{0, "fail", "ADMIN", "10.0.0.66", false},
			{0, "", "admin", "10.0.0.66", false},
			{0, "", "admin", "10.0.0.1", true},
			{0, "", "bob", "10.0.0.66", true},
			{59 * time.Second, "", "admin", "10.0.0.66", false},
			{time.Second, "", "admin", "10.0.0.66", true},
		})},
		{"failures for one user from many addresses lock no one out", steps(
			fails(4, "admin", "10.0.0.1"), fails(4, "admin", "10.0.0.2"), fails(4, "admin", "10.0.0.3"),
			fails(4, "admin", "2001:db8::1"), fails(4, "admin", "2001:db8:0:1::1"), []step{
				{0, "", "admin", "10.0.0.4", true},
				{0, "", "admin", "10.0.0.1", true},
			})},
		{"twenty failures lock the address out, for any user", steps(
			fails(4, "u1", "10.0.0.1"), fails(4, "u2", "10.0.0.1"), fails(4, "u3", "10.0.0.1"),
			fails(4, "u4", "10.0.0.1"), fails(3, "u5", "10.0.0.1"), []step{
				{0, "fail", "u6", "10.0.0.1", false},
				{0, "", "u7", "10.0.0.1", false},
				{0, "", "u7", "10.0.0.2", true},
			})},
		{"an IPv6 /64 counts as one address", steps(fails(4, "ann", "2001:db8:0:7::1"), []step{
			{0, "fail", "ann", "2001:db8:0:7:ffff::2", false},
			{0, "", "ann", "2001:db8:0:8::1", true},
		})},
		{"failures older than the window do not count", steps(fails(4, "ann", "10.0.0.1"), []step{
			{61 * time.Second, "fail", "ann", "10.0.0.1", true},
		})},
		{"lockouts in a row back off longer", steps(fails(4, "ann", "10.0.0.1"), []step{
			{0, "fail", "ann", "10.0.0.1", false},
			{time.Minute, "", "ann", "10.0.0.1", true},
		}, fails(4, "ann", "10.0.0.1"), []step{
			{0, "fail", "ann", "10.0.0.1", false},
			{time.Minute, "", "ann", "10.0.0.1", false},
			{time.Minute, "", "ann", "10.0.0.1", true},
		})},
		{"success clears the pair, not the address", steps(fails(4, "ann", "10.0.0.1"), []step{
			{0, "ok", "ann", "10.0.0.1", true},
		}, fails(4, "ann", "10.0.0.1"), fails(4, "bob", "10.0.0.1"), fails(4, "carl", "10.0.0.1"), fails(3, "dave", "10.0.0.1"), []step{
			{0, "fail", "erin", "10.0.0.1", false},
			{0, "", "ann", "10.0.0.1", false},
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			l := NewLoginLimiter(LimiterConfig{Now: func() time.Time { return now }})
			for i, s := range tt.steps {
				now = now.Add(s.advance)
				switch s.action {
				case "fail":
					l.Failure(s.user, s.addr)
				case "ok":
					l.Success(s.user, s.addr)
				}
				if got := l.Allow(s.user, s.addr); got != s.wantAllow {
					t.Fatalf("step %d (%s %s from %s): Allow = %v, want %v", i, s.action, s.user, s.addr, got, s.wantAllow)
				}
			}
		})
	}
}

func TestClientNetwork(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"::1", "::/64"},
		{"not an address", "not an address"},
	}
	for _, tt := range tests {
		if got := clientNetwork(tt.addr); got != tt.want {
			t.Errorf("clientNetwork(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestLoginLimiterBackoffCapAndSweep(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLoginLimiter(LimiterConfig{MaxFailures: 1, MaxAddressFailures: 1000, Window: time.Minute,
		Backoff: 30 * time.Second, MaxBackoff: 100 * time.Second, Now: func() time.Time { return now }})
	for _, want := range []time.Duration{30 * time.Second, time.Minute, 100 * time.Second, 100 * time.Second} {
		l.Failure("ann", "10.0.0.1")
		if got := l.RetryAfter("ann", "10.0.0.1"); got != want {
			t.Errorf("RetryAfter = %v, want %v", got, want)
		}
		now = now.Add(want)
	}
	for i := range sweepAbove + 1 {
		l.Failure("", fmt.Sprintf("10.1.%d.%d", i/256, i%256))
	}
	now = now.Add(2 * time.Minute)
	l.Failure("", "10.2.0.1")
	l.mu.Lock()
	n := len(l.keys)
	l.mu.Unlock()
	if n != 1 {
		t.Errorf("%d keys tracked after the sweep, want 1", n)
	}
}
