package accounts

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
)

func TestCreateBootstrapToken(t *testing.T) {
	s := testStore(t)
	u := mustCreateUser(t, s, "bootstrapper")
	tests := []struct {
		name, token, node string
		ttl               time.Duration
		want              error
		wantTTL           time.Duration
	}{
		{"default lifetime", "join-a", "node-a", 0, nil, DefaultBootstrapTTL},
		{"a day", "join-b", "node-b.rack1", 24 * time.Hour, nil, 24 * time.Hour},
		{"the maximum", "join-c", "node-c", MaxBootstrapTTL, nil, MaxBootstrapTTL},
		{"past the maximum", "join-d", "node-d", MaxBootstrapTTL + time.Second, ErrInvalid, 0},
		{"266 years", "join-e", "node-e", 266 * 365 * 24 * time.Hour, ErrInvalid, 0},
		{"negative", "join-f", "node-f", -time.Hour, ErrInvalid, 0},
		{"bad node name", "join-g", "Node_G", 0, ErrInvalid, 0},
		{"no node name", "join-h", "", 0, ErrInvalid, 0},
		{"bad token name", "Join", "node-i", 0, ErrInvalid, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			secret, tok, err := s.CreateBootstrapToken(t.Context(), u.ID, tt.token, tt.node, tt.ttl)
			wantErr(t, "CreateBootstrapToken", err, tt.want)
			if tt.want != nil {
				return
			}
			if tok.Kind != KindBootstrap || tok.NodeName != tt.node || secret == "" {
				t.Fatalf("token %+v", tok)
			}
			if life := tok.ExpiresAt.Sub(before); life < tt.wantTTL-time.Minute || life > tt.wantTTL+time.Minute {
				t.Errorf("expires in %v, want %v", life, tt.wantTTL)
			}
			_, authed, err := s.AuthenticateToken(t.Context(), secret)
			if err != nil || authed.NodeName != tt.node || authed.Kind != KindBootstrap {
				t.Errorf("AuthenticateToken = %+v, %v", authed, err)
			}
		})
	}
}

func bootstrapFor(t *testing.T, s *Store, userID int64, name, node string, ttl time.Duration) (string, Token) {
	t.Helper()
	secret, _, err := s.CreateBootstrapToken(t.Context(), userID, name, node, ttl)
	if err != nil {
		t.Fatal(err)
	}
	// What the API does: authenticate, then hand the token over.
	_, tok, err := s.AuthenticateToken(t.Context(), secret)
	if err != nil {
		t.Fatal(err)
	}
	return secret, tok
}

