package accounts

import (
	"context"
	"fmt"
	"testing"
	"time"
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
