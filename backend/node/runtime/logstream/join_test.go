package logstream

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// t0 is when the tests' attach was asked for; it was answered a
// millisecond later.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// at is t0 plus ms milliseconds.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// event is a log message or a live chunk, as the join receives them.
type event struct {
	log  *Message
	live *chunk
}

func logged(s Stream, ms int, data string) event {
	return event{log: &Message{Stream: s, Time: at(ms), Data: []byte(data)}}
}

func written(s Stream, ms int, data string) event {
	return event{live: &chunk{stream: s, data: []byte(data), at: at(ms)}}
}

// runJoin feeds events to a joiner one by one, each followed by the
// previews it allows, as Join does, and returns the output. With live,
// the streams have a live output attached at t0.
func runJoin(t *testing.T, opts Options, live bool, events ...event) string {
	t.Helper()
	var out bytes.Buffer
	clock := at(0)
	j := &joiner{out: newFormatter(&out, opts.Timestamps, opts.LimitBytes), opts: opts, now: func() time.Time { return clock }, started: clock}
	if live {
		for i := range j.streams {
			j.streams[i].begin(t0, at(1), j.started)
		}
	}
	for _, e := range events {
		var err error
		switch {
		case e.log != nil:
			if e.log.Time.After(clock) {
				clock = e.log.Time
			}
			err = j.onLog(*e.log)
		case e.live != nil:
			if e.live.at.After(clock) {
				clock = e.live.at
			}
			j.onLive(*e.live)
		}
		if err == nil {
			_, err = j.preview()
		}
		if err != nil {
			if ended(err) != nil {
				t.Fatal(err)
			}
			break
		}
	}
	return out.String()
}

func stamp(ms int) string { return at(ms).Format(TimeFormat) + " " }

