package accounts

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// User is an account. Name is immutable.
type User struct {
	ID           int64
	Name         string
	ClusterAdmin bool
	CreatedAt    time.Time
}

const userColumns = "id, name, cluster_admin, created_at"

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Name, &u.ClusterAdmin, &u.CreatedAt)
	return u, err
}

// CreateUser adds a user. It returns ErrInvalid if name is not a DNS-1123
// label or password is shorter than 8 characters, and ErrAlreadyExists if
// the name is taken.
func (s *Store) CreateUser(ctx context.Context, name, password string, clusterAdmin bool) (User, error) {
	if err := validateLabel("user", name); err != nil {
		return User{}, err
	}
	if err := validatePassword(password); err != nil {
		return User{}, err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	u, err := scanUser(s.pool.QueryRow(ctx,
		`INSERT INTO users (name, password_hash, cluster_admin) VALUES ($1, $2, $3) RETURNING `+userColumns,
		name, hash, clusterAdmin))
	if isUniqueViolation(err) {
		return User{}, fmt.Errorf("user %q: %w", name, ErrAlreadyExists)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user %q: %w", name, err)
	}
	s.logger.Info("created user", "user", name, "cluster_admin", clusterAdmin)
	return u, nil
}

// GetUser returns the user called name, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %q: %w", name, err)
	}
	return u, nil
}

// ListUsers returns all users by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// UserCount returns how many users exist; zero means the cluster still
// needs its first administrator.
func (s *Store) UserCount(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// DeleteUser removes a user with their tokens and memberships, or returns
// ErrNotFound.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	var id int64
	err := s.pool.QueryRow(ctx, `DELETE FROM users WHERE name = $1 RETURNING id`, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete user %q: %w", name, err)
	}
	s.forgetUser(id)
	s.logger.Info("deleted user", "user", name)
	return nil
}

// SetPassword replaces a user's password and ends their login sessions
// (console and CLI logins) but the one whose secret is keep ("" ends them
// all): whoever holds a session made with the old password is out. API
// tokens stay valid: their owner revokes them one by one. It returns how
// many sessions ended, ErrInvalid for a password that is too short or too
// long and ErrNotFound for an unknown user.
func (s *Store) SetPassword(ctx context.Context, name, password, keep string) (int, error) {
	if err := validatePassword(password); err != nil {
		return 0, err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return 0, err
	}
	var keepHash []byte
	if keep != "" {
		h := sha256.Sum256([]byte(keep))
		keepHash = h[:]
	}
	var ended [][32]byte
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `UPDATE users SET password_hash = $2 WHERE name = $1 RETURNING id`, name, hash).Scan(&id); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `UPDATE tokens SET revoked_at = now()
			WHERE user_id = $1 AND kind = $2 AND revoked_at IS NULL AND ($3::bytea IS NULL OR secret_hash <> $3)
			RETURNING secret_hash`, id, KindSession, keepHash)
		if err != nil {
			return err
		}
		hashes, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		for _, h := range hashes {
			ended = append(ended, [32]byte(h))
		}
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("set password of %q: %w", name, err)
	}
	if len(ended) > 0 {
		gone := make(map[[32]byte]bool, len(ended))
		for _, h := range ended {
			gone[h] = true
		}
		s.tokens.invalidate(func(k [32]byte, _ authResult) bool { return gone[k] })
		s.notifyRevoked(Revocation{Credentials: ended})
	}
	s.logger.Info("changed password", "user", name, "sessions_ended", len(ended))
	return len(ended), nil
}

// CheckPassword returns the user if password is theirs, and
// ErrInvalidCredentials if it is not or if there is no such user; both take
// the same time.
func (s *Store) CheckPassword(ctx context.Context, name, password string) (User, error) {
	var hash string
	var u User
	err := s.pool.QueryRow(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE name = $1`, name).
		Scan(&u.ID, &u.Name, &u.ClusterAdmin, &u.CreatedAt, &hash)
	known := err == nil
	if errors.Is(err, pgx.ErrNoRows) {
		hash = dummyHash()
	} else if err != nil {
		return User{}, fmt.Errorf("check password of %q: %w", name, err)
	}
	var ok bool
	var verr error
	if err := s.withHashSlot(ctx, func() { ok, verr = verifyPassword(hash, password) }); err != nil {
		return User{}, fmt.Errorf("check password of %q: %w", name, err)
	}
	if verr != nil {
		return User{}, fmt.Errorf("check password of %q: %w", name, verr)
	}
	if !known || !ok {
		return User{}, fmt.Errorf("user %q: %w", name, ErrInvalidCredentials)
	}
	return u, nil
}

func (s *Store) hash(ctx context.Context, password string) (string, error) {
	var hash string
	var herr error
	if err := s.withHashSlot(ctx, func() { hash, herr = hashPassword(password) }); err != nil {
		return "", err
	}
	if herr != nil {
		return "", fmt.Errorf("hash password: %w", herr)
	}
	return hash, nil
}

// forgetUser drops every cached fact about a deleted user and tells
// OnRevoke's hooks.
func (s *Store) forgetUser(id int64) {
	s.tokens.invalidate(func(_ [32]byte, r authResult) bool { return r.user.ID == id })
	s.roles.invalidate(func(k roleKey, _ string) bool { return k.userID == id })
	s.notifyRevoked(Revocation{UserID: id})
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
