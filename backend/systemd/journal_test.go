package systemd

import (
	"errors"
	"log/slog"
	"maps"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
)

type journalEntry struct {
	message  string
	priority journal.Priority
	vars     map[string]string
}

func TestJournalHandler(t *testing.T) {
	var got []journalEntry
	h := newJournalHandler(slog.LevelDebug, func(m string, p journal.Priority, v map[string]string) error {
		got = append(got, journalEntry{m, p, v})
		return nil
	})
	logger := slog.New(h).With("node", "n1", "pod", slog.GroupValue(slog.String("uid", "u-1")))
	logger.Info("pod started", "restart_count", 2)
	logger.WithGroup("sync").Warn("slow", "took", "3s", "error", errors.New("docker: timeout"))
	logger.Debug("details", "1st", "x", "message", "kept apart", "_pid", "42")
	logger.Error("failed")

	want := []journalEntry{
		{"pod started", journal.PriInfo, map[string]string{"NODE": "n1", "POD_UID": "u-1", "RESTART_COUNT": "2"}},
		{"slow", journal.PriWarning, map[string]string{"NODE": "n1", "POD_UID": "u-1", "SYNC_TOOK": "3s", "SYNC_ERROR": "docker: timeout"}},
		{"details", journal.PriDebug, map[string]string{"NODE": "n1", "POD_UID": "u-1", "ATTR_1ST": "x", "ATTR_MESSAGE": "kept apart", "PID": "42"}},
		{"failed", journal.PriErr, map[string]string{"NODE": "n1", "POD_UID": "u-1"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		w.vars["SYSLOG_IDENTIFIER"] = "berth"
		if g.message != w.message || g.priority != w.priority || !maps.Equal(g.vars, w.vars) {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestJournalHandlerLevel(t *testing.T) {
	sent := 0
	h := newJournalHandler(slog.LevelWarn, func(string, journal.Priority, map[string]string) error {
		sent++
		return nil
	})
	logger := slog.New(h)
	logger.Info("dropped")
	logger.Warn("kept")
	if sent != 1 {
		t.Fatalf("sent %d entries, want 1", sent)
	}
}

func TestNewLogHandlerOffJournal(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "")
	if _, ok := NewLogHandler(slog.LevelInfo).(*slog.TextHandler); !ok {
		t.Fatal("NewLogHandler off the journal is not a text handler")
	}
}
