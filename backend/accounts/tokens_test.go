package accounts

import (
	"strings"
	"testing"
	"time"
)

func TestCreateToken(t *testing.T) {
	s := testStore(t)
	u := mustCreateUser(t, s, "token-maker")
	tests := []struct {
		name   string
		userID int64
		token  string
		kind   string
		ttl    time.Duration
		want   error
	}{
		{"api", u.ID, "laptop", KindAPI, 0, nil},
		{"session", u.ID, "session-1", KindSession, time.Hour, nil},
		{"node credential (from JoinNode only)", u.ID, "node.worker-1", KindNode, 0, ErrInvalid},
		{"bootstrap (from CreateBootstrapToken only)", u.ID, "join-1", KindBootstrap, time.Hour, ErrInvalid},
		{"duplicate name", u.ID, "laptop", KindAPI, 0, ErrAlreadyExists},
		{"bad name", u.ID, "Laptop", KindAPI, 0, ErrInvalid},
		{"empty name", u.ID, "", KindAPI, 0, ErrInvalid},
		{"bad kind", u.ID, "ci", "robot", 0, ErrInvalid},
		{"negative ttl", u.ID, "ci", KindAPI, -time.Second, ErrInvalid},
		{"unknown user", 1 << 40, "ci", KindAPI, 0, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret, tok, err := s.CreateToken(t.Context(), tt.userID, tt.token, tt.kind, tt.ttl)
			wantErr(t, "CreateToken", err, tt.want)
			if tt.want != nil {
				return
			}
			if !strings.HasPrefix(secret, "bt_") || len(secret) != len("bt_")+43 {
				t.Errorf("secret %q: want bt_ and 43 base64url characters", secret)
			}
			if tok.UserID != tt.userID || tok.Name != tt.token || tok.Kind != tt.kind || tok.LastUsed != nil {
				t.Errorf("token %+v", tok)
			}
			if got := !tok.ExpiresAt.IsZero(); got != (tt.ttl > 0) {
				t.Errorf("ExpiresAt %v with ttl %v", tok.ExpiresAt, tt.ttl)
			}
			var stored []byte
			if err := s.pool.QueryRow(t.Context(), `SELECT secret_hash FROM tokens WHERE id = $1`, tok.ID).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if len(stored) != 32 || strings.Contains(string(stored), secret[3:]) {
				t.Errorf("stored %x: want a SHA-256, not the secret", stored)
			}
		})
	}
}

