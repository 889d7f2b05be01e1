package hostimages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/hostimage"
)

// Build is one build of a definition's revision.
type Build struct {
	ID          int64
	Name        string
	HostImage   string
	Number      int64
	Revision    int64
	Reason      string
	Force       bool
	RequestedBy string

	Phase        string
	Runner       string
	InputHash    string
	NoChanges    bool
	Ref          string
	Commit       string
	Parent       string
	Version      string
	Packages     []hostimage.Package
	PackageCount int
	CommitSize   int64
	UnpackedSize int64
	DeltaSize    int64
	LogSize      int64
	Message      string

	CancelRequested bool
	Created         time.Time
	Started         time.Time // zero until it runs
	Finished        time.Time // zero until it ends
}

// Done reports whether the build has ended.
func (b Build) Done() bool {
	return b.Phase == berthv1.BuildSucceeded || b.Phase == berthv1.BuildFailed || b.Phase == berthv1.BuildCancelled
}

const buildColumns = `id, name, hostimage, number, revision, reason, force, requested_by, phase, runner, input_hash,
	no_changes, ref, commit_id, parent, version, packages, package_count, commit_size, unpacked_size, delta_size,
	log_size, message, cancel_requested, created_at, started_at, finished_at`

func scanBuild(row pgx.Row) (Build, error) {
	var b Build
	var pkgs []byte
	var started, finished *time.Time
	err := row.Scan(&b.ID, &b.Name, &b.HostImage, &b.Number, &b.Revision, &b.Reason, &b.Force, &b.RequestedBy,
		&b.Phase, &b.Runner, &b.InputHash, &b.NoChanges, &b.Ref, &b.Commit, &b.Parent, &b.Version, &pkgs,
		&b.PackageCount, &b.CommitSize, &b.UnpackedSize, &b.DeltaSize, &b.LogSize, &b.Message, &b.CancelRequested,
		&b.Created, &started, &finished)
	if err != nil {
		return b, err
	}
	if pkgs != nil {
		if err := json.Unmarshal(pkgs, &b.Packages); err != nil {
			return b, fmt.Errorf("build %s: packages: %w", b.Name, err)
		}
	}
	if started != nil {
		b.Started = *started
	}
	if finished != nil {
		b.Finished = *finished
	}
	return b, nil
}

func collectBuilds(rows pgx.Rows) ([]Build, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Build, error) { return scanBuild(r) })
}

// BuildRequest asks for a build of a definition.
type BuildRequest struct {
	HostImage string
	// Revision 0 builds the latest.
	Revision    int64
	Reason      string
	Force       bool
	RequestedBy string
}

// CreateBuild queues a build, numbered one past the definition's last.
// It returns ErrNotFound for an unknown definition or revision.
func (s *Store) CreateBuild(ctx context.Context, req BuildRequest) (Build, error) {
	var out Build
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var latest int64
		// The row lock numbers the builds of a definition one by one.
		err := tx.QueryRow(ctx, `SELECT revision FROM hostimages WHERE name = $1 FOR UPDATE`, req.HostImage).Scan(&latest)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("host image", req.HostImage)
		}
		if err != nil {
			return err
		}
		rev := req.Revision
		if rev == 0 {
			rev = latest
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM hostimage_revisions WHERE hostimage = $1 AND revision = $2)`,
			req.HostImage, rev).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return errdefs.Newf(errdefs.ErrNotFound, "host image %q has no revision %d", req.HostImage, rev)
		}
		var number int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(number), 0) + 1 FROM hostimage_builds WHERE hostimage = $1`,
			req.HostImage).Scan(&number); err != nil {
			return err
		}
		out, err = scanBuild(tx.QueryRow(ctx, `INSERT INTO hostimage_builds
			(name, hostimage, number, revision, reason, force, requested_by, phase)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'Queued') RETURNING `+buildColumns,
			fmt.Sprintf("%s-%d", req.HostImage, number), req.HostImage, number, rev, req.Reason, req.Force, req.RequestedBy))
		return err
	})
	if err != nil {
		return out, fmt.Errorf("build %q: %w", req.HostImage, err)
	}
	s.events.notify(ctx, eventQueue, out.Name)
	return out, nil
}

// GetBuild returns a build by name.
func (s *Store) GetBuild(ctx context.Context, name string) (Build, error) {
	b, err := scanBuild(s.pool.QueryRow(ctx, `SELECT `+buildColumns+` FROM hostimage_builds WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return b, notFound("host image build", name)
	}
	if err != nil {
		return b, fmt.Errorf("build %q: %w", name, err)
	}
	return b, nil
}

// BuildFilter selects builds.
type BuildFilter struct {
	HostImage string // "" for all
	Commit    string // "" for all
	Limit     int    // 0: 500
}

// ListBuilds returns builds, newest first.
func (s *Store) ListBuilds(ctx context.Context, f BuildFilter) ([]Build, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 500
	}
	rows, err := s.pool.Query(ctx, `SELECT `+buildColumns+` FROM hostimage_builds
		WHERE ($1 = '' OR hostimage = $1) AND ($2 = '' OR commit_id = $2)
		ORDER BY created_at DESC, id DESC LIMIT $3`, f.HostImage, f.Commit, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list builds: %w", err)
	}
	return collectBuilds(rows)
}

// LastSucceeded returns a definition's newest successful build (nil when
// there is none): its input hash is what unchanged inputs match, its
// commit the ref's.
func (s *Store) LastSucceeded(ctx context.Context, hostImage string) (*Build, error) {
	b, err := scanBuild(s.pool.QueryRow(ctx, `SELECT `+buildColumns+` FROM hostimage_builds
		WHERE hostimage = $1 AND phase = 'Succeeded' ORDER BY number DESC LIMIT 1`, hostImage))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// LatestBuilds returns each definition's newest build and newest
// successful build.
func (s *Store) LatestBuilds(ctx context.Context) (latest, succeeded map[string]Build, err error) {
	if latest, err = s.newestBuilds(ctx, "true"); err != nil {
		return nil, nil, err
	}
	if succeeded, err = s.newestBuilds(ctx, "phase = 'Succeeded'"); err != nil {
		return nil, nil, err
	}
	return latest, succeeded, nil
}

// newestBuilds returns the newest build of each definition among those
// where holds (a constant condition).
func (s *Store) newestBuilds(ctx context.Context, where string) (map[string]Build, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (hostimage) `+buildColumns+` FROM hostimage_builds
		WHERE `+where+` ORDER BY hostimage, number DESC`)
	if err != nil {
		return nil, err
	}
	builds, err := collectBuilds(rows)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Build, len(builds))
	for _, b := range builds {
		out[b.HostImage] = b
	}
	return out, nil
}

