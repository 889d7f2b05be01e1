package logstream

import (
	"sync"
	"time"
)

// Stream is one of a container's output streams.
type Stream int

const (
	Stdout Stream = iota
	Stderr
	numStreams
)

// Message is one entry of a container's log as its driver keeps it: a
// line, ending in "\n", or a piece of a line the driver cut (Docker cuts
// an unfinished line every 16 KiB, and stores what is left of one when
// the container ends). Every piece of a line carries the line's time.
type Message struct {
	Stream Stream
	Time   time.Time
	Data   []byte
}

// ends reports whether m ends its line.
func (m Message) ends() bool { return len(m.Data) > 0 && m.Data[len(m.Data)-1] == '\n' }

// chunk is bytes of the live output as they arrived.
type chunk struct {
	stream Stream
	data   []byte
	at     time.Time
}

// Live holds a container's live output from the moment it was attached
// until the join takes it. Its writer never waits: the engine makes the
// container's own writes wait for a reader that lags. Past its size it
// fails, and the join goes on from the log alone.
type Live struct {
	// Requested and Attached frame the moment the live output began:
	// the attach was asked for at Requested and answered at Attached.
	Requested, Attached time.Time

	max    int
	notify chan struct{} // a token when chunks or the end are waiting

	mu     sync.Mutex
	chunks []chunk // guarded by mu
	size   int     // bytes in chunks; guarded by mu
	ended  bool    // no more chunks will come; guarded by mu
}

// NewLive returns a Live for output attached between requested and
// attached, holding at most max bytes that the join has not taken.
func NewLive(requested, attached time.Time, max int) *Live {
	return &Live{Requested: requested, Attached: attached, max: max, notify: make(chan struct{}, 1)}
}

// Write adds the bytes of stream s that arrived at at; Live keeps p. It
// returns false once the output has ended or the join fell max bytes
// behind; the caller then stops reading.
func (l *Live) Write(s Stream, p []byte, at time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return false
	}
	if l.size+len(p) > l.max {
		l.ended = true
		l.chunks, l.size = nil, 0
		l.wake()
		return false
	}
	l.chunks = append(l.chunks, chunk{stream: s, data: p, at: at})
	l.size += len(p)
	l.wake()
	return true
}

// End says that no more output will come.
func (l *Live) End() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ended = true
	l.wake()
}

// wake leaves a token for the join; the caller holds mu.
func (l *Live) wake() {
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

// take returns the chunks waiting, and whether more may come.
func (l *Live) take() ([]chunk, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	chunks := l.chunks
	l.chunks, l.size = nil, 0
	return chunks, !l.ended
}
