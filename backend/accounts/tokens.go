package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Token kinds.
const (
	KindAPI     = "api"     // made by a user for the CLI, kubectl or scripts
	KindSession = "session" // made at console login; not listed by ListTokens
	// KindNode is the credential of one node agent: it names its node,
	// expires, and is replaced at rotation (nodetokens.go).
	KindNode = "node"
	// KindBootstrap lets one node join, once: it names the node, expires,
	// and a join consumes it (nodetokens.go).
	KindBootstrap = "bootstrap"
)

const (
	// tokenPrefix makes Berth secrets recognisable, to people and to
	// secret scanners, and lets garbage be refused without a query.
	tokenPrefix = "bt_"
	secretBytes = 32

	// tokenCacheTTL is how long a successful authentication is reused
	// without asking the database, and so how long a token revoked by
	// another process may still work here.
	tokenCacheTTL = 10 * time.Second
	// lastUsedGranularity spares a write per request: last_used_at is
	// only moved when it is older than this.
	lastUsedGranularity = time.Minute
)

// Token describes a credential; its secret is shown once, by CreateToken,
// and stored only as a SHA-256 hash.
type Token struct {
	ID     int64
	UserID int64
	Name   string // unique among the user's live tokens
	Kind   string // KindAPI, KindSession, KindNode or KindBootstrap
	// NodeName is the node a KindNode credential belongs to, or the one a
	// KindBootstrap token may join as; "" for other kinds.
	NodeName string
	// CreatedAt is immutable.
	CreatedAt time.Time
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt time.Time
	// LastUsed is nil until the first use; it lags by up to a minute.
	LastUsed *time.Time
}

// authResult is what the token cache holds.
type authResult struct {
	user  User
	token Token
}

const tokenColumns = "t.id, t.user_id, t.name, t.kind, t.created_at, t.expires_at, t.last_used_at, t.node_name"

func scanToken(row pgx.Row, extra ...any) (Token, error) {
	var t Token
	var expires *time.Time
	var nodeName *string
	dest := append([]any{&t.ID, &t.UserID, &t.Name, &t.Kind, &t.CreatedAt, &expires, &t.LastUsed, &nodeName}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Token{}, err
	}
	if expires != nil {
		t.ExpiresAt = *expires
	}
	if nodeName != nil {
		t.NodeName = *nodeName
	}
	return t, nil
}

// validKind holds for the kinds CreateToken makes; node credentials and
// bootstrap tokens name a node and come from nodetokens.go.
func validKind(kind string) bool {
	return kind == KindAPI || kind == KindSession
}

// CreateToken makes a token for a user and returns its secret, which is
// not stored and cannot be shown again. ttl zero means no expiry. It
// returns ErrInvalid for a bad name, kind or negative ttl, ErrNotFound for
// an unknown user and ErrAlreadyExists if the user has a live token of that
// name (an expired one is revoked to free its name).
func (s *Store) CreateToken(ctx context.Context, userID int64, name, kind string, ttl time.Duration) (string, Token, error) {
	if err := validateTokenName(name); err != nil {
		return "", Token{}, err
	}
	if !validKind(kind) {
		return "", Token{}, fmt.Errorf("token kind %q: must be %q or %q: %w", kind, KindAPI, KindSession, ErrInvalid)
	}
	if ttl < 0 {
		return "", Token{}, fmt.Errorf("token %q: negative lifetime %v: %w", name, ttl, ErrInvalid)
	}
	var secret string
	var tok Token
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		secret, tok, err = insertToken(ctx, tx, newToken{userID: userID, name: name, kind: kind, ttl: ttl})
		return err
	})
	if err != nil {
		return "", Token{}, err
	}
	s.logger.Debug("created token", "user_id", userID, "token", name, "kind", kind)
	return secret, tok, nil
}

// newToken is what insertToken stores.
type newToken struct {
	userID     int64
	name, kind string
	nodeName   string        // "" for none
	ttl        time.Duration // zero: no expiry
}

