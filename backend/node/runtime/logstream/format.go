package logstream

import (
	"bytes"
	"errors"
	"io"
	"time"
)

// TimeFormat is how a line's time is written: RFC 3339 with all nine
// fraction digits, so that times sort as text and keep their nanoseconds.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// errLimit ends a log whose output reached LimitBytes.
var errLimit = errors.New("limitBytes reached")

// lineState is a stream's line in the output.
type lineState struct {
	open bool      // begun and not ended
	at   time.Time // the time it began with
}

// formatter writes pieces of lines to the output, with times at the start
// of lines when asked. Each call is one Write, so a line's time and text
// leave together.
type formatter struct {
	w          io.Writer
	timestamps bool
	left       int64 // bytes the output may still take; < 0 for no limit
	lines      [numStreams]lineState
	// current is the stream whose line the last byte written belongs to,
	// while that line is open.
	current     Stream
	currentOpen bool
	// last is the latest time written.
	last time.Time
	buf  []byte
}

func newFormatter(w io.Writer, timestamps bool, limit int64) *formatter {
	f := &formatter{w: w, timestamps: timestamps, left: -1}
	if limit > 0 {
		f.left = limit
	}
	return f
}

// write sends data, the next bytes of stream s's output, which begin a
// line at time at if no line of s is open. It returns errLimit once the
// output is full.
func (f *formatter) write(s Stream, at time.Time, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	f.buf = f.buf[:0]
	if !f.timestamps {
		f.buf = append(f.buf, data...)
		return f.flush()
	}
	if f.currentOpen && f.current != s {
		// The other stream's line stays open: end it here, and start its
		// rest with its time again.
		f.buf = append(f.buf, '\n')
		f.currentOpen = false
	}
	line := &f.lines[s]
	for len(data) > 0 {
		if !line.open {
			line.open, line.at = true, at
		}
		if !f.currentOpen {
			f.buf = line.at.UTC().AppendFormat(f.buf, TimeFormat)
			f.buf = append(f.buf, ' ')
			if line.at.After(f.last) {
				f.last = line.at
			}
		}
		seg := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			seg = data[:i+1]
		}
		f.buf = append(f.buf, seg...)
		data = data[len(seg):]
		if seg[len(seg)-1] == '\n' {
			line.open, f.currentOpen = false, false
		} else {
			f.current, f.currentOpen = s, true
		}
	}
	return f.flush()
}

func (f *formatter) flush() error {
	out, full := f.buf, false
	if f.left >= 0 && int64(len(out)) >= f.left {
		out, full = out[:f.left], true
	}
	if len(out) > 0 {
		if _, err := f.w.Write(out); err != nil {
			return err
		}
	}
	if f.left >= 0 {
		f.left -= int64(len(out))
	}
	if full {
		return errLimit
	}
	return nil
}
