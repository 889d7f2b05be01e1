// Package logstream writes a container's log the way `kubectl logs`
// expects it, from what a runtime has: the log driver's messages
// (history, and new lines as the driver stores them) and, while a follow
// lasts, the container's live output. It knows nothing of Docker: the
// runtimes feed it (package docker parses the engine's streams; the fake
// runtime makes its lines up).
//
// # Why two sources
//
// Docker's json-file driver stores a line when its newline comes, and
// output without one (a prompt, a "\r" progress bar) only in 16 KiB
// pieces: a follower of the log alone sees a progress bar late, in
// pieces, each with a time of its own. The live output (an attach with
// logs=false) has every byte at once but no history, no times, and
// starts wherever the container happens to be. So the log is the record
// (every byte, in order, with the times a client resumes from) and the
// live output only lets the unfinished line of each stream be sent ahead
// of the log, as soon as it is written; when the log stores that line,
// the bytes already sent are skipped. Complete lines always come from
// the log, which Docker writes within a millisecond or two of the write,
// so history and live output join without a gap or an overlap, and a
// line's time is the log's whichever way it was sent, except a line sent
// before it ended: it carries the time its first byte arrived.
//
// # A follow's life
//
//	runtime: attach (live output from now on) ──▶ read the log, following
//	              │                                       │
//	              ▼                                       ▼
//	   Live: chunks, never blocking              messages, in log order
//	   the attach (a lagging reader would                 │
//	   stall the container's writes)                      │
//	              └────────────────┬──────────────────────┘
//	                               ▼
//	                 Join: per stream, the live lines the log has not
//	                 stored yet, oldest first; the first may have begun
//	                 before the attach
//	                               │
//	   log message ──▶ matched to the oldest live line? ──no──▶ written (history,
//	                               │ yes                        or a line the live
//	                               ▼                            output never saw)
//	                 written, less what was sent ahead
//	                               │
//	   live bytes ──▶ the stream's only pending line is unfinished, the log
//	                  has caught up (for the first line: the log has shown a
//	                  message from after the attach, or been quiet for
//	                  Settle), and, with timestamps, it is Hold old?
//	                               │ yes
//	                               ▼
//	                 sent ahead of the log
//	                               │
//	   the log ends (the container stopped, or no follow) ──▶ Join returns
//
// A line of which the live output missed the start (it began before the
// attach) and that was sent ahead lacks that start: it was in neither
// source when the follow began. If the live output and the log stop
// agreeing (a reader that fell behind, a line longer than the memory
// kept for it), the pending lines are dropped and the join starts over
// from the next live byte; what is written stays the log's.
//
// # Writing
//
// With timestamps, each line starts with its time (RFC 3339, nine
// fraction digits, UTC) and a space, and no time is ever written inside
// a line: where lines of stdout and stderr interleave, a line of one
// that is still open is ended with a newline before the other's begins,
// and its rest starts with its own time again. Lines older than
// SinceTime are skipped (to the nanosecond); LimitBytes ends the output
// after that many bytes.
package logstream
