package accounts

import (
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
	tests := []struct {
		name  string
		steps []step
	}{
		{"four failures are fine", []step{
			{0, "fail", "ann", "10.0.0.1", true},
			{0, "fail", "ann", "10.0.0.1", true},
			{0, "fail", "ann", "10.0.0.1", true},
			{0, "fail", "ann", "10.0.0.1", true},
			{0, "", "ann", "10.0.0.1", true},
		}},
		{"five failures lock the user out, from anywhere, for the backoff", []step{
			{0, "fail", "ann", "10.0.0.1", true},
			{0, "fail", "ann", "10.0.0.2", true},
			{0, "fail", "ann", "10.0.0.3", true},
			{0, "fail", "ANN", "10.0.0.4", true},
			{0, "fail", "ann", "10.0.0.5", false},
			{0, "", "ann", "10.9.9.9", false},
			{0, "", "bob", "10.9.9.9", true},
			{59 * time.Second, "", "ann", "10.9.9.9", false},
			{time.Second, "", "ann", "10.9.9.9", true},
		}},
		{"five failures lock the address out, for any user", []step{
			{0, "fail", "u1", "10.0.0.1", true},
			{0, "fail", "u2", "10.0.0.1", true},
			{0, "fail", "u3", "10.0.0.1", true},
			{0, "fail", "u4", "10.0.0.1", true},
			{0, "fail", "u5", "10.0.0.1", false},
			{0, "", "u6", "10.0.0.1", false},
			{0, "", "u6", "10.0.0.2", true},
		}},
		{"failures older than the window do not count", []step{
			{0, "fail", "ann", "10.0.0.1", true},
			{0, "fail", "ann", "10.0.0.1", true},
			{0, "fail", "ann", "10.0.0.1", true},
			{0, "fail", "ann", "10.0.0.1", true},
			{61 * time.Second, "fail", "ann", "10.0.0.1", true},
		}},
		{"success clears the user, not the address", []step{
			{0, "fail", "ann", "10.0.0.1", true},
			{0, "fail", "ann", "10.0.0.1", true},
			{0, "fail", "ann", "10.0.0.1", true},
			{0, "fail", "ann", "10.0.0.1", true},
			{0, "ok", "ann", "10.0.0.1", true},
			{0, "fail", "ann", "10.0.0.2", true},
			{0, "fail", "bob", "10.0.0.1", false},
		}},
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

func TestLoginLimiterRetryAfterAndSweep(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLoginLimiter(LimiterConfig{MaxFailures: 1, Window: time.Minute, Backoff: 30 * time.Second, Now: func() time.Time { return now }})
	l.Failure("ann", "")
	if got := l.RetryAfter("ann", ""); got != 30*time.Second {
		t.Errorf("RetryAfter = %v, want 30s", got)
	}
	for i := range sweepAbove + 1 {
		l.Failure("", "10.1."+string(rune('a'+i%26))+string(rune('a'+i/26)))
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
