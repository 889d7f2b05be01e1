package accounts

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	// Stage is "" for a request audited once, when it ends; a stream (a
	// log follow, exec, attach) is audited as it starts (StageStarted)
	// and again when it ends (StageCompleted), as Kubernetes' audit does.
	Stage string
	// Details says more about what was asked, as a JSON object: the
	// container and command of an exec, how long a stream lasted.
	Details string
}

// Stages of a stream's audit entries.
const (
	StageStarted   = "ResponseStarted"
	StageCompleted = "ResponseComplete"
)

// Caps on the audit fields, in bytes. What a client sends ends up in the
// log (a failed login stores the name it tried, a user agent is whatever
// the client says), so every field is bounded: the log's size follows
// the number of requests, not what an attacker chooses to send.
const (
	maxAuditName      = 253 // user, resource, namespace, name: a DNS subdomain at most
	maxAuditVerb      = 32
	maxAuditSourceIP  = 64 // an IPv6 address with a zone and a port
	maxAuditUserAgent = 256
	maxAuditDetails   = 2048
)

// bounded returns e with every field capped, valid UTF-8 and without NUL
// bytes, which PostgreSQL's text refuses (one such field would otherwise
// fail the whole batch it is written with).
func (e AuditEntry) bounded() AuditEntry {
	e.User = capField(e.User, maxAuditName)
	e.Verb = capField(e.Verb, maxAuditVerb)
	e.Resource = capField(e.Resource, maxAuditName)
	e.Namespace = capField(e.Namespace, maxAuditName)
	e.Name = capField(e.Name, maxAuditName)
	e.SourceIP = capField(e.SourceIP, maxAuditSourceIP)
	e.UserAgent = capField(e.UserAgent, maxAuditUserAgent)
	e.Stage = capField(e.Stage, maxAuditVerb)
	e.Details = capField(e.Details, maxAuditDetails)
	return e
}

// truncated ends a field that was cut.
const truncated = "…"

// capField makes s valid UTF-8 without NULs, of at most n bytes; a cut
// string ends with an ellipsis and is never split inside a character.
func capField(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	cut := n - len(truncated)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncated
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

var auditColumns = []string{"at", "username", "verb", "resource", "namespace", "name", "code", "source_ip", "user_agent", "stage", "details"}

// RecordAudit writes one entry now. Request handlers should prefer an
// AuditWriter, which does not wait for the database.
func (s *Store) RecordAudit(ctx context.Context, e AuditEntry) error {
	return s.insertAudit(ctx, []AuditEntry{e.bounded()})
}

// insertAudit writes entries with COPY: one round trip per batch. The
// entries must be bounded.
func (s *Store) insertAudit(ctx context.Context, entries []AuditEntry) error {
	now := time.Now()
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"audit_log"}, auditColumns,
		pgx.CopyFromSlice(len(entries), func(i int) ([]any, error) {
			e := entries[i]
			if e.At.IsZero() {
				e.At = now
			}
			return []any{e.At, e.User, e.Verb, e.Resource, e.Namespace, e.Name, e.Code, e.SourceIP, e.UserAgent, e.Stage, e.Details}, nil
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