func TestAuthenticateToken(t *testing.T) {
	s := testStore(t)
	ctx := t.Context()
	u := mustCreateUser(t, s, "token-user")
	live, _, err := s.CreateToken(ctx, u.ID, "live", KindAPI, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := s.CreateToken(ctx, u.ID, "expired", KindAPI, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	revoked, _, err := s.CreateToken(ctx, u.ID, "revoked", KindAPI, 0)
	if err != nil {
		t.Fatal(err)
	}
	loggedOut, _, err := s.CreateToken(ctx, u.ID, "logged-out", KindSession, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Authenticate before revoking, so that revocation must also reach the cache.
	for _, secret := range []string{revoked, loggedOut} {
		if _, _, err := s.AuthenticateToken(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "RevokeToken", s.RevokeToken(ctx, u.ID, "revoked"), nil)
	wantErr(t, "RevokeToken again", s.RevokeToken(ctx, u.ID, "revoked"), ErrNotFound)
	wantErr(t, "RevokeTokenBySecret", s.RevokeTokenBySecret(ctx, loggedOut), nil)
	wantErr(t, "RevokeTokenBySecret again", s.RevokeTokenBySecret(ctx, loggedOut), ErrUnauthenticated)
	time.Sleep(5 * time.Millisecond)

	tests := []struct {
		name   string
		secret string
		want   error
	}{
		{"live", live, nil},
		{"live again, from the cache", live, nil},
		{"expired", expired, ErrUnauthenticated},
		{"revoked by name", revoked, ErrUnauthenticated},
		{"revoked by secret", loggedOut, ErrUnauthenticated},
		{"unknown", "bt_" + strings.Repeat("A", 43), ErrUnauthenticated},
		{"not a berth token", "hunter2", ErrUnauthenticated},
		{"empty", "", ErrUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotUser, tok, err := s.AuthenticateToken(t.Context(), tt.secret)
			wantErr(t, "AuthenticateToken", err, tt.want)
			if tt.want != nil {
				return
			}
			if gotUser != u || tok.Name != "live" || tok.LastUsed == nil {
				t.Errorf("AuthenticateToken = %+v, %+v", gotUser, tok)
			}
		})
	}

	t.Run("expired name can be reused", func(t *testing.T) {
		secret, _, err := s.CreateToken(ctx, u.ID, "expired", KindAPI, 0)
		wantErr(t, "CreateToken", err, nil)
		_, _, err = s.AuthenticateToken(ctx, secret)
		wantErr(t, "AuthenticateToken", err, nil)
	})
	t.Run("deleted user", func(t *testing.T) {
		gone := mustCreateUser(t, s, "token-user-gone")
		secret, _, err := s.CreateToken(ctx, gone.ID, "t", KindAPI, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.AuthenticateToken(ctx, secret); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "DeleteUser", s.DeleteUser(ctx, gone.Name), nil)
		_, _, err = s.AuthenticateToken(ctx, secret)
		wantErr(t, "AuthenticateToken", err, ErrUnauthenticated)
	})
}

func TestTokenLastUsed(t *testing.T) {
	s := testStore(t)
	u := mustCreateUser(t, s, "last-used")
	tests := []struct {
		name      string
		lastUsed  string // SQL expression
		wantMoved bool
	}{
		{"never used", "NULL", true},
		{"used two minutes ago", "now() - interval '2 minutes'", true},
		{"used ten seconds ago", "now() - interval '10 seconds'", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			secret, tok, err := s.CreateToken(ctx, u.ID, "t"+string(rune('a'+i)), KindAPI, 0)
			if err != nil {
				t.Fatal(err)
			}
			var before *time.Time
			if err := s.pool.QueryRow(ctx, `UPDATE tokens SET last_used_at = `+tt.lastUsed+` WHERE id = $1 RETURNING last_used_at`, tok.ID).Scan(&before); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.AuthenticateToken(ctx, secret); err != nil {
				t.Fatal(err)
			}
			var after *time.Time
			if err := s.pool.QueryRow(ctx, `SELECT last_used_at FROM tokens WHERE id = $1`, tok.ID).Scan(&after); err != nil {
				t.Fatal(err)
			}
			moved := after != nil && (before == nil || after.After(*before))
			if moved != tt.wantMoved {
				t.Errorf("last_used_at %v -> %v; moved %v, want %v", before, after, moved, tt.wantMoved)
			}
		})
	}
}

func TestListTokens(t *testing.T) {
	s := testStore(t)
	ctx := t.Context()
	u := mustCreateUser(t, s, "lister")
	for _, tok := range []struct{ name, kind string }{
		{"b-api", KindAPI}, {"a-session", KindSession}, {"c-revoked", KindAPI},
	} {
		if _, _, err := s.CreateToken(ctx, u.ID, tok.name, tok.kind, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.CreateBootstrapToken(ctx, u.ID, "a-node", "lister-node", 0); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RevokeToken", s.RevokeToken(ctx, u.ID, "c-revoked"), nil)

	tokens, err := s.ListTokens(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tok := range tokens {
		names = append(names, tok.Name)
	}
	if got := strings.Join(names, ","); got != "a-node,b-api" {
		t.Errorf("ListTokens = %s, want a-node,b-api", got)
	}
}

func BenchmarkAuthenticateTokenCached(b *testing.B) {
	if sharedStore == nil {
		b.Skip("needs a real PostgreSQL; skipped in -short mode")
	}
	s := sharedStore
	u := mustCreateUser(b, s, "bench-user")
	secret, _, err := s.CreateToken(b.Context(), u.ID, "bench", KindAPI, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.AuthenticateToken(b.Context(), secret); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
