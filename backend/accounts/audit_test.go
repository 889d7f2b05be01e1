package accounts

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAuditLog(t *testing.T) {
	s := testStore(t)
	ctx := t.Context()
	deleteAuditAtEnd(t, s, "audit-web", "audit-db")
	base := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	entries := []AuditEntry{
		{At: base, User: "audit-ann", Verb: "create", Resource: "pods", Namespace: "audit-web", Name: "a", Code: 201, SourceIP: "10.0.0.1", UserAgent: "kubectl"},
		{At: base.Add(time.Minute), User: "audit-bob", Verb: "get", Resource: "services", Namespace: "audit-web", Name: "b", Code: 200},
		{At: base.Add(2 * time.Minute), User: "audit-ann", Verb: "delete", Resource: "pods", Namespace: "audit-db", Name: "c", Code: 403},
	}
	for _, e := range entries {
		wantErr(t, "RecordAudit", s.RecordAudit(ctx, e), nil)
	}

	tests := []struct {
		name   string
		filter AuditFilter
		want   []string // names, newest first
	}{
		{"by user", AuditFilter{User: "audit-ann"}, []string{"c", "a"}},
		{"by namespace", AuditFilter{Namespace: "audit-web"}, []string{"b", "a"}},
		{"by resource and user", AuditFilter{User: "audit-ann", Resource: "pods"}, []string{"c", "a"}},
		{"since", AuditFilter{User: "audit-ann", Since: base.Add(time.Second)}, []string{"c"}},
		{"limit", AuditFilter{Namespace: "audit-web", Limit: 1}, []string{"b"}},
		{"nothing", AuditFilter{User: "audit-nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListAudit(t.Context(), tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range got {
				names = append(names, e.Name)
			}
			if fmt.Sprint(names) != fmt.Sprint(tt.want) {
				t.Errorf("ListAudit names = %v, want %v", names, tt.want)
			}
		})
	}

	got, err := s.ListAudit(ctx, AuditFilter{User: "audit-ann", Resource: "pods", Namespace: "audit-web"})
	if err != nil || len(got) != 1 {
		t.Fatalf("ListAudit = %v, %v", got, err)
	}
	if !got[0].At.Equal(entries[0].At) {
		t.Errorf("At = %v, want %v", got[0].At, entries[0].At)
	}
	got[0].At = entries[0].At
	if got[0] != entries[0] {
		t.Errorf("read back %+v, want %+v", got[0], entries[0])
	}
}

