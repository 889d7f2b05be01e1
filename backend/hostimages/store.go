package hostimages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/hostimage"
)

// Store keeps definitions, revisions, builds and build logs in
// PostgreSQL. Its methods are safe for concurrent use; every error wraps
// an errdefs class.
type Store struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	events *broker
}

// Open connects to the database at url, whose schema the account store
// brought up to date (migrations are applied once, by accounts.Open), and
// listens for the notifications other masters send.
func Open(ctx context.Context, url string, logger *slog.Logger) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("host image database: %w", err)
	}
	cfg.MaxConns = 6
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("host image database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("host image database: %w", err)
	}
	logger = logger.With("component", "hostimages")
	s := &Store{pool: pool, logger: logger}
	s.events = newBroker(pool, logger)
	return s, nil
}

// Close stops listening and releases the connections.
func (s *Store) Close() {
	s.events.close()
	s.pool.Close()
}

// Definition is a host image definition as stored.
type Definition struct {
	Name     string
	UID      string
	Revision int64
	Treefile string
	Files    hostimage.Files
	// RebuildInterval: how often the trigger looks for package updates
	// (0: never).
	RebuildInterval time.Duration
	// Ref and Runner as of the last edit.
	Ref, Runner string
	Created     time.Time
	Updated     time.Time
	// Checked is when the trigger last compared the inputs (zero: never).
	Checked time.Time
}

// Revision is one edit of a definition.
type Revision struct {
	Revision int64
	Treefile string
	Files    hostimage.Files
	Author   string
	Created  time.Time
}

const definitionColumns = `name, uid, revision, treefile, files, rebuild_interval, ref, runner, created_at, updated_at, checked_at`

func scanDefinition(row pgx.Row) (Definition, error) {
	var d Definition
	var files []byte
	var interval int64
	var checked *time.Time
	err := row.Scan(&d.Name, &d.UID, &d.Revision, &d.Treefile, &files, &interval, &d.Ref, &d.Runner, &d.Created, &d.Updated, &checked)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(files, &d.Files); err != nil {
		return d, fmt.Errorf("definition %q: files: %w", d.Name, err)
	}
	d.RebuildInterval = time.Duration(interval) * time.Second
	if checked != nil {
		d.Checked = *checked
	}
	return d, nil
}

func notFound(what, name string) error {
	return errdefs.Newf(errdefs.ErrNotFound, "%s %q not found", what, name)
}

// CreateDefinition stores a new definition as its revision 1. It returns
// ErrAlreadyExists when the name is taken.
func (s *Store) CreateDefinition(ctx context.Context, d Definition, author string) (Definition, error) {
	files, err := json.Marshal(d.Files)
	if err != nil {
		return d, err
	}
	var out Definition
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		row := tx.QueryRow(ctx, `INSERT INTO hostimages (name, uid, revision, treefile, files, rebuild_interval, ref, runner)
			VALUES ($1, $2, 1, $3, $4, $5, $6, $7) RETURNING `+definitionColumns,
			d.Name, string(uuid.NewUUID()), d.Treefile, files, int64(d.RebuildInterval/time.Second), d.Ref, d.Runner)
		if out, err = scanDefinition(row); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO hostimage_revisions (hostimage, revision, treefile, files, author, created_at)
			VALUES ($1, 1, $2, $3, $4, $5)`, d.Name, d.Treefile, files, author, out.Created)
		return err
	})
	if isUniqueViolation(err) {
		return out, errdefs.Newf(errdefs.ErrAlreadyExists, "host image %q already exists", d.Name)
	}
	if err != nil {
		return out, fmt.Errorf("create host image %q: %w", d.Name, err)
	}
	s.events.notify(ctx, eventEdit, d.Name)
	return out, nil
}

// UpdateDefinition writes a new revision of a definition. When
// expectRevision is not 0 it must be the stored one (ErrConflict
// otherwise, as a stale resourceVersion is). An edit that changes
// nothing makes no revision.
func (s *Store) UpdateDefinition(ctx context.Context, d Definition, expectRevision int64, author string) (Definition, error) {
	files, err := json.Marshal(d.Files)
	if err != nil {
		return d, err
	}
	var out Definition
	changed := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := scanDefinition(tx.QueryRow(ctx, `SELECT `+definitionColumns+` FROM hostimages WHERE name = $1 FOR UPDATE`, d.Name))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("host image", d.Name)
		}
		if err != nil {
			return err
		}
		if expectRevision != 0 && expectRevision != cur.Revision {
			return errdefs.Newf(errdefs.ErrConflict, "host image %q: revision %d was written since revision %d was read: read it again and apply your changes", d.Name, cur.Revision, expectRevision)
		}
		curFiles, _ := json.Marshal(cur.Files)
		if cur.Treefile == d.Treefile && string(curFiles) == string(files) && cur.RebuildInterval == d.RebuildInterval {
			out = cur
			return nil
		}
		changed = true
		rev := cur.Revision
		if cur.Treefile != d.Treefile || string(curFiles) != string(files) {
			rev++
		}
		out, err = scanDefinition(tx.QueryRow(ctx, `UPDATE hostimages SET revision = $2, treefile = $3, files = $4,
			rebuild_interval = $5, ref = $6, runner = $7, updated_at = now() WHERE name = $1 RETURNING `+definitionColumns,
			d.Name, rev, d.Treefile, files, int64(d.RebuildInterval/time.Second), d.Ref, d.Runner))
		if err != nil || rev == cur.Revision {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO hostimage_revisions (hostimage, revision, treefile, files, author, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, d.Name, rev, d.Treefile, files, author, out.Updated)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("update host image %q: %w", d.Name, err)
	}
	if changed {
		s.events.notify(ctx, eventEdit, d.Name)
	}
	return out, nil
}

// GetDefinition returns a definition; ErrNotFound when there is none.
func (s *Store) GetDefinition(ctx context.Context, name string) (Definition, error) {
	d, err := scanDefinition(s.pool.QueryRow(ctx, `SELECT `+definitionColumns+` FROM hostimages WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, notFound("host image", name)
	}
	if err != nil {
		return d, fmt.Errorf("host image %q: %w", name, err)
	}
	return d, nil
}

