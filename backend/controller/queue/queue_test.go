package queue

import (
	"context"
	"testing"
	"time"
)

func get(t *testing.T, q *Queue) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	key, ok := q.Get(ctx)
	if !ok {
		t.Fatal("no key within 2s")
	}
	return key
}

func TestDeduplicatesWaitingKeys(t *testing.T) {
	q := New()
	q.Add("ns/a")
	q.Add("ns/b")
	q.Add("ns/a")
	if q.Len() != 2 {
		t.Fatalf("len = %d, want 2", q.Len())
	}
	if k := get(t, q); k != "ns/a" {
		t.Fatalf("first key %q", k)
	}
	if k := get(t, q); k != "ns/b" {
		t.Fatalf("second key %q", k)
	}
}

func TestKeyAddedWhileProcessingIsRequeuedOnDone(t *testing.T) {
	q := New()
	q.Add("k")
	k := get(t, q)
	q.Add(k)
	if q.Len() != 0 {
		t.Fatal("a key being processed was queued for a second worker")
	}
	q.Done(k)
	if q.Len() != 1 {
		t.Fatal("the key added while processing was lost")
	}
}

func TestAddAfter(t *testing.T) {
	q := New()
	defer q.Stop()
	q.AddAfter("later", 50*time.Millisecond)
	q.AddAfter("later", time.Hour)
	if q.Len() != 0 {
		t.Fatal("delayed key queued at once")
	}
	start := time.Now()
	if k := get(t, q); k != "later" {
		t.Fatalf("key %q", k)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("key came after %s, want about 50ms", d)
	}
}

func TestGetEndsWithContext(t *testing.T) {
	q := New()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, ok := q.Get(ctx); ok {
		t.Fatal("Get returned a key from an empty queue")
	}
}