func TestJoinNodeConsumesTheBootstrapToken(t *testing.T) {
	s := testStore(t)
	ctx := t.Context()
	u := mustCreateUser(t, s, "joiner")
	bootSecret, boot := bootstrapFor(t, s, u.ID, "join-once", "worker-1", 0)

	secret, cred, err := s.JoinNode(ctx, boot, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if cred.Kind != KindNode || cred.NodeName != "worker-1" || cred.UserID != u.ID || cred.ExpiresAt.IsZero() {
		t.Fatalf("credential %+v", cred)
	}
	if _, authed, err := s.AuthenticateToken(ctx, secret); err != nil || authed.NodeName != "worker-1" {
		t.Fatalf("the credential: %+v, %v", authed, err)
	}
	// Used once, the bootstrap token is gone (also from the cache that the
	// authentication above filled).
	_, _, err = s.AuthenticateToken(ctx, bootSecret)
	wantErr(t, "AuthenticateToken(used bootstrap token)", err, ErrUnauthenticated)
	_, _, err = s.JoinNode(ctx, boot, time.Hour)
	wantErr(t, "JoinNode(reused)", err, ErrUnauthenticated)

	// A second join (a new token) replaces the node's credential.
	_, boot2 := bootstrapFor(t, s, u.ID, "join-again", "worker-1", 0)
	secret2, _, err := s.JoinNode(ctx, boot2, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.AuthenticateToken(ctx, secret)
	wantErr(t, "AuthenticateToken(replaced credential)", err, ErrUnauthenticated)
	if _, _, err := s.AuthenticateToken(ctx, secret2); err != nil {
		t.Fatal(err)
	}

	// Only node and bootstrap tokens name nodes.
	_, _, err = s.JoinNode(ctx, Token{ID: cred.ID, Kind: KindNode, NodeName: "worker-1"}, time.Hour)
	wantErr(t, "JoinNode(node credential)", err, ErrInvalid)
}

func TestJoinNodeRacesWithOneToken(t *testing.T) {
	s := testStore(t)
	u := mustCreateUser(t, s, "racer")
	_, boot := bootstrapFor(t, s, u.ID, "join-race", "worker-race", 0)
	const joins = 8
	var wg sync.WaitGroup
	errs := make(chan error, joins)
	for range joins {
		wg.Go(func() {
			_, _, err := s.JoinNode(t.Context(), boot, time.Hour)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		default:
			wantErr(t, "JoinNode", err, ErrUnauthenticated)
		}
	}
	if won != 1 {
		t.Fatalf("%d joins with one bootstrap token succeeded, want 1", won)
	}
}

func TestExpiredTokensDoNotJoinOrRotate(t *testing.T) {
	s := testStore(t)
	ctx := t.Context()
	u := mustCreateUser(t, s, "expirer")
	_, boot := bootstrapFor(t, s, u.ID, "join-late", "worker-late", time.Hour)
	// Expired in the database, as an hour later: the cached authentication
	// is the API's concern, not the join's.
	if _, err := s.pool.Exec(ctx, `UPDATE tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, boot.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.JoinNode(ctx, boot, time.Hour)
	wantErr(t, "JoinNode(expired)", err, ErrUnauthenticated)

	_, boot = bootstrapFor(t, s, u.ID, "join-short", "worker-short", 0)
	secret, cred, err := s.JoinNode(ctx, boot, time.Microsecond)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.AuthenticateToken(ctx, secret)
	wantErr(t, "AuthenticateToken(expired credential)", err, ErrUnauthenticated)
	_, _, err = s.RotateNodeCredential(ctx, cred, time.Hour)
	wantErr(t, "RotateNodeCredential(expired)", err, ErrUnauthenticated)
}

func TestRotateNodeCredential(t *testing.T) {
	s := testStore(t)
	ctx := t.Context()
	u := mustCreateUser(t, s, "rotator")
	_, boot := bootstrapFor(t, s, u.ID, "join-rot", "worker-rot", 0)
	old, _, err := s.JoinNode(ctx, boot, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, cur, err := s.AuthenticateToken(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	fresh, next, err := s.RotateNodeCredential(ctx, cur, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if next.NodeName != "worker-rot" || next.Kind != KindNode || !next.ExpiresAt.After(cur.ExpiresAt) {
		t.Fatalf("rotated %+v from %+v", next, cur)
	}
	_, _, err = s.AuthenticateToken(ctx, old)
	wantErr(t, "AuthenticateToken(rotated away)", err, ErrUnauthenticated)
	if _, _, err := s.AuthenticateToken(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.RotateNodeCredential(ctx, cur, time.Hour)
	wantErr(t, "RotateNodeCredential(twice)", err, ErrUnauthenticated)
	_, _, err = s.RotateNodeCredential(ctx, boot, time.Hour)
	wantErr(t, "RotateNodeCredential(bootstrap token)", err, ErrInvalid)
}

// TestMigrationEndsOldNodeTrust upgrades a database of the old scheme: a
// node's credential (named node-NAME, never expiring) keeps its node and
// gets an end; an old bootstrap token, good for any node name forever, is
// revoked.
func TestMigrationEndsOldNodeTrust(t *testing.T) {
	testStore(t)
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, sharedURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("berth_migration_%d", os.Getpid())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)") })
	u, err := url.Parse(sharedURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO users (name, password_hash) VALUES ('admin', 'x');
		INSERT INTO tokens (user_id, name, kind, secret_hash) VALUES
			(1, 'node-w1', 'node', 'a'), (1, 'nodes', 'node', 'b'), (1, 'laptop', 'api', 'c')`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, `SELECT name, coalesce(node_name, ''), revoked_at IS NOT NULL,
		coalesce(expires_at < now() + interval '25 hours', false) FROM tokens ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name, node string
		var revoked, ends bool
		if err := rows.Scan(&name, &node, &revoked, &ends); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s node=%q revoked=%v ends=%v", name, node, revoked, ends))
	}
	want := []string{
		`laptop node="" revoked=false ends=false`,
		`node-w1 node="w1" revoked=false ends=true`,
		`nodes node="" revoked=true ends=false`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after the migration:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
