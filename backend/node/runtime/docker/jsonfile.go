package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/berthpaas/berth/backend/node/runtime/logstream"
)

// A container's json-file log, read from its files.
//
// The engine writes one JSON object a line, {"log": …, "stream":
// "stdout"|"stderr", "time": …}, to PATH and rotates it at max-size:
// under its lock it closes PATH, renames PATH.N-1 to PATH.N … PATH to
// PATH.1 (the oldest falls off), and creates PATH anew. The engine's own
// follow of such a log (Docker 20.10, Debian 12's) repeats and skips
// lines at each rotation: `docker logs -f` of a container writing fast
// through a 64 KiB log broke in 48 places in 40,000 lines. So the agent,
// which runs beside the engine, reads the files itself, the way the
// kubelet reads CRI logs:
//
//	open PATH.K … PATH.1, PATH (one consistent set) ──▶ skip to the tail
//	                              │
//	                              ▼
//	read the file held to its end ◀──────────────────────────────┐
//	                              │ at its end                   │
//	                              ▼                              │
//	PATH is another file? ──yes──▶ the file held is complete     │
//	(a rotation)                  (closed before the rename): read │
//	       │ no                   it to its end, then open the   │
//	       │                      one after it in the chain ─────┤
//	       ▼                                                     │
//	the container stopped? ──no──▶ wait (new bytes, a kick) ─────┘
//	       │ yes
//	       ▼
//	the end (after one more look)
//
// A reader that falls so far behind that the file after its own was
// rotated away (max-file rotations) goes on with the oldest file left:
// those lines are gone from the engine too.

const (
	// maxEntry bounds one line of the file: the engine cuts a message at
	// 16 KiB, which JSON escaping may grow sixfold.
	maxEntry = 1 << 20
	// pollMin and pollMax space out the looks at a followed file that
	// has nothing new: from pollMin after new bytes (or a kick) to
	// pollMax when quiet.
	pollMin = 2 * time.Millisecond
	pollMax = 100 * time.Millisecond
)

// errNoLogFile: the log's files cannot be read here (a remote engine,
// another log driver); the engine's API serves instead.
var errNoLogFile = errors.New("the container's log files cannot be read here")

// logFileReader reads one container's json-file log.
type logFileReader struct {
	path string // the newest file's
	// tail: the last tail lines only; < 0 for all.
	tail int64
	// since: messages stamped before it are skipped.
	since  time.Time
	follow bool
	// stopped is closed when the container no longer runs (its log then
	// takes no more lines); nil when not following.
	stopped <-chan struct{}
	// kick: a token when the container wrote (its live output moved), so
	// that the file is looked at again at once.
	kick <-chan struct{}
}

// generation is one file of the chain, oldest first.
type generation struct {
	name string
	ino  uint64
}

// chain lists the log's files as they are now, oldest first: PATH.K …
// PATH.1, PATH. During a rotation a name may be missing for a moment;
// the listing goes one name past the first missing one.
func chain(path string) ([]generation, error) {
	var older []generation
	missing := 0
	for i := 1; i < 1000 && missing < 2; i++ {
		name := path + "." + strconv.Itoa(i)
		ino, err := inode(name)
		if errors.Is(err, fs.ErrNotExist) {
			missing++
			continue
		}
		if err != nil {
			return nil, err
		}
		missing = 0
		older = append(older, generation{name, ino})
	}
	out := make([]generation, 0, len(older)+1)
	for i := len(older) - 1; i >= 0; i-- {
		out = append(out, older[i])
	}
	ino, err := inode(path)
	if err == nil {
		out = append(out, generation{path, ino})
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return out, nil
}

// stableChain is chain, listed twice alike: a listing taken during a
// rotation may show a file under two names, the one after a file being
// then not its successor.
func stableChain(path string) ([]generation, error) {
	prev, err := chain(path)
	if err != nil {
		return nil, err
	}
	for range 100 {
		gens, err := chain(path)
		if err != nil {
			return nil, err
		}
		if slices.Equal(prev, gens) {
			return gens, nil
		}
		prev = gens
	}
	return nil, fmt.Errorf("the log at %s rotates too fast to be followed", path)
}

func inode(name string) (uint64, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return 0, err
	}
	return fileInode(fi), nil
}

