package accounts

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditEntry is one API request as the audit log keeps it.
type AuditEntry struct {
	At        time.Time // when; RecordAudit and AuditWriter.Record fill in now if zero
	User      string
	Verb      string // get, list, create, update, patch, delete, watch, exec, ...
	Resource  string
	Namespace string
	Name      string
	Code      int // HTTP status
	SourceIP  string
	UserAgent string
}

// AuditFilter selects audit entries; zero fields select everything.
type AuditFilter struct {
	User      string
	Namespace string
	Resource  string
	Since     time.Time // entries at or after
	Limit     int       // default defaultAuditLimit, at most maxAuditLimit
}

const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

var auditColumns = []string{"at", "username", "verb", "resource", "namespace", "name", "code", "source_ip", "user_agent"}

// RecordAudit writes one entry now. Request handlers should prefer an
// AuditWriter, which does not wait for the database.
func (s *Store) RecordAudit(ctx context.Context, e AuditEntry) error {
	return s.insertAudit(ctx, []AuditEntry{e})
}

// insertAudit writes entries with COPY: one round trip per batch.
func (s *Store) insertAudit(ctx context.Context, entries []AuditEntry) error {
	now := time.Now()
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"audit_log"}, auditColumns,
		pgx.CopyFromSlice(len(entries), func(i int) ([]any, error) {
			e := entries[i]
			if e.At.IsZero() {
				e.At = now
			}
			return []any{e.At, e.User, e.Verb, e.Resource, e.Namespace, e.Name, e.Code, e.SourceIP, e.UserAgent}, nil
		}))
	if err != nil {
		return fmt.Errorf("write %d audit entries: %w", len(entries), err)
	}
	return nil
}

// ListAudit returns the entries that match f, newest first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.User != "" {
		add("username = ?", f.User)
	}
	if f.Namespace != "" {
		add("namespace = ?", f.Namespace)
	}
	if f.Resource != "" {
		add("resource = ?", f.Resource)
	}
	if !f.Since.IsZero() {
		add("at >= ?", f.Since)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	limit = min(limit, maxAuditLimit)

	query := "SELECT " + strings.Join(auditColumns, ", ") + " FROM audit_log"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY at DESC, id DESC LIMIT " + strconv.Itoa(limit)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	entries, err := pgx.CollectRows(rows, pgx.RowToStructByPos[AuditEntry])
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	return entries, nil
}