// ClaimNext starts the oldest queued build of a definition that has none
// running (nil when there is none): the builds of one definition run one
// after the other.
func (s *Store) ClaimNext(ctx context.Context) (*Build, error) {
	b, err := scanBuild(s.pool.QueryRow(ctx, `UPDATE hostimage_builds SET phase = 'Running', started_at = now()
		WHERE id = (
			SELECT q.id FROM hostimage_builds q
			WHERE q.phase = 'Queued' AND NOT EXISTS (
				SELECT 1 FROM hostimage_builds r WHERE r.hostimage = q.hostimage AND r.phase = 'Running')
			ORDER BY q.id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+buildColumns))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim a build: %w", err)
	}
	s.events.notify(ctx, eventBuild, b.Name)
	return &b, nil
}

// Progress records what a running build has learnt: its runner, input
// hash and ref.
func (s *Store) Progress(ctx context.Context, id int64, runner, inputHash, ref string) error {
	var name string
	err := s.pool.QueryRow(ctx, `UPDATE hostimage_builds SET runner = $2, input_hash = $3, ref = $4 WHERE id = $1 RETURNING name`,
		id, runner, inputHash, ref).Scan(&name)
	if err == nil {
		s.events.notify(ctx, eventBuild, name)
	}
	return err
}

// Finish records how a build ended (b's phase, what it made, its
// message).
func (s *Store) Finish(ctx context.Context, b Build) error {
	var pkgs []byte
	if b.Packages != nil {
		var err error
		if pkgs, err = json.Marshal(b.Packages); err != nil {
			return err
		}
	}
	_, err := s.pool.Exec(ctx, `UPDATE hostimage_builds SET phase = $2, runner = $3, input_hash = $4, no_changes = $5,
		ref = $6, commit_id = $7, parent = $8, version = $9, packages = $10, package_count = $11, commit_size = $12,
		unpacked_size = $13, delta_size = $14, message = $15, finished_at = now() WHERE id = $1`,
		b.ID, b.Phase, b.Runner, b.InputHash, b.NoChanges, b.Ref, b.Commit, b.Parent, b.Version, pkgs, b.PackageCount,
		b.CommitSize, b.UnpackedSize, b.DeltaSize, b.Message)
	if err != nil {
		return fmt.Errorf("finish build %s: %w", b.Name, err)
	}
	s.events.notify(ctx, eventBuild, b.Name)
	return nil
}

// RequestCancel cancels a queued build at once and asks the master
// running a running one to stop it. It returns ErrConflict for a build
// that has ended.
func (s *Store) RequestCancel(ctx context.Context, name string) (Build, error) {
	var out Build
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b, err := scanBuild(tx.QueryRow(ctx, `SELECT `+buildColumns+` FROM hostimage_builds WHERE name = $1 FOR UPDATE`, name))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("host image build", name)
		}
		if err != nil {
			return err
		}
		switch b.Phase {
		case berthv1.BuildQueued:
			out, err = scanBuild(tx.QueryRow(ctx, `UPDATE hostimage_builds SET phase = 'Cancelled', cancel_requested = true,
				message = 'cancelled before it started', finished_at = now() WHERE id = $1 RETURNING `+buildColumns, b.ID))
			return err
		case berthv1.BuildRunning:
			out, err = scanBuild(tx.QueryRow(ctx, `UPDATE hostimage_builds SET cancel_requested = true WHERE id = $1 RETURNING `+buildColumns, b.ID))
			return err
		}
		return errdefs.Newf(errdefs.ErrConflict, "build %s has ended (%s): there is nothing to cancel", name, b.Phase)
	})
	if err != nil {
		return out, fmt.Errorf("cancel build %q: %w", name, err)
	}
	s.events.notify(ctx, eventCancel, name)
	s.events.notify(ctx, eventBuild, name)
	return out, nil
}

// AbandonRunning ends the builds left running by a master that stopped
// (their composes died with it): Failed, or Cancelled when a cancel was
// asked. It returns how many there were.
func (s *Store) AbandonRunning(ctx context.Context, why string) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE hostimage_builds SET
		phase = CASE WHEN cancel_requested THEN 'Cancelled' ELSE 'Failed' END,
		message = $1, finished_at = now() WHERE phase = 'Running'`, why)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
