package streams

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/errdefs"
)

func owner(user string, id int64, secret string) Owner {
	return Owner{User: user, UserID: id, Credential: CredentialOf(secret)}
}

func TestLimits(t *testing.T) {
	limits := Limits{PerUser: map[Kind]int{Watch: 2, Exec: 1}, Total: map[Kind]int{Watch: 3}}
	type open struct {
		user string
		kind Kind
		ok   bool
	}
	tests := []struct {
		name  string
		opens []open
	}{
		{"per user", []open{{"ann", Watch, true}, {"ann", Watch, true}, {"ann", Watch, false}, {"bob", Watch, true}}},
		{"in total", []open{{"ann", Watch, true}, {"bob", Watch, true}, {"carl", Watch, true}, {"dora", Watch, false}}},
		{"kinds count apart", []open{{"ann", Exec, true}, {"ann", Exec, false}, {"ann", Watch, true}, {"ann", Log, true}}},
		{"defaults for the kinds not set", []open{{"ann", Console, true}, {"ann", Log, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Config{Limits: limits})
			for i, o := range tt.opens {
				s, err := r.Open(t.Context(), owner(o.user, 1, o.user), o.kind)
				if o.ok != (err == nil) {
					t.Fatalf("open %d (%s %s): %v, want ok %v", i, o.user, o.kind, err, o.ok)
				}
				if err == nil {
					defer s.Close()
					continue
				}
				var retry *errdefs.RetryError
				if !errors.Is(err, errdefs.ErrTooManyRequests) || !errors.As(err, &retry) || retry.After <= 0 {
					t.Errorf("refusal %v: want ErrTooManyRequests with a retry time", err)
				}
			}
		})
	}
}