// insertToken stores a token with a fresh secret in tx and returns the
// secret. A live token of the same user and name that has expired is
// revoked first, to free its name.
func insertToken(ctx context.Context, tx pgx.Tx, n newToken) (string, Token, error) {
	raw := make([]byte, secretBytes)
	_, _ = rand.Read(raw) // never fails; see crypto/rand.Read
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	hash := sha256.Sum256([]byte(secret))
	var lifetime *time.Duration
	if n.ttl > 0 {
		lifetime = &n.ttl
	}
	var nodeName *string
	if n.nodeName != "" {
		nodeName = &n.nodeName
	}
	_, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = now()
		WHERE user_id = $1 AND name = $2 AND revoked_at IS NULL AND expires_at <= now()`, n.userID, n.name)
	if err != nil {
		return "", Token{}, fmt.Errorf("create token %q: %w", n.name, err)
	}
	tok, err := scanToken(tx.QueryRow(ctx, `INSERT INTO tokens AS t (user_id, name, kind, secret_hash, expires_at, node_name)
		VALUES ($1, $2, $3, $4, now() + $5::interval, $6) RETURNING `+tokenColumns,
		n.userID, n.name, n.kind, hash[:], lifetime, nodeName))
	var pgErr *pgconn.PgError
	switch {
	case isUniqueViolation(err):
		return "", Token{}, fmt.Errorf("token %q: %w", n.name, ErrAlreadyExists)
	case errors.As(err, &pgErr) && pgErr.Code == "23503": // foreign_key_violation
		return "", Token{}, fmt.Errorf("user %d: %w", n.userID, ErrNotFound)
	case err != nil:
		return "", Token{}, fmt.Errorf("create token %q: %w", n.name, err)
	}
	return secret, tok, nil
}

// AuthenticateToken returns the token a secret belongs to and its user, or
// ErrUnauthenticated if the secret is unknown, expired or revoked.
func (s *Store) AuthenticateToken(ctx context.Context, secret string) (User, Token, error) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return User{}, Token{}, fmt.Errorf("malformed token: %w", ErrUnauthenticated)
	}
	key := sha256.Sum256([]byte(secret))
	if r, ok := s.tokens.get(key); ok {
		return r.user, r.token, nil
	}
	gen := s.tokens.generation()
	var u User
	var dbNow time.Time
	tok, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+`, u.id, u.name, u.cluster_admin, u.created_at, now()
		FROM tokens t JOIN users u ON u.id = t.user_id
		WHERE t.secret_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())`, key[:]),
		&u.ID, &u.Name, &u.ClusterAdmin, &u.CreatedAt, &dbNow)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, Token{}, fmt.Errorf("unknown, expired or revoked token: %w", ErrUnauthenticated)
	}
	if err != nil {
		return User{}, Token{}, unavailable("authenticate token", err)
	}
	if tok.LastUsed == nil || dbNow.Sub(*tok.LastUsed) >= lastUsedGranularity {
		s.touchToken(ctx, &tok)
	}
	s.tokens.put(key, authResult{user: u, token: tok}, gen, tok.ExpiresAt)
	return u, tok, nil
}

// touchToken records a use. A failure is logged, not returned: the token
// is valid all the same.
func (s *Store) touchToken(ctx context.Context, tok *Token) {
	var at time.Time
	err := s.pool.QueryRow(ctx, `UPDATE tokens SET last_used_at = now() WHERE id = $1 RETURNING last_used_at`, tok.ID).Scan(&at)
	if err != nil {
		s.logger.Warn("record token use", "token_id", tok.ID, "error", err)
		return
	}
	tok.LastUsed = &at
}

// ListTokens returns a user's live API and node tokens by name, expired
// ones included; sessions are left out.
func (s *Store) ListTokens(ctx context.Context, userID int64) ([]Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens t
		WHERE t.user_id = $1 AND t.revoked_at IS NULL AND t.kind <> $2 ORDER BY t.name`, userID, KindSession)
	if err != nil {
		return nil, fmt.Errorf("list tokens of user %d: %w", userID, err)
	}
	tokens, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Token, error) { return scanToken(r) })
	if err != nil {
		return nil, fmt.Errorf("list tokens of user %d: %w", userID, err)
	}
	return tokens, nil
}

// RevokeToken revokes a user's live token by name, or returns ErrNotFound.
func (s *Store) RevokeToken(ctx context.Context, userID int64, name string) error {
	var hash []byte
	err := s.pool.QueryRow(ctx, `UPDATE tokens SET revoked_at = now()
		WHERE user_id = $1 AND name = $2 AND revoked_at IS NULL RETURNING secret_hash`, userID, name).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("token %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("revoke token %q: %w", name, err)
	}
	s.forgetToken([32]byte(hash))
	s.logger.Info("revoked token", "user_id", userID, "token", name)
	return nil
}

// RevokeTokenBySecret revokes the token a secret belongs to, as at logout.
// It returns ErrUnauthenticated if the secret is unknown or already revoked.
func (s *Store) RevokeTokenBySecret(ctx context.Context, secret string) error {
	key := sha256.Sum256([]byte(secret))
	tag, err := s.pool.Exec(ctx, `UPDATE tokens SET revoked_at = now() WHERE secret_hash = $1 AND revoked_at IS NULL`, key[:])
	// Invalidated after the update, never before: see ttlCache.put.
	s.forgetToken(key)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("unknown or revoked token: %w", ErrUnauthenticated)
	}
	return nil
}

// forgetToken drops a revoked token from the cache and tells OnRevoke's
// hooks.
func (s *Store) forgetToken(key [32]byte) {
	s.tokens.invalidate(func(k [32]byte, _ authResult) bool { return k == key })
	s.notifyRevoked(Revocation{Credentials: [][32]byte{key}})
}
