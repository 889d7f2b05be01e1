package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/berthpaas/berth/backend/node/runtime/logstream"
)

// engineLog writes a json-file log as the engine does: one JSON object a
// line, rotated at maxSize by closing the file, dropping the oldest,
// renaming PATH.N-1 to PATH.N … PATH to PATH.1 and creating PATH anew.
type engineLog struct {
	path     string
	maxSize  int64
	maxFiles int
	f        *os.File
	size     int64
	t        time.Time
}

func newEngineLog(t *testing.T, maxSize int64, maxFiles int) *engineLog {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c-json.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &engineLog{path: path, maxSize: maxSize, maxFiles: maxFiles, f: f, t: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}
}

func (l *engineLog) write(t *testing.T, stream, text string) {
	if l.size >= l.maxSize {
		l.f.Close()
		os.Remove(l.path + "." + strconv.Itoa(l.maxFiles-1))
		for i := l.maxFiles - 1; i > 1; i-- {
			os.Rename(l.path+"."+strconv.Itoa(i-1), l.path+"."+strconv.Itoa(i))
		}
		os.Rename(l.path, l.path+".1")
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_TRUNC|os.O_CREATE, 0o640)
		if err != nil {
			t.Error(err)
			return
		}
		l.f, l.size = f, 0
	}
	l.t = l.t.Add(time.Microsecond)
	b, _ := json.Marshal(entry{Log: text, Stream: stream, Time: l.t})
	n, err := l.f.Write(append(b, '\n'))
	if err != nil {
		t.Error(err)
	}
	l.size += int64(n)
}

// readAll runs a logFileReader over path and returns the texts it sent.
func readAll(t *testing.T, r *logFileReader) []string {
	t.Helper()
	files, err := openChain(r.path)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan logstream.Message)
	done := make(chan error, 1)
	go func() { done <- r.read(t.Context(), files, out); close(out) }()
	var got []string
	for m := range out {
		got = append(got, string(m.Data))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return got
}

func lines(from, to int) []string {
	var s []string
	for i := from; i <= to; i++ {
		s = append(s, fmt.Sprintf("line %d\n", i))
	}
	return s
}

// History from every file of the chain, oldest first; the last n lines
// when asked, across files; a line being written is not a line yet.
func TestLogFileHistory(t *testing.T) {
	l := newEngineLog(t, 100, 4) // about 2 lines a file: 4 files
	for i := 1; i <= 7; i++ {
		l.write(t, "stdout", fmt.Sprintf("line %d\n", i))
	}
	// The engine in the middle of a line.
	if _, err := l.f.WriteString(`{"log":"line 8\n","str`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tail int64
		want []string
	}{
		{-1, lines(1, 7)},
		{0, nil},
		{1, lines(7, 7)},
		{2, lines(6, 7)},
		{3, lines(5, 7)},
		{5, lines(3, 7)},
		{7, lines(1, 7)},
		{100, lines(1, 7)},
	} {
		got := readAll(t, &logFileReader{path: l.path, tail: tc.tail})
		if strings.Join(got, "") != strings.Join(tc.want, "") {
			t.Errorf("tail %d: got %q, want %q", tc.tail, got, tc.want)
		}
	}
	since := time.Date(2026, 12, 2, 0, 0, 0, 5000, time.UTC) // line 5's time
	if got := readAll(t, &logFileReader{path: l.path, tail: -1, since: since}); strings.Join(got, "") != strings.Join(lines(5, 7), "") {
		t.Errorf("since line 5: got %q", got)
	}
}

// A follower sees every line once, in order, while the engine rotates the
// file hundreds of times under it; the log ends when the container stops.
func TestLogFileFollowAcrossRotations(t *testing.T) {
	const n = 20000
	l := newEngineLog(t, 4<<10, 200)
	stopped, kick, quit := make(chan struct{}), make(chan struct{}, 1), make(chan struct{})
	t.Cleanup(func() { close(quit); <-stopped }) // before the files go
	go func() {
		defer close(stopped)
		for i := 1; i <= n; i++ {
			select {
			case <-quit:
				return
			default:
			}
			l.write(t, "stdout", fmt.Sprintf("line %d\n", i))
			if i%50 == 0 {
				poke(kick)
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	files, err := openChain(l.path)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan logstream.Message, 64)
	done := make(chan error, 1)
	r := &logFileReader{path: l.path, tail: -1, follow: true, stopped: stopped, kick: kick}
	go func() { done <- r.read(ctx, files, out); close(out) }()
	want := 1
	for m := range out {
		if got := string(m.Data); got != fmt.Sprintf("line %d\n", want) {
			t.Fatalf("got %q, want line %d", got, want)
		}
		want++
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want != n+1 {
		t.Fatalf("the follow ended after line %d of %d", want-1, n)
	}
	if rotated, _ := filepath.Glob(l.path + ".*"); len(rotated) < 100 {
		t.Fatalf("only %d rotations", len(rotated))
	}
}

// The agent reads a log's files only where the engine rotates them by
// renaming: with max-file 1 it truncates the one file in place, which a
// reader of the file cannot follow, and the engine's API serves.
func TestRotatesByRename(t *testing.T) {
	for _, tc := range []struct {
		cfg  container.LogConfig
		want bool
	}{
		{container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10485760", "max-file": "5"}}, true},
		{container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10485760", "max-file": "2"}}, true},
		{container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10485760", "max-file": "1"}}, false},
		{container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10485760"}}, false},
		{container.LogConfig{Type: "json-file"}, true},
		{container.LogConfig{Type: "local"}, false},
	} {
		if got := rotatesByRename(&container.HostConfig{LogConfig: tc.cfg}); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.cfg, got, tc.want)
		}
	}
	if rotatesByRename(nil) {
		t.Error("no host config: true")
	}
}
