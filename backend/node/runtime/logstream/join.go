package logstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"
)

// Defaults a runtime passes in Options.
const (
	// DefaultHold: with timestamps, an unfinished line is sent ahead of
	// the log once it has waited this long for its newline, so that a line
	// written in a few quick writes gets the log's time, and any later
	// line is logged after the time it is sent with.
	DefaultHold = 40 * time.Millisecond
	// DefaultSettle: the log must have been quiet this long (or have shown
	// a message from after the attach) before the line the container was
	// writing at the attach is sent ahead: every older line is out first.
	DefaultSettle = 20 * time.Millisecond
	// DefaultLiveBuffer bounds the live output that waits for the join.
	DefaultLiveBuffer = 4 << 20
)

const (
	// probeLen is how much of the live output's start the join looks for
	// in the log (less if the live output has not said that much yet, or
	// its first line is shorter).
	probeLen = 32
	// maxWindow bounds the log bytes kept where the join may lie: twice
	// Docker's 16 KiB pieces and more.
	maxWindow = 64 << 10
	// maxAhead bounds the live bytes kept that the log has not stored;
	// past it the join starts over.
	maxAhead = 4 << 20
)

// Options say what Join writes.
type Options struct {
	// Timestamps starts each line with its time and a space.
	Timestamps bool
	// SinceTime skips messages stamped before it; zero skips none.
	SinceTime time.Time
	// LimitBytes ends the output after that many bytes; 0 for no limit.
	LimitBytes int64
	// Hold: see DefaultHold; 0 sends unfinished lines at once.
	Hold time.Duration
	// Settle: see DefaultSettle; 0 takes the log as settled at once.
	Settle time.Duration
}