func TestAuditWriter(t *testing.T) {
	s := testStore(t)
	deleteAuditAtEnd(t, s, "audit-writer", "audit-writer-last")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w := s.NewAuditWriter(ctx)

	const n = 1000 // more than a batch
	for i := range n {
		w.Record(AuditEntry{User: "writer", Verb: "get", Namespace: "audit-writer", Name: fmt.Sprint(i), Code: 200})
	}
	if err := w.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	got, err := s.ListAudit(t.Context(), AuditFilter{Namespace: "audit-writer", Limit: maxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n || w.Dropped() != 0 {
		t.Fatalf("after Flush: %d entries, %d dropped; want %d, 0", len(got), w.Dropped(), n)
	}
	if got[0].At.IsZero() {
		t.Error("Record did not stamp the time")
	}

	t.Run("stopping writes what is queued", func(t *testing.T) {
		w.Record(AuditEntry{User: "writer", Namespace: "audit-writer-last", Name: "last"})
		cancel()
		<-w.Done()
		got, err := s.ListAudit(t.Context(), AuditFilter{Namespace: "audit-writer-last"})
		if err != nil || len(got) != 1 {
			t.Errorf("after stop: %v, %v; want the last entry", got, err)
		}
		if err := w.Flush(t.Context()); err == nil {
			t.Error("Flush after stop succeeded")
		}
	})
}

// A failed login stores the name it was given and the client's user
// agent: an attacker sends them megabytes long, with NUL bytes and broken
// UTF-8 (which PostgreSQL's text refuses, failing the whole batch).
func TestAuditFieldsAreBounded(t *testing.T) {
	s := testStore(t)
	deleteAuditAtEnd(t, s, "audit-bounded")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w := s.NewAuditWriter(ctx)

	huge := strings.Repeat("é", 1<<20) // 2 MiB, two bytes a character
	w.Record(AuditEntry{User: huge, Verb: huge, Resource: "sessions", Namespace: "audit-bounded", Name: "a\x00b\xffc",
		SourceIP: huge, UserAgent: huge, Stage: huge, Details: huge})
	w.Record(AuditEntry{User: "honest", Verb: "login", Namespace: "audit-bounded", Name: "same-batch"})
	if err := w.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	got, err := s.ListAudit(t.Context(), AuditFilter{Namespace: "audit-bounded"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || w.Dropped() != 0 {
		t.Fatalf("%d entries written, %d dropped; want both written (the bad one must not fail its batch)", len(got), w.Dropped())
	}
	e := got[0]
	if e.Name == "same-batch" {
		e = got[1]
	}
	fields := []struct {
		name, value string
		max         int
	}{
		{"user", e.User, maxAuditName}, {"verb", e.Verb, maxAuditVerb}, {"source IP", e.SourceIP, maxAuditSourceIP},
		{"user agent", e.UserAgent, maxAuditUserAgent}, {"stage", e.Stage, maxAuditVerb}, {"details", e.Details, maxAuditDetails},
	}
	for _, f := range fields {
		if len(f.value) > f.max || !utf8.ValidString(f.value) || !strings.HasSuffix(f.value, "…") {
			t.Errorf("%s stored as %d bytes (valid UTF-8 %v), want at most %d ending in …", f.name, len(f.value), utf8.ValidString(f.value), f.max)
		}
	}
	if e.Name != "ab\uFFFDc" {
		t.Errorf("name stored as %q, want the NUL gone and the bad byte replaced", e.Name)
	}
}

// lockAuditLog holds an exclusive lock on audit_log until the returned
// function is called: the writer's COPY waits, as on a stalled database.
func lockAuditLog(t *testing.T, s *Store) (release func()) {
	t.Helper()
	tx, err := s.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), `LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { tx.Rollback(context.Background()) }) }
	t.Cleanup(release)
	return release
}

// fillStalledWriter records one entry, waits until the writer's write of
// it waits on the lock (a writer that took the entry but is not yet
// writing would take the next ones into the same batch), then fills its
// queue.
func fillStalledWriter(t *testing.T, w *AuditWriter, ns string) {
	t.Helper()
	w.Record(AuditEntry{User: "stalled", Namespace: ns, Name: "in-flight"})
	deadline := time.Now().Add(10 * time.Second)
	for !waitingOnAuditLog(t, w.store) {
		if time.Now().After(deadline) {
			t.Fatal("the writer's first write did not reach the locked table within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	for i := range cap(w.queue) {
		w.Record(AuditEntry{User: "stalled", Namespace: ns, Name: fmt.Sprint("queued-", i)})
	}
	if len(w.queue) != cap(w.queue) || w.Dropped() != 0 {
		t.Fatalf("queue holds %d of %d, %d dropped; want it full, none dropped", len(w.queue), cap(w.queue), w.Dropped())
	}
}

// waitingOnAuditLog reports whether some session waits for a lock on the
// audit log.
func waitingOnAuditLog(t *testing.T, s *Store) bool {
	t.Helper()
	var waiting bool
	err := s.pool.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_locks
		WHERE NOT granted AND relation = 'audit_log'::regclass)`).Scan(&waiting)
	if err != nil {
		t.Fatal(err)
	}
	return waiting
}

// A flood of requests while the database is slow used to lose audit
// entries silently. Now Record waits for room, and what it still has to
// drop is counted.
func TestAuditWriterBackPressure(t *testing.T) {
	s := testStore(t)
	deleteAuditAtEnd(t, s, "audit-pressure", "audit-dropped")

	t.Run("a full queue holds the request up until there is room", func(t *testing.T) {
		release := lockAuditLog(t, s)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		w := s.newAuditWriter(ctx, 2, time.Minute)
		fillStalledWriter(t, w, "audit-pressure")
		recorded := make(chan struct{})
		go func() {
			defer close(recorded)
			w.Record(AuditEntry{User: "stalled", Namespace: "audit-pressure", Name: "waited"})
		}()
		select {
		case <-recorded:
			t.Fatal("Record returned while the queue was full and the database stalled")
		default:
		}
		release()
		<-recorded
		if err := w.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListAudit(t.Context(), AuditFilter{Namespace: "audit-pressure"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 4 || w.Dropped() != 0 {
			t.Errorf("%d entries written, %d dropped; want 4 written, none dropped", len(got), w.Dropped())
		}
	})

	t.Run("past the wait an entry is dropped and counted", func(t *testing.T) {
		release := lockAuditLog(t, s)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		w := s.newAuditWriter(ctx, 2, 50*time.Millisecond)
		fillStalledWriter(t, w, "audit-dropped")
		w.Record(AuditEntry{User: "stalled", Namespace: "audit-dropped", Name: "dropped"})
		if w.Dropped() != 1 {
			t.Fatalf("Dropped = %d, want 1", w.Dropped())
		}
		release()
		if err := w.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}