// ListDefinitions returns every definition, by name.
func (s *Store) ListDefinitions(ctx context.Context) ([]Definition, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+definitionColumns+` FROM hostimages ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list host images: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Definition, error) { return scanDefinition(r) })
}

// DeleteDefinition removes a definition, its revisions and its builds
// (the commits stay in the repository: hosts may run them). It returns
// ErrConflict while a build of it is queued or running.
func (s *Store) DeleteDefinition(ctx context.Context, name string) (Definition, error) {
	var out Definition
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = scanDefinition(tx.QueryRow(ctx, `SELECT `+definitionColumns+` FROM hostimages WHERE name = $1 FOR UPDATE`, name))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("host image", name)
		}
		if err != nil {
			return err
		}
		var open string
		err = tx.QueryRow(ctx, `SELECT name FROM hostimage_builds WHERE hostimage = $1 AND phase IN ('Queued', 'Running') LIMIT 1`, name).Scan(&open)
		if err == nil {
			return errdefs.Newf(errdefs.ErrConflict, "host image %q has build %s queued or running: cancel it first (berth hostimage cancel %s)", name, open, open)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM hostimages WHERE name = $1`, name)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("delete host image %q: %w", name, err)
	}
	return out, nil
}

// Revisions lists a definition's revisions, newest first, without their
// files.
func (s *Store) Revisions(ctx context.Context, name string) ([]Revision, error) {
	if _, err := s.GetDefinition(ctx, name); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT revision, treefile, author, created_at FROM hostimage_revisions
		WHERE hostimage = $1 ORDER BY revision DESC`, name)
	if err != nil {
		return nil, fmt.Errorf("revisions of %q: %w", name, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Revision, error) {
		var rev Revision
		err := r.Scan(&rev.Revision, &rev.Treefile, &rev.Author, &rev.Created)
		return rev, err
	})
}

// GetRevision returns one revision with its files.
func (s *Store) GetRevision(ctx context.Context, name string, revision int64) (Revision, error) {
	var rev Revision
	var files []byte
	err := s.pool.QueryRow(ctx, `SELECT revision, treefile, files, author, created_at FROM hostimage_revisions
		WHERE hostimage = $1 AND revision = $2`, name, revision).Scan(&rev.Revision, &rev.Treefile, &files, &rev.Author, &rev.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return rev, errdefs.Newf(errdefs.ErrNotFound, "host image %q has no revision %d", name, revision)
	}
	if err != nil {
		return rev, fmt.Errorf("revision %d of %q: %w", revision, name, err)
	}
	if err := json.Unmarshal(files, &rev.Files); err != nil {
		return rev, err
	}
	return rev, nil
}

// SetChecked records when the trigger compared a definition's inputs.
func (s *Store) SetChecked(ctx context.Context, name string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE hostimages SET checked_at = $2 WHERE name = $1`, name, at)
	return err
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
