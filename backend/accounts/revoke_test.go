package accounts

import (
	"crypto/sha256"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// ownStore opens a Store of the test's own on the shared database, so that
// the hooks it adds see only what the test does.
func ownStore(t *testing.T) *Store {
	t.Helper()
	testStore(t)
	s, err := Open(t.Context(), sharedURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// recordRevocations adds a hook to s and returns what it has been told.
func recordRevocations(s *Store) func() []Revocation {
	var mu sync.Mutex
	var got []Revocation
	s.OnRevoke(func(r Revocation) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r)
	})
	return func() []Revocation {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

func sameRevocations(a, b []Revocation) bool {
	return slices.EqualFunc(a, b, func(x, y Revocation) bool {
		return x.UserID == y.UserID && len(x.Credentials) == len(y.Credentials) &&
			!slices.ContainsFunc(x.Credentials, func(c [32]byte) bool { return !slices.Contains(y.Credentials, c) })
	})
}

func TestRevocationsAreTold(t *testing.T) {
	s := ownStore(t)
	ctx := t.Context()
	u := mustCreateUser(t, s, "revoked-user")
	gone := mustCreateUser(t, s, "deleted-user")
	revoked := recordRevocations(s)
	byName, _, err := s.CreateToken(ctx, u.ID, "by-name", KindAPI, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bySecret, _, err := s.CreateToken(ctx, u.ID, "session-1", KindSession, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	wantErr(t, "RevokeToken", s.RevokeToken(ctx, u.ID, "by-name"), nil)
	wantErr(t, "RevokeTokenBySecret", s.RevokeTokenBySecret(ctx, bySecret), nil)
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, gone.Name), nil)
	want := []Revocation{
		{Credentials: [][32]byte{sha256.Sum256([]byte(byName))}},
		{Credentials: [][32]byte{sha256.Sum256([]byte(bySecret))}},
		{UserID: gone.ID},
	}
	if got := revoked(); !sameRevocations(got, want) {
		t.Errorf("revocations told %+v, want %+v", got, want)
	}
}

func TestLiveCredentials(t *testing.T) {
	s := testStore(t)
	ctx := t.Context()
	u := mustCreateUser(t, s, "live-creds")
	gone := mustCreateUser(t, s, "live-creds-gone")
	mint := func(userID int64, name string, ttl time.Duration) [32]byte {
		sec, _, err := s.CreateToken(ctx, userID, name, KindAPI, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256([]byte(sec))
	}
	live, revoked, expired, ofDeleted := mint(u.ID, "live", time.Hour), mint(u.ID, "revoked", 0), mint(u.ID, "expired", time.Hour), mint(gone.ID, "t", 0)
	unknown := sha256.Sum256([]byte("bt_unknown"))
	wantErr(t, "RevokeToken", s.RevokeToken(ctx, u.ID, "revoked"), nil)
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, gone.Name), nil)
	if _, err := s.pool.Exec(ctx, `UPDATE tokens SET expires_at = now() - interval '1 second' WHERE secret_hash = $1`, expired[:]); err != nil {
		t.Fatal(err)
	}

	got, err := s.LiveCredentials(ctx, [][32]byte{live, revoked, expired, ofDeleted, unknown})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[live] {
		t.Errorf("LiveCredentials = %v, want only the live token", got)
	}
}