func TestJoinHistory(t *testing.T) {
	long := strings.Repeat("x", 16384)
	tests := []struct {
		name   string
		opts   Options
		events []event
		want   string
	}{
		{
			name:   "bytes as logged",
			events: []event{logged(Stdout, -5, "one\r\n"), logged(Stderr, -4, "two\n"), logged(Stdout, -3, "three\r")},
			want:   "one\r\ntwo\nthree\r",
		},
		{
			name:   "times start lines",
			opts:   Options{Timestamps: true},
			events: []event{logged(Stdout, -5, "one\n"), logged(Stderr, -4, "two\n")},
			want:   stamp(-5) + "one\n" + stamp(-4) + "two\n",
		},
		{
			name: "a line in pieces has one time",
			opts: Options{Timestamps: true},
			events: []event{
				logged(Stdout, -9, long), logged(Stdout, -9, long), logged(Stdout, -9, "end\n"), logged(Stdout, -2, "next\n"),
			},
			want: stamp(-9) + long + long + "end\n" + stamp(-2) + "next\n",
		},
		{
			name: "a line of the other stream does not land inside an open one",
			opts: Options{Timestamps: true},
			events: []event{
				logged(Stdout, -9, long), logged(Stderr, -8, "err\n"), logged(Stdout, -9, "end\n"),
			},
			want: stamp(-9) + long + "\n" + stamp(-8) + "err\n" + stamp(-9) + "end\n",
		},
		{
			name: "sinceTime to the nanosecond, inclusive",
			opts: Options{SinceTime: at(-5).Add(time.Nanosecond)},
			events: []event{
				logged(Stdout, -5, "old\n"),
				{log: &Message{Stream: Stdout, Time: at(-5).Add(time.Nanosecond), Data: []byte("same\n")}},
				logged(Stdout, -4, "new\n"),
			},
			want: "same\nnew\n",
		},
		{
			name:   "limitBytes",
			opts:   Options{Timestamps: true, LimitBytes: 35},
			events: []event{logged(Stdout, -5, "one\n"), logged(Stdout, -4, "two\n")},
			want:   (stamp(-5) + "one\n" + stamp(-4) + "two\n")[:35],
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runJoin(t, tt.opts, false, tt.events...); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// The unfinished line of a stream goes out as soon as it is written; the
// log's later copy of it adds only what was not sent; complete lines come
// once, whichever source brings them first.
func TestJoinFollow(t *testing.T) {
	pre := strings.Repeat("\rprogress 1%", 1000) // logged before the attach
	tests := []struct {
		name   string
		opts   Options
		events []event
		want   string
	}{
		{
			name: "a progress bar that began before the attach",
			events: []event{
				logged(Stdout, -50, "started\n"),
				written(Stdout, 2, "\rprogress 43%"),
				written(Stdout, 22, "\rprogress 44%"),
				// Docker stores the line 16 KiB at a time, with the time
				// of its first piece.
				logged(Stdout, -40, pre+"\rprogress 43%\rprogress 44%\rprogress 45%"),
				written(Stdout, 42, "\rprogress 45%\rprogress 46%"),
				written(Stdout, 62, " done\nbye\n"),
				logged(Stdout, -40, "\rprogress 46% done\n"),
				logged(Stdout, 62, "bye\n"),
			},
			want: "started\n\rprogress 43%\rprogress 44%\rprogress 45%\rprogress 46% done\nbye\n",
		},
		{
			name: "a line begun before the attach and sent ahead lacks its start",
			events: []event{
				logged(Stdout, -50, "line 1\n"),
				written(Stdout, 500, " done"),
				written(Stdout, 900, "\n"),
				logged(Stdout, 900, "Downloading... done\n"),
			},
			want: "line 1\n done\n",
		},
		{
			name: "a line begun before the attach and not sent ahead comes whole",
			events: []event{
				logged(Stdout, -50, "line 1\n"),
				written(Stdout, 500, " done\n"),
				logged(Stdout, 500, "Downloading... done\n"),
			},
			want: "line 1\nDownloading... done\n",
		},
		{
			name: "lines logged before the live output brings them",
			events: []event{
				logged(Stdout, -50, "line 1\n"),
				logged(Stdout, 2, "line 2\n"),
				logged(Stdout, 3, "line 3\n"),
				written(Stdout, 2, "line 2\nline 3\nline 4\nli"),
				logged(Stdout, 4, "line 4\n"),
				written(Stdout, 5, "ne 5\nline 6 ..."),
				logged(Stdout, 5, "line 5\n"),
				logged(Stdout, 6, "line 6 ...\n"),
				written(Stdout, 6, "\n"),
			},
			want: "line 1\nline 2\nline 3\nline 4\nline 5\nline 6 ...\n",
		},
		{
			name: "the attach joined in the middle of a line",
			events: []event{
				logged(Stdout, -50, "line 1\n"),
				written(Stdout, 2, "2\nline 3\npart"),
				logged(Stdout, 1, "line 2\n"),
				logged(Stdout, 2, "line 3\n"),
				logged(Stdout, 9, "partial end\n"),
				written(Stdout, 9, "ial end\n"),
			},
			want: "line 1\nline 2\nline 3\npartial end\n",
		},
		{
			name: "times: a line sent ahead has the time of its first byte, others the log's",
			opts: Options{Timestamps: true},
			events: []event{
				logged(Stdout, -50, "line 1\n"),
				written(Stdout, 3, "line 2\nPassword: "),
				logged(Stdout, 2, "line 2\n"),
				written(Stdout, 900, "secret\n"),
				logged(Stdout, 901, "Password: secret\n"),
			},
			want: stamp(-50) + "line 1\n" + stamp(2) + "line 2\n" + stamp(3) + "Password: secret\n",
		},
		{
			name: "times: held, an unfinished line waits for the log",
			opts: Options{Timestamps: true, Hold: time.Hour},
			events: []event{
				written(Stdout, 2, "line 2\nab"),
				logged(Stdout, 2, "line 2\n"),
				written(Stdout, 4, "c\n"),
				logged(Stdout, 5, "abc\n"),
			},
			want: stamp(2) + "line 2\n" + stamp(5) + "abc\n",
		},
		{
			name: "times: a line of stderr does not land inside stdout's open line",
			opts: Options{Timestamps: true},
			events: []event{
				written(Stdout, 2, "working"),
				written(Stderr, 3, "warning\n"),
				logged(Stderr, 3, "warning\n"),
				written(Stdout, 9, " done\n"),
				logged(Stdout, 9, "working done\n"),
			},
			want: stamp(2) + "working\n" + stamp(3) + "warning\n" + stamp(2) + " done\n",
		},
		{
			name: "unsettled: the first line waits until the log has shown the attach's time",
			opts: Options{Settle: time.Hour},
			events: []event{
				written(Stdout, 2, "\rprogress 43%"),
				logged(Stdout, -60, "late line\n"), // written before the attach, logged late
				logged(Stderr, 5, "err\n"),
				written(Stderr, 5, "err\n"),
			},
			want: "late line\nerr\n\rprogress 43%",
		},
		{
			name: "a line of 70,000 bytes and lines ending in a carriage return",
			events: []event{
				written(Stdout, 2, strings.Repeat("y", 30000)),
				logged(Stdout, 2, strings.Repeat("y", 16384)),
				written(Stdout, 3, strings.Repeat("y", 40000)+"\r\nend\r"),
				logged(Stdout, 2, strings.Repeat("y", 16384)),
				logged(Stdout, 2, strings.Repeat("y", 16384)),
				logged(Stdout, 2, strings.Repeat("y", 16384)),
				logged(Stdout, 2, strings.Repeat("y", 70000-4*16384)+"\r\n"),
				written(Stdout, 4, "\n"),
				logged(Stdout, 3, "end\r\n"),
			},
			want: strings.Repeat("y", 70000) + "\r\nend\r\n",
		},
		{
			name: "the log and the live output disagree: the log is the record",
			events: []event{
				written(Stdout, 2, "line 2\n"),
				logged(Stdout, 2, "line 2\n"),
				written(Stdout, 3, "abc"),
				logged(Stdout, 4, "xyz\n"),
				logged(Stdout, 5, "more\n"),
			},
			want: "line 2\nabcxyz\nmore\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runJoin(t, tt.opts, true, tt.events...); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// Whatever the order in which the two sources bring a fast writer's
// lines, each comes out once, in order.
func TestJoinFastWriter(t *testing.T) {
	const n = 2000
	line := func(i int) string { return fmt.Sprintf("line %d\n", i) }
	var want strings.Builder
	for i := 1; i <= n; i++ {
		want.WriteString(line(i))
	}
	for _, lag := range []int{-50, -5, 0, 1, 7, 50} { // live chunks behind the log, or ahead of it
		for _, joinAt := range []int{1, 500} {
			t.Run(fmt.Sprintf("lag %d join at line %d", lag, joinAt), func(t *testing.T) {
				var events []event
				for i := 1; i < joinAt; i++ { // history
					events = append(events, logged(Stdout, -1000+i, line(i)))
				}
				var logs, lives []event
				for i := joinAt; i <= n; i += 3 { // the live output in chunks of three lines
					var c strings.Builder
					for k := i; k < i+3 && k <= n; k++ {
						c.WriteString(line(k))
					}
					lives = append(lives, written(Stdout, i, c.String()))
				}
				for i := joinAt; i <= n; i++ {
					logs = append(logs, logged(Stdout, i, line(i)))
				}
				// Interleave: the live output lag chunks behind (negative:
				// ahead) of the log.
				li := 0
				for gi := range logs {
					events = append(events, logs[gi])
					for li < len(lives) && li*3 <= gi-lag {
						events = append(events, lives[li])
						li++
					}
				}
				events = append(events, lives[li:]...)
				if got := runJoin(t, Options{}, true, events...); got != want.String() {
					t.Errorf("got %d bytes, want %d; first difference at %d", len(got), want.Len(), firstDiff(got, want.String()))
				}
			})
		}
	}
}

// The same with the live output in chunks that cut lines anywhere, from
// the middle of a line on: the unfinished tails sent ahead of the log are
// not sent again.
func TestJoinFastWriterCutLines(t *testing.T) {
	const n = 1000
	var all strings.Builder
	var ends []int // the end of each line in all
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&all, "line %d\n", i)
		ends = append(ends, all.Len())
	}
	text := all.String()
	for _, size := range []int{1, 5, 17, 300} {
		for _, lag := range []int{-200, 0, 40, 900} { // live bytes ahead of the log's
			t.Run(fmt.Sprintf("chunks of %d, live %d bytes ahead", size, lag), func(t *testing.T) {
				const joinLine = 100
				start := ends[joinLine-1] - 3 // in the middle of line 100
				var events []event
				for i := 0; i < joinLine-1; i++ {
					events = append(events, logged(Stdout, -1000+i, text[lineStart(ends, i):ends[i]]))
				}
				// The attach joins between two writes: its first chunk runs
				// to the end of the line it joined in (a line started
				// before the attach and sent ahead lacks its start; see
				// TestJoinFollow).
				li := ends[joinLine-1]
				events = append(events, written(Stdout, joinLine, text[start:li]))
				for i := joinLine - 1; i < n; i++ {
					for li < len(text) && li < ends[i]+lag {
						next := min(li+size, len(text))
						events = append(events, written(Stdout, i, text[li:next]))
						li = next
					}
					events = append(events, logged(Stdout, i, text[lineStart(ends, i):ends[i]]))
				}
				if li < len(text) {
					events = append(events, written(Stdout, n, text[li:]))
				}
				if got := runJoin(t, Options{}, true, events...); got != text {
					t.Errorf("got %d bytes, want %d; first difference at %d: %q", len(got), len(text), firstDiff(got, text), got[max(firstDiff(got, text)-20, 0):min(firstDiff(got, text)+20, len(got))])
				}
			})
		}
	}
}

func lineStart(ends []int, i int) int {
	if i == 0 {
		return 0
	}
	return ends[i-1]
}

func firstDiff(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Join runs the two sources to the end of the log.
func TestJoinLoop(t *testing.T) {
	log := make(chan Message)
	live := NewLive(time.Now(), time.Now(), DefaultLiveBuffer)
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- Join(context.Background(), &out, log, live, Options{Settle: time.Millisecond}) }()
	log <- Message{Stream: Stdout, Time: time.Now().Add(-time.Hour), Data: []byte("history\n")}
	live.Write(Stdout, []byte("\rprogress 1%"), time.Now())
	live.End()
	log <- Message{Stream: Stdout, Time: time.Now(), Data: []byte("\rprogress 1%\n")}
	close(log)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "history\n\rprogress 1%\n" {
		t.Errorf("got %q", got)
	}
}