func fileInode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// openChain opens every file of the log, oldest first, as one set: the
// names are listed again after the opening, and the whole is tried again
// if a rotation moved them meanwhile.
func openChain(path string) ([]*os.File, error) {
	for attempt := 0; ; attempt++ {
		before, err := chain(path)
		if err != nil {
			return nil, err
		}
		if len(before) == 0 {
			return nil, fmt.Errorf("%w: no file at %s", errNoLogFile, path)
		}
		files, ok, err := openAll(before)
		if err != nil {
			return nil, err
		}
		if ok {
			after, err := chain(path)
			if err == nil && slices.Equal(before, after) {
				return files, nil
			}
		}
		closeAll(files)
		if attempt == 50 {
			return nil, fmt.Errorf("the log at %s rotates too fast to be opened", path)
		}
		time.Sleep(time.Millisecond)
	}
}

// openAll opens the files of a listing; ok is false when one of them is
// no longer where it was listed.
func openAll(gens []generation) (files []*os.File, ok bool, err error) {
	for _, g := range gens {
		f, err := os.Open(g.name)
		if errors.Is(err, fs.ErrNotExist) {
			return files, false, nil
		}
		if err != nil {
			closeAll(files)
			return nil, false, fmt.Errorf("%w: %v", errNoLogFile, err)
		}
		files = append(files, f)
		fi, err := f.Stat()
		if err != nil || fileInode(fi) != g.ino {
			return files, false, nil
		}
	}
	return files, true, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// tailStart finds where the last n complete lines of files begin: the
// index of the file and the offset in it. A last line still being
// written (no newline yet) is not counted. The files are taken as one
// stream: the start is just after its (n+1)-th newline from the end.
func tailStart(files []*os.File, n int64) (int, int64, error) {
	buf := make([]byte, 64<<10)
	need := n + 1
	for i := len(files) - 1; i >= 0; i-- {
		fi, err := files[i].Stat()
		if err != nil {
			return 0, 0, err
		}
		size := fi.Size()
		for end := size; end > 0; {
			chunk := buf[:min(int64(len(buf)), end)]
			base := end - int64(len(chunk))
			if _, err := files[i].ReadAt(chunk, base); err != nil && !errors.Is(err, io.EOF) {
				return 0, 0, err
			}
			for j := len(chunk) - 1; j >= 0; j-- {
				if chunk[j] != '\n' {
					continue
				}
				if need--; need > 0 {
					continue
				}
				pos := base + int64(j) + 1
				if pos == size && i+1 < len(files) {
					return i + 1, 0, nil
				}
				return i, pos, nil
			}
			end = base
		}
	}
	return 0, 0, nil
}

// read sends the log's messages to out until the log ends (without
// follow: at the end of the files; with it: when the container has
// stopped and every line is read) or ctx does.
// files are the log's files as openChain opened them; read closes them.
func (r *logFileReader) read(ctx context.Context, files []*os.File, out chan<- logstream.Message) error {
	defer func() { closeAll(files) }()
	var err error
	start, offset := 0, int64(0)
	if r.tail >= 0 {
		if start, offset, err = tailStart(files, r.tail); err != nil {
			return fmt.Errorf("reading the log: %w", err)
		}
	}
	closeAll(files[:start])
	files = files[start:]
	if _, err := files[0].Seek(offset, io.SeekStart); err != nil {
		return fmt.Errorf("reading the log: %w", err)
	}
	send := func(m logstream.Message) error {
		if m.Time.Before(r.since) {
			return nil
		}
		select {
		case out <- m:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// The older files are complete: read each to its end.
	for len(files) > 1 {
		if _, err := readEntries(files[0], nil, send); err != nil {
			return err
		}
		files[0].Close()
		files = files[1:]
	}
	cur := files[0]
	br := bufio.NewReaderSize(cur, 64<<10)
	var pending []byte // a line read in part: the engine is writing it
	stopped := r.stopped
	done := false // the container stopped: one more look, then the end
	wait := pollMin
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		n, err := readEntries(br, &pending, send)
		if err != nil {
			return err
		}
		if n > 0 {
			wait = pollMin
		}
		if !r.follow {
			return nil
		}
		next, err := successor(r.path, cur)
		if err != nil {
			return fmt.Errorf("reading the log: %w", err)
		}
		if next != nil {
			// Rotated: cur was closed before the rename, so it is
			// complete; what is left of it was read just now, and
			// reading once more takes what came before the close.
			if _, err := readEntries(br, &pending, send); err != nil {
				next.Close()
				return err
			}
			cur.Close()
			cur, pending = next, pending[:0]
			files[0] = cur
			br.Reset(cur)
			wait = pollMin
			continue
		}
		if done {
			return nil
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stopped:
			// The container stopped: the engine wrote its last lines
			// before saying so. Look once more, a moment later.
			stopped, done = nil, true
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		case <-r.kick:
			wait = pollMin
		case <-timer.C:
			wait = min(wait*2, pollMax)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// successor opens the file that follows cur in the log's chain, or
// returns nil while cur is still the newest (or a rotation is under way).
func successor(path string, cur *os.File) (*os.File, error) {
	fi, err := cur.Stat()
	if err != nil {
		return nil, err
	}
	mine := fileInode(fi)
	if ino, err := inode(path); err != nil || ino == mine {
		return nil, nil // not rotated, or PATH is being made anew
	}
	for attempt := 0; attempt < 50; attempt++ {
		gens, err := stableChain(path)
		if err != nil {
			return nil, err
		}
		at := -1
		for i, g := range gens {
			if g.ino == mine {
				at = i
			}
		}
		var want generation
		switch {
		case at >= 0 && at+1 < len(gens):
			want = gens[at+1]
		case at < 0 && attempt >= 10 && len(gens) > 0:
			// cur was rotated away: what came between is gone from
			// the engine too. Go on with the oldest file left.
			want = gens[0]
		default:
			time.Sleep(time.Millisecond)
			continue
		}
		f, err := os.Open(want.name)
		if err == nil {
			if fi, err := f.Stat(); err == nil && fileInode(fi) == want.ino {
				return f, nil
			}
			f.Close()
		}
		time.Sleep(time.Millisecond)
	}
	return nil, nil // still moving: look again on the next turn
}

// entry is one line of a json-file log.
type entry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// readEntries sends the complete lines r has now, and returns how many it
// read. With pending, a last line without its newline is kept there for
// the next call (it is being written); without, it is dropped.
func readEntries(r io.Reader, pending *[]byte, send func(logstream.Message) error) (int, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	var line []byte
	if pending != nil {
		line = *pending
	}
	n := 0
	for {
		piece, err := br.ReadSlice('\n')
		line = append(line, piece...)
		if len(line) > maxEntry {
			return n, fmt.Errorf("reading the log: a line of over %d bytes", maxEntry)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			if pending != nil {
				*pending = line
			}
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, fmt.Errorf("reading the log: %w", err)
		}
		n++
		m, ok, err := decodeEntry(line)
		line = line[:0]
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		if err := send(m); err != nil {
			return n, err
		}
	}
}

// decodeEntry reads one line of the file; ok is false for a line of
// neither stdout nor stderr.
func decodeEntry(line []byte) (logstream.Message, bool, error) {
	var e entry
	if err := json.Unmarshal(bytes.TrimSuffix(line, []byte("\n")), &e); err != nil {
		return logstream.Message{}, false, fmt.Errorf("reading the log: a line that is not the engine's JSON: %w", err)
	}
	var s logstream.Stream
	switch e.Stream {
	case "stdout":
		s = logstream.Stdout
	case "stderr":
		s = logstream.Stderr
	default:
		return logstream.Message{}, false, nil
	}
	return logstream.Message{Stream: s, Time: e.Time, Data: []byte(e.Log)}, true, nil
}
