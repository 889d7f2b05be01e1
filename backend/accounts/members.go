package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Project roles, from most to least powerful.
const (
	RoleAdmin = "admin" // everything in the project, members included
	RoleEdit  = "edit"  // create, change and delete workloads
	RoleView  = "view"  // read only
)

// roleCacheTTL is how long RoleOf trusts an answer; a change made by
// another process shows within it.
const roleCacheTTL = 5 * time.Second

// Member is one user's role in one project.
type Member struct {
	Project string
	User    string
	Role    string
}

type roleKey struct {
	userID  int64
	project string
}

func validRole(role string) bool {
	return role == RoleAdmin || role == RoleEdit || role == RoleView
}

// SetMember gives a user a role in a project, replacing any role they had.
// It returns ErrInvalid for a bad project name or role and ErrNotFound for
// an unknown user.
func (s *Store) SetMember(ctx context.Context, project, userName, role string) error {
	if err := validateLabel("project", project); err != nil {
		return err
	}
	if !validRole(role) {
		return fmt.Errorf("role %q: must be %q, %q or %q: %w", role, RoleAdmin, RoleEdit, RoleView, ErrInvalid)
	}
	var userID int64
	err := s.pool.QueryRow(ctx, `INSERT INTO memberships (project, user_id, role)
		SELECT $1, id, $3 FROM users WHERE name = $2
		ON CONFLICT (project, user_id) DO UPDATE SET role = EXCLUDED.role
		RETURNING user_id`, project, userName, role).Scan(&userID)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("user %q: %w", userName, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set role of %q in project %q: %w", userName, project, err)
	}
	s.forgetRole(roleKey{userID: userID, project: project})
	s.logger.Info("set project member", "project", project, "user", userName, "role", role)
	return nil
}

// RemoveMember takes a user out of a project, or returns ErrNotFound if
// they were not in it.
func (s *Store) RemoveMember(ctx context.Context, project, userName string) error {
	var userID int64
	err := s.pool.QueryRow(ctx, `DELETE FROM memberships m USING users u
		WHERE m.user_id = u.id AND m.project = $1 AND u.name = $2 RETURNING m.user_id`, project, userName).Scan(&userID)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("member %q of project %q: %w", userName, project, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("remove %q from project %q: %w", userName, project, err)
	}
	s.forgetRole(roleKey{userID: userID, project: project})
	s.logger.Info("removed project member", "project", project, "user", userName)
	return nil
}

// ListMembers returns a project's members by user name; none for an
// unknown project.
func (s *Store) ListMembers(ctx context.Context, project string) ([]Member, error) {
	rows, err := s.pool.Query(ctx, `SELECT m.project, u.name, m.role
		FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.project = $1 ORDER BY u.name`, project)
	if err != nil {
		return nil, fmt.Errorf("list members of project %q: %w", project, err)
	}
	members, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Member])
	if err != nil {
		return nil, fmt.Errorf("list members of project %q: %w", project, err)
	}
	return members, nil
}

// RoleOf returns a user's role in a project, or "" if they are not a
// member. Answers are cached for roleCacheTTL.
func (s *Store) RoleOf(ctx context.Context, userID int64, project string) (string, error) {
	key := roleKey{userID: userID, project: project}
	if role, ok := s.roles.get(key); ok {
		return role, nil
	}
	gen := s.roles.generation()
	var role string
	err := s.pool.QueryRow(ctx, `SELECT role FROM memberships WHERE project = $1 AND user_id = $2`, project, userID).Scan(&role)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("role of user %d in project %q: %w", userID, project, err)
	}
	s.roles.put(key, role, gen, time.Time{})
	return role, nil
}

// ProjectsOf returns the projects a user belongs to, with their role in
// each.
func (s *Store) ProjectsOf(ctx context.Context, userID int64) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT project, role FROM memberships WHERE user_id = $1`, userID)
	if err != nil {
		return nil, fmt.Errorf("projects of user %d: %w", userID, err)
	}
	defer rows.Close()
	projects := make(map[string]string)
	for rows.Next() {
		var project, role string
		if err := rows.Scan(&project, &role); err != nil {
			return nil, fmt.Errorf("projects of user %d: %w", userID, err)
		}
		projects[project] = role
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projects of user %d: %w", userID, err)
	}
	return projects, nil
}

// StartProject makes a user the admin, and the only member, of a project
// just created: any membership left of an earlier project of the same
// name (a deletion that failed half-way, a race with one) goes in the
// same transaction, so it can never grant anything in the new project.
// It returns ErrInvalid for a bad project name and ErrNotFound for an
// unknown user.
func (s *Store) StartProject(ctx context.Context, project, userName string) error {
	if err := validateLabel("project", project); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM memberships WHERE project = $1`, project); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO memberships (project, user_id, role)
			SELECT $1, id, $3 FROM users WHERE name = $2`, project, userName, RoleAdmin)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("user %q: %w", userName, ErrNotFound)
		}
		return nil
	})
	s.roles.invalidate(func(k roleKey, _ string) bool { return k.project == project })
	if err != nil {
		return fmt.Errorf("start project %q: %w", project, err)
	}
	s.logger.Info("started project", "project", project, "admin", userName)
	return nil
}

// DeleteProject drops every membership of a project, as when the project
// itself is deleted. An unknown project is not an error.
func (s *Store) DeleteProject(ctx context.Context, project string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM memberships WHERE project = $1`, project)
	s.roles.invalidate(func(k roleKey, _ string) bool { return k.project == project })
	if err != nil {
		return fmt.Errorf("delete memberships of project %q: %w", project, err)
	}
	s.logger.Info("deleted project memberships", "project", project)
	return nil
}

func (s *Store) forgetRole(key roleKey) {
	s.roles.invalidate(func(k roleKey, _ string) bool { return k == key })
}