func TestCloseFreesTheSlot(t *testing.T) {
	r := New(Config{Limits: Limits{PerUser: map[Kind]int{Watch: 1}}})
	o := owner("ann", 1, "s")
	s, err := r.Open(t.Context(), o, Watch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Open(t.Context(), o, Watch); err == nil {
		t.Fatal("a second watch past the limit of 1 was opened")
	}
	s.Close()
	s.Close() // twice is harmless: the slot is freed once
	if s.Context().Err() == nil {
		t.Error("the closed session's context is still live")
	}
	if got := r.OpenCount(Watch); got != 0 {
		t.Errorf("%d watches open after Close, want 0", got)
	}
	s2, err := r.Open(t.Context(), o, Watch)
	if err != nil {
		t.Fatalf("the freed slot is not reusable: %v", err)
	}
	s2.Close()
	if r.Refused(Watch) != 1 {
		t.Errorf("Refused = %d, want 1", r.Refused(Watch))
	}
}

func TestEnd(t *testing.T) {
	tests := []struct {
		name  string
		end   func(r *Registry)
		ended []string // sessions (by secret) whose context ends
	}{
		{"a revoked credential", func(r *Registry) { r.EndCredential(CredentialOf("ann-laptop")) }, []string{"ann-laptop"}},
		{"a deleted user", func(r *Registry) { r.EndUser(1) }, []string{"ann-laptop", "ann-console"}},
		{"an unknown credential", func(r *Registry) { r.EndCredential(CredentialOf("nobody")) }, nil},
		{"shutdown", func(r *Registry) { r.Shutdown() }, []string{"ann-laptop", "ann-console", "bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Config{})
			sessions := map[string]*Session{}
			for _, o := range []Owner{owner("ann", 1, "ann-laptop"), owner("ann", 1, "ann-console"), owner("bob", 2, "bob")} {
				for _, k := range []Kind{Watch, Exec} {
					s, err := r.Open(t.Context(), o, k)
					if err != nil {
						t.Fatal(err)
					}
					defer s.Close()
					sessions[fmt.Sprint(o.Credential, k)] = s
				}
			}
			tt.end(r)
			for _, secret := range []string{"ann-laptop", "ann-console", "bob"} {
				want := false
				for _, e := range tt.ended {
					want = want || e == secret
				}
				for _, k := range []Kind{Watch, Exec} {
					s := sessions[fmt.Sprint(CredentialOf(secret), k)]
					if got := s.Context().Err() != nil; got != want {
						t.Errorf("%s's %s stream ended: %v, want %v", secret, k, got, want)
					}
					if want && tt.name != "shutdown" && !errors.Is(context.Cause(s.Context()), ErrRevoked) {
						t.Errorf("cause %v, want ErrRevoked", context.Cause(s.Context()))
					}
				}
			}
			// Ended streams hold their slots until their handlers Close them.
			if got := r.OpenCount(Watch); got != 3 {
				t.Errorf("%d watches counted before Close, want 3", got)
			}
		})
	}
	t.Run("no streams after shutdown", func(t *testing.T) {
		r := New(Config{})
		r.Shutdown()
		if _, err := r.Open(t.Context(), owner("ann", 1, "s"), Watch); !errors.Is(err, errdefs.ErrUnavailable) {
			t.Errorf("Open after Shutdown: %v, want ErrUnavailable", err)
		}
	})
}

// fakeChecker is the account store's view of live credentials.
type fakeChecker struct {
	mu      sync.Mutex
	live    map[[32]byte]bool
	err     error
	checked chan struct{} // receives after each check
}

func (f *fakeChecker) LiveCredentials(ctx context.Context, creds [][32]byte) (map[[32]byte]bool, error) {
	defer func() {
		select {
		case f.checked <- struct{}{}:
		case <-ctx.Done():
		}
	}()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := map[[32]byte]bool{}
	for _, c := range creds {
		out[c] = f.live[c]
	}
	return out, nil
}

// waitApplied returns once a check that started after the last set has
// been acted on: the first check received may have read the old state,
// the second read the new one, and the loop acts on it before it starts
// the third.
func (f *fakeChecker) waitApplied() {
	for range 3 {
		<-f.checked
	}
}

func (f *fakeChecker) set(live map[[32]byte]bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live, f.err = live, err
}

// Revocations made by another master reach this one through the re-check.
func TestRecheck(t *testing.T) {
	ann, bob := CredentialOf("ann"), CredentialOf("bob")
	checker := &fakeChecker{live: map[[32]byte]bool{ann: true, bob: true}, checked: make(chan struct{})}
	r := rechecking(t, checker)

	sa, err := r.Open(t.Context(), Owner{User: "ann", UserID: 1, Credential: ann}, Watch)
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	sb, err := r.Open(t.Context(), Owner{User: "bob", UserID: 2, Credential: bob}, Log)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	checker.waitApplied()
	if sa.Context().Err() != nil || sb.Context().Err() != nil {
		t.Fatal("a live credential's stream ended")
	}

	checker.set(nil, errors.New("database down"))
	checker.waitApplied()
	if sa.Context().Err() != nil || sb.Context().Err() != nil {
		t.Fatal("a failed check ended streams")
	}

	checker.set(map[[32]byte]bool{bob: true}, nil)
	checker.waitApplied()
	if !errors.Is(context.Cause(sa.Context()), ErrRevoked) {
		t.Errorf("ann's watch: cause %v, want ErrRevoked", context.Cause(sa.Context()))
	}
	if sb.Context().Err() != nil {
		t.Error("bob's stream ended though his credential is live")
	}
}

// blockingChecker holds each check until released, so that a stream can
// open while the database is being asked.
type blockingChecker struct {
	asked   chan [][32]byte
	release chan map[[32]byte]bool
}

func (b *blockingChecker) LiveCredentials(ctx context.Context, creds [][32]byte) (map[[32]byte]bool, error) {
	select {
	case b.asked <- creds:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case live := <-b.release:
		return live, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// A stream opened while a check is under way has a credential that check
// did not ask about: it must not be taken for revoked (CI saw an exec
// refused with 401 "no longer valid" at its very start).
func TestStreamOpenedDuringACheck(t *testing.T) {
	ann, bob := CredentialOf("ann"), CredentialOf("bob")
	checker := &blockingChecker{asked: make(chan [][32]byte), release: make(chan map[[32]byte]bool)}
	r := rechecking(t, checker)

	sa, err := r.Open(t.Context(), Owner{User: "ann", UserID: 1, Credential: ann}, Watch)
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	if creds := <-checker.asked; len(creds) != 1 || creds[0] != ann {
		t.Fatalf("asked about %v, want ann's credential alone", creds)
	}
	// Bob's exec opens while the database is asked about ann.
	sb, err := r.Open(t.Context(), Owner{User: "bob", UserID: 2, Credential: bob}, Exec)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	checker.release <- map[[32]byte]bool{ann: true}
	// The next check asks about both, which shows the first was acted on.
	<-checker.asked
	if err := context.Cause(sb.Context()); err != nil {
		t.Errorf("bob's stream, opened during the check, ended: %v", err)
	}
	if err := sa.Context().Err(); err != nil {
		t.Errorf("ann's live stream ended: %v", err)
	}
	checker.release <- map[[32]byte]bool{ann: true, bob: true}
}

// rechecking is a registry re-checking with checker every millisecond
// until the test ends.
func rechecking(t *testing.T, checker Checker) *Registry {
	t.Helper()
	r := New(Config{Checker: checker, RecheckInterval: time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}
