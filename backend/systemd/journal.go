package systemd

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
)

// NewLogHandler returns a slog handler for a daemon: one that writes to
// the journal, with each attribute as a journal field, when stderr is the
// journal's stream (JOURNAL_STREAM, as systemd sets it for a service), else
// a text handler on stderr.
func NewLogHandler(level slog.Leveler) slog.Handler {
	if onJournal, _ := journal.StderrIsJournalStream(); onJournal && journal.Enabled() {
		return newJournalHandler(level, journal.Send)
	}
	return slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
}

type sendFunc func(message string, priority journal.Priority, vars map[string]string) error

// journalHandler sends each record as one journal entry: MESSAGE, PRIORITY
// and the attributes as UPPERCASE fields (groups joined by "_").
type journalHandler struct {
	level  slog.Leveler
	send   sendFunc
	fields map[string]string // from WithAttrs; never mutated once set
	prefix string            // field name prefix of the open groups
}

var _ slog.Handler = (*journalHandler)(nil)

func newJournalHandler(level slog.Leveler, send sendFunc) *journalHandler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &journalHandler{level: level, send: send}
}

func (h *journalHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *journalHandler) Handle(_ context.Context, r slog.Record) error {
	vars := make(map[string]string, len(h.fields)+r.NumAttrs()+1)
	for k, v := range h.fields {
		vars[k] = v
	}
	r.Attrs(func(a slog.Attr) bool {
		addField(vars, h.prefix, a)
		return true
	})
	vars["SYSLOG_IDENTIFIER"] = "berth"
	return h.send(r.Message, priority(r.Level), vars)
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	fields := make(map[string]string, len(h.fields)+len(attrs))
	for k, v := range h.fields {
		fields[k] = v
	}
	for _, a := range attrs {
		addField(fields, h.prefix, a)
	}
	c := *h
	c.fields = fields
	return &c
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + fieldName(name) + "_"
	return &c
}

func addField(vars map[string]string, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += fieldName(a.Key) + "_"
		}
		for _, sub := range v.Group() {
			addField(vars, p, sub)
		}
		return
	}
	if a.Key == "" {
		return
	}
	vars[prefix+fieldName(a.Key)] = v.String()
}

// fieldName turns an attribute key into a valid journal field name:
// upper case letters, digits and "_", not starting with "_" (which the
// journal reserves for trusted fields) or a digit.
func fieldName(key string) string {
	b := []byte(strings.ToUpper(key))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	name := strings.TrimLeft(string(b), "_")
	if name == "" || name[0] >= '0' && name[0] <= '9' || slices.Contains(reservedFields, name) {
		name = "ATTR_" + name
	}
	return name
}

// reservedFields are set by the handler itself.
var reservedFields = []string{"MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER"}

func priority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	default:
		return journal.PriDebug
	}
}