// Join writes a container's log to w: the messages from log, in order,
// until log is closed, and, when live is not nil, each stream's
// unfinished line ahead of the log as the live output brings it (see the
// package comment). It returns nil at the end of the log or of
// LimitBytes, ctx's error if ctx ends first, or w's error.
func Join(ctx context.Context, w io.Writer, log <-chan Message, live *Live, opts Options) error {
	j := &joiner{out: newFormatter(w, opts.Timestamps, opts.LimitBytes), opts: opts, now: time.Now}
	j.started = j.now()
	var liveReady <-chan struct{}
	if live != nil {
		liveReady = live.notify
		for i := range j.streams {
			j.streams[i].begin(live.Requested, live.Attached, j.started)
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wake, err := j.preview()
		if err != nil {
			return ended(err)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		var wakeC <-chan time.Time
		if !wake.IsZero() {
			timer.Reset(max(time.Until(wake), 0))
			wakeC = timer.C
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-log:
			if !ok {
				return nil
			}
			if err := j.onLog(m); err != nil {
				return ended(err)
			}
		case <-liveReady:
			chunks, more := live.take()
			for _, c := range chunks {
				j.onLive(c)
			}
			if !more {
				// The container's output ended, or the join fell behind
				// it: the log alone goes on, and what was sent ahead
				// stays known.
				liveReady = nil
			}
		case <-wakeC:
		}
	}
}

// ended is the outcome of a join that stopped on err.
func ended(err error) error {
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

// joiner is the state of one Join, used by its goroutine only.
type joiner struct {
	out     *formatter
	opts    Options
	now     func() time.Time // the clock (tests set their own)
	started time.Time
	// lastLog is when the latest log message arrived.
	lastLog time.Time
	streams [numStreams]streamJoin
}

// streamJoin joins one stream's log and live output. Positions count the
// stream's bytes: log positions from the first message read, live
// positions from the first live byte.
type streamJoin struct {
	// active: the stream has a live output to join.
	active bool
	// requested: whole log lines stamped before are older than the live
	// output (the attach was asked for then).
	requested time.Time
	// settleFrom: a message stamped at or after it shows the log has
	// caught up with the attach; settleStart is when settling began.
	settleFrom, settleStart time.Time
	settled                 bool

	// located: the log position where the live output begins is known.
	located bool
	join    int64
	// logPos is the log bytes read; win the last of them (up to logPos)
	// among which the join may lie, while it is not located.
	logPos  int64
	win     []byte
	logOpen bool // the last message did not end its line

	// live holds the live bytes from liveBase to liveEnd: from the start
	// until the join is located, then from the log's position on.
	live              []byte
	liveBase, liveEnd int64
	// lineStart is the live position of the unfinished line (after the
	// last newline), lineAt when its first byte arrived; firstNewline is
	// the position of the first newline, -1 before one came.
	lineStart    int64
	lineAt       time.Time
	firstNewline int64
	// shown: live positions below it are written, ahead or from the log.
	shown int64
}

// begin starts (or starts over) the join of a stream whose live output
// was asked for at requested and began by attached; now is the wall time.
func (s *streamJoin) begin(requested, attached, now time.Time) {
	*s = streamJoin{
		active: true, requested: requested, settleFrom: attached, settleStart: now,
		logPos: s.logPos, logOpen: s.logOpen, firstNewline: -1,
	}
}

// onLog takes the next message of the log.
func (j *joiner) onLog(m Message) error {
	j.lastLog = j.now()
	for i := range j.streams {
		if st := &j.streams[i]; !st.settled && !m.Time.Before(st.settleFrom) {
			st.settled = true
		}
	}
	st := &j.streams[m.Stream]
	from := st.logPos
	st.logPos += int64(len(m.Data))
	whole := !st.logOpen && m.ends()
	st.logOpen = !m.ends()
	if !st.active {
		return j.writeLog(m, m.Data)
	}
	if !st.located {
		if whole && m.Time.Before(st.requested) {
			// Logged whole before the attach was asked for: the join
			// lies after it.
			st.win = st.win[:0]
			return j.writeLog(m, m.Data)
		}
		st.win = append(st.win, m.Data...)
		if over := len(st.win) - maxWindow; over > 0 {
			st.win = st.win[over:] // as dropLive
		}
		st.locate(from)
	}
	if !st.located {
		if st.shown > 0 && !m.ends() {
			// A piece of the line the live output joined, from before
			// the join: what followed it was sent ahead already.
			return nil
		}
		return j.writeLog(m, m.Data)
	}
	return j.writeJoined(st, m, from)
}

// writeJoined writes what a message holds that was not sent ahead; from
// is its log position.
func (j *joiner) writeJoined(st *streamJoin, m Message, from int64) error {
	data, pos := m.Data, from-st.join // pos: the live position of data[0]
	if pos < 0 {
		n := min(-pos, int64(len(data)))
		if st.shown == 0 {
			// Nothing of the line was sent ahead: its start, from before
			// the attach, goes first, in order.
			if err := j.writeLog(m, data[:n]); err != nil {
				return err
			}
		}
		data, pos = data[n:], pos+n
	}
	if !st.agrees(pos, data) {
		// The live output and the log disagree: the join was wrong. The
		// log is the record; join afresh from the next live byte.
		now := j.now()
		st.begin(now, now, now)
		return j.writeLog(m, data)
	}
	if skip := st.shown - pos; skip > 0 {
		skip = min(skip, int64(len(data)))
		data, pos = data[skip:], pos+skip
	}
	st.shown = max(st.shown, pos+int64(len(data)))
	st.dropLive(st.logPos - st.join)
	return j.writeLog(m, data)
}

// writeLog writes data of message m, unless m is older than SinceTime.
func (j *joiner) writeLog(m Message, data []byte) error {
	if m.Time.Before(j.opts.SinceTime) {
		return nil
	}
	return j.out.write(m.Stream, m.Time, data)
}

// onLive takes bytes of the live output.
func (j *joiner) onLive(c chunk) {
	st := &j.streams[c.stream]
	if !st.active {
		return
	}
	if st.liveEnd == st.lineStart {
		st.lineAt = c.at // this chunk begins the unfinished line
	}
	if i := bytes.LastIndexByte(c.data, '\n'); i >= 0 {
		if st.firstNewline < 0 {
			st.firstNewline = st.liveEnd + int64(bytes.IndexByte(c.data, '\n'))
		}
		st.lineStart = st.liveEnd + int64(i) + 1
		if i+1 < len(c.data) {
			st.lineAt = c.at
		}
	}
	st.live = append(st.live, c.data...)
	st.liveEnd += int64(len(c.data))
	if !st.located {
		st.locate(st.logPos)
	}
	if st.liveEnd-st.liveBase > maxAhead {
		// The log is that far behind, or the join cannot be found: start
		// over from the next live byte.
		now := j.now()
		st.begin(now, now, now)
	}
}

// locate looks for the live output's start among the log bytes kept. The
// log bytes up to written (a log position) are out, written or skipped.
func (s *streamJoin) locate(written int64) {
	if s.liveEnd == 0 || len(s.win) == 0 {
		return
	}
	n := int64(probeLen)
	n = min(n, s.liveEnd)
	if s.firstNewline >= 0 {
		n = min(n, s.firstNewline+1)
	}
	probe := s.live[:n]
	base := s.logPos - int64(len(s.win))
	for off := 0; ; {
		i := bytes.Index(s.win[off:], probe)
		if i < 0 {
			return
		}
		k := off + i
		common := min(len(s.win)-k, len(s.live))
		if bytes.Equal(s.win[k:k+common], s.live[:common]) {
			s.located, s.join = true, base+int64(k)
			s.shown = max(s.shown, written-s.join)
			s.win = nil
			s.dropLive(written - s.join)
			return
		}
		off = k + 1
	}
}

// agrees reports whether data, at live position pos, matches the live
// bytes kept there.
func (s *streamJoin) agrees(pos int64, data []byte) bool {
	lo, hi := max(pos, s.liveBase), min(pos+int64(len(data)), s.liveEnd)
	if lo >= hi {
		return true
	}
	return bytes.Equal(data[lo-pos:hi-pos], s.live[lo-s.liveBase:hi-s.liveBase])
}

// dropLive forgets the live bytes below position pos, which the log has
// passed.
func (s *streamJoin) dropLive(pos int64) {
	if n := min(pos, s.liveEnd) - s.liveBase; n > 0 {
		// Reslicing, not copying: append moves what is left when it
		// grows the array, so each byte is copied a bounded number of
		// times however far the live output runs ahead.
		s.live = s.live[n:]
		s.liveBase += n
	}
}

// preview sends each stream's unfinished line ahead of the log where the
// rules allow, and returns when it must look again (zero for never).
func (j *joiner) preview() (time.Time, error) {
	now := j.now()
	var wake time.Time
	later := func(t time.Time) {
		if wake.IsZero() || t.Before(wake) {
			wake = t
		}
	}
	for i := range j.streams {
		st := &j.streams[i]
		if !st.active || st.liveEnd <= st.shown {
			continue
		}
		from := st.shown
		if st.located {
			logAt := st.logPos - st.join
			if logAt < st.lineStart {
				continue // complete lines the log has not stored yet go first
			}
			from = max(from, logAt)
		} else {
			if st.firstNewline >= 0 {
				continue // the log will show where the first line joined
			}
			if !st.settled {
				quiet := st.settleStart
				if j.lastLog.After(quiet) {
					quiet = j.lastLog
				}
				if settle := quiet.Add(j.opts.Settle); now.Before(settle) {
					later(settle)
					continue
				}
				st.settled = true
			}
		}
		if from >= st.liveEnd {
			continue
		}
		if j.opts.Timestamps {
			if due := st.lineAt.Add(j.opts.Hold); now.Before(due) {
				later(due)
				continue
			}
		}
		at := st.lineAt
		if at.Before(j.out.last) {
			at = j.out.last
		}
		if err := j.out.write(Stream(i), at, st.live[from-st.liveBase:]); err != nil {
			return time.Time{}, err
		}
		st.shown = st.liveEnd
	}
	return wake, nil
}
