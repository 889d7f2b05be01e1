package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Node trust, as Kubernetes has it:
//
//	admin ─► CreateBootstrapToken(name, node N, ttl ≤ MaxBootstrapTTL)
//	agent ─► JoinNode(bootstrap)     consumes the bootstrap token (once),
//	                                 revokes N's credentials, issues N's own
//	agent ─► RotateNodeCredential    before expiry: revokes the presented
//	                                 credential, issues its successor
//
// A credential that expired cannot rotate: the node needs a new bootstrap
// token. Joins and rotations of one node are serialised by a transaction
// lock on its name, so that a node never holds two live credentials.
const (
	DefaultBootstrapTTL = time.Hour
	// MaxBootstrapTTL bounds how long a bootstrap token may wait for its
	// node.
	MaxBootstrapTTL = 7 * 24 * time.Hour
	// DefaultNodeCredentialTTL is the life of a node's credential; agents
	// rotate it well before.
	DefaultNodeCredentialTTL = 24 * time.Hour
)

// nodeCredentialName names a node's credential among its owner's tokens;
// the colons keep it apart from every name a user may choose.
func nodeCredentialName(node string) string { return "system:node:" + node }

func validateNodeName(name string) error {
	if len(name) > 253 || !dnsSubdomain.MatchString(name) {
		return fmt.Errorf("node name %q: must be at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit: %w", name, ErrInvalid)
	}
	return nil
}

// CreateBootstrapToken makes a token that lets one node join as nodeName,
// once, within ttl (zero: DefaultBootstrapTTL). It returns ErrInvalid for
// a bad name or node name or a ttl that is negative or past
// MaxBootstrapTTL, ErrNotFound for an unknown user and ErrAlreadyExists if
// the user has a live token of that name.
func (s *Store) CreateBootstrapToken(ctx context.Context, userID int64, name, nodeName string, ttl time.Duration) (string, Token, error) {
	if err := validateTokenName(name); err != nil {
		return "", Token{}, err
	}
	if err := validateNodeName(nodeName); err != nil {
		return "", Token{}, err
	}
	if ttl == 0 {
		ttl = DefaultBootstrapTTL
	}
	if ttl < 0 || ttl > MaxBootstrapTTL {
		return "", Token{}, fmt.Errorf("bootstrap token %q: lifetime %v: must be positive and at most %v: %w", name, ttl, MaxBootstrapTTL, ErrInvalid)
	}
	var secret string
	var tok Token
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		secret, tok, err = insertToken(ctx, tx, newToken{userID: userID, name: name, kind: KindBootstrap, nodeName: nodeName, ttl: ttl})
		return err
	})
	if err != nil {
		return "", Token{}, err
	}
	s.logger.Info("created bootstrap token", "user_id", userID, "token", name, "node", nodeName, "expires_at", tok.ExpiresAt)
	return secret, tok, nil
}

// JoinNode consumes the bootstrap token and issues the node's own
// credential, owned by the token's user, for ttl; every other credential of
// the node is revoked. It returns ErrUnauthenticated if the token is no
// longer live (used by another join, expired or revoked meanwhile), and
// ErrInvalid if it is not a bootstrap token.
func (s *Store) JoinNode(ctx context.Context, bootstrap Token, ttl time.Duration) (string, Token, error) {
	if bootstrap.Kind != KindBootstrap || bootstrap.NodeName == "" {
		return "", Token{}, fmt.Errorf("token %q is not a bootstrap token: %w", bootstrap.Name, ErrInvalid)
	}
	return s.replaceNodeCredential(ctx, bootstrap, ttl, "joined")
}

// RotateNodeCredential replaces the node credential cur with a new one for
// ttl. It returns ErrUnauthenticated if cur is no longer live (expired,
// revoked, or already rotated), and ErrInvalid if it is not a node
// credential.
func (s *Store) RotateNodeCredential(ctx context.Context, cur Token, ttl time.Duration) (string, Token, error) {
	if cur.Kind != KindNode || cur.NodeName == "" {
		return "", Token{}, fmt.Errorf("token %q is not a node credential: %w", cur.Name, ErrInvalid)
	}
	return s.replaceNodeCredential(ctx, cur, ttl, "rotated")
}

// replaceNodeCredential revokes the presented token, if still live, and
// every live credential of its node, and issues the node a new one.
func (s *Store) replaceNodeCredential(ctx context.Context, presented Token, ttl time.Duration, what string) (string, Token, error) {
	if ttl <= 0 {
		return "", Token{}, fmt.Errorf("node credential lifetime %v: must be positive: %w", ttl, ErrInvalid)
	}
	node := presented.NodeName
	var secret string
	var tok Token
	var revoked [][]byte
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		revoked = nil
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('berth-node:' || $1))`, node); err != nil {
			return err
		}
		var hash []byte
		err := tx.QueryRow(ctx, `UPDATE tokens SET revoked_at = now(), last_used_at = now()
			WHERE id = $1 AND kind = $2 AND node_name = $3 AND revoked_at IS NULL AND expires_at > now()
			RETURNING secret_hash`, presented.ID, presented.Kind, node).Scan(&hash)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%s token %q is used up, expired or revoked: %w", presented.Kind, presented.Name, ErrUnauthenticated)
		}
		if err != nil {
			return err
		}
		revoked = append(revoked, hash)
		rows, err := tx.Query(ctx, `UPDATE tokens SET revoked_at = now()
			WHERE kind = $1 AND node_name = $2 AND revoked_at IS NULL RETURNING secret_hash`, KindNode, node)
		if err != nil {
			return err
		}
		others, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return err
		}
		revoked = append(revoked, others...)
		secret, tok, err = insertToken(ctx, tx, newToken{userID: presented.UserID, name: nodeCredentialName(node), kind: KindNode, nodeName: node, ttl: ttl})
		return err
	})
	// Forgotten after the commit, never before: see ttlCache.put.
	for _, h := range revoked {
		s.forgetToken([32]byte(h))
	}
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrNotFound) {
			return "", Token{}, err
		}
		return "", Token{}, fmt.Errorf("node %q: %w", node, err)
	}
	s.logger.Info("node credential "+what, "node", node, "user_id", presented.UserID, "expires_at", tok.ExpiresAt)
	return secret, tok, nil
}
