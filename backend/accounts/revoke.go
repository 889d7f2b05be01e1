package accounts

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Revocation says which credentials stopped being valid through this
// Store: the server ends the streams (watches, log follows, exec
// sessions, console sockets) opened with them.
type Revocation struct {
	// Credentials are the SHA-256 hashes of the revoked secrets.
	Credentials [][32]byte
	// UserID, when not zero, is a user whose every credential went (the
	// user was deleted).
	UserID int64
}

// OnRevoke adds fn to what is called, after the database has it, with
// every revocation made through this Store: a token revoked, a logout, the
// sessions a password change ends, a user deleted. Revocations made by
// other processes are not seen here; LiveCredentials tells of them.
func (s *Store) OnRevoke(fn func(Revocation)) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	s.onRevoke = append(s.onRevoke, fn)
}

func (s *Store) notifyRevoked(r Revocation) {
	s.hooksMu.Lock()
	hooks := s.onRevoke
	s.hooksMu.Unlock()
	for _, fn := range hooks {
		fn(r)
	}
}

// LiveCredentials returns which of the credentials (SHA-256 hashes of
// secrets) are still valid: known, not revoked, not expired, and their
// user not deleted. It asks the database, never the cache: it is how a
// master learns of revocations made by another.
func (s *Store) LiveCredentials(ctx context.Context, creds [][32]byte) (map[[32]byte]bool, error) {
	hashes := make([][]byte, len(creds))
	for i := range creds {
		hashes[i] = creds[i][:]
	}
	rows, err := s.pool.Query(ctx, `SELECT t.secret_hash FROM tokens t JOIN users u ON u.id = t.user_id
		WHERE t.secret_hash = ANY($1) AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())`, hashes)
	if err != nil {
		return nil, fmt.Errorf("check %d credentials: %w", len(creds), err)
	}
	live, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("check %d credentials: %w", len(creds), err)
	}
	out := make(map[[32]byte]bool, len(live))
	for _, h := range live {
		out[[32]byte(h)] = true
	}
	return out, nil
}
