package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

// A log socket sends what the node wrote close together as one message,
// a write without a newline without waiting for more, and all it read.
func TestCoalesce(t *testing.T) {
	const window = 50 * time.Millisecond
	tests := []struct {
		name string
		// write writes to the socket's source and closes it (or not).
		write func(w *io.PipeWriter)
		// wantMax is the most messages the writes may take.
		wantMax int
		want    string
		wantEnd error // what ends the reading; nil: it goes on
	}{{
		name: "a burst of lines written one by one takes a few messages, not one each",
		write: func(w *io.PipeWriter) {
			for i := range 200 {
				fmt.Fprintf(w, "line %d\n", i)
			}
			w.Close()
		},
		wantMax: 20,
		want:    lines(200),
		wantEnd: io.EOF,
	}, {
		name:    "a write without a newline goes out alone",
		write:   func(w *io.PipeWriter) { io.WriteString(w, "\rprogress 5%") },
		wantMax: 1,
		want:    "\rprogress 5%",
	}, {
		name: "a broken source ends it after what was read",
		write: func(w *io.PipeWriter) {
			io.WriteString(w, "last words\n")
			w.CloseWithError(errors.New("node gone"))
		},
		wantMax: 1,
		want:    "last words\n",
		wantEnd: errors.New("node gone"),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, w := io.Pipe()
			defer r.Close()
			var mu sync.Mutex
			var got bytes.Buffer
			messages := 0
			sent := make(chan struct{}, 1000)
			send := func(p []byte) error {
				mu.Lock()
				defer mu.Unlock()
				got.Write(p)
				messages++
				sent <- struct{}{}
				return nil
			}
			ended := make(chan error, 1)
			go func() {
				err, _ := coalesce(r, window, send)
				ended <- err
			}()
			go tt.write(w)
			if tt.wantEnd != nil {
				select {
				case err := <-ended:
					if err.Error() != tt.wantEnd.Error() {
						t.Errorf("ended with %v, want %v", err, tt.wantEnd)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("coalesce did not end with its source")
				}
			} else {
				select {
				case <-sent:
				case <-time.After(10 * time.Second):
					t.Fatal("a write without a newline was not sent")
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if got.String() != tt.want {
				t.Errorf("sent %q, want %q", got.String(), tt.want)
			}
			if messages > tt.wantMax {
				t.Errorf("sent %d messages, want at most %d", messages, tt.wantMax)
			}
		})
	}
}

// A failed send ends coalesce with its error, and its reader once the
// source is closed.
func TestCoalesceSendFails(t *testing.T) {
	r, w := io.Pipe()
	go io.WriteString(w, "a line\n")
	gone := errors.New("client gone")
	readErr, sendErr := coalesce(r, time.Millisecond, func([]byte) error { return gone })
	if readErr != nil || !errors.Is(sendErr, gone) {
		t.Errorf("coalesce returned %v, %v; want nil, %v", readErr, sendErr, gone)
	}
	r.Close()
}

func lines(n int) string {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

// After a quiet spell a write goes out at once, not a window later (a
// progress bar's step, a prompt); what follows close behind it is
// gathered for a window, or until the end of the source.
func TestCoalesceQuietWriteGoesAtOnce(t *testing.T) {
	r, w := io.Pipe()
	defer r.Close()
	sent := make(chan string, 10)
	ended := make(chan error, 1)
	go func() {
		err, _ := coalesce(r, time.Hour, func(p []byte) error { sent <- string(p); return nil })
		ended <- err
	}()
	io.WriteString(w, "\rprogress 5%")
	select {
	case got := <-sent:
		if got != "\rprogress 5%" {
			t.Fatalf("sent %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write after a quiet window waited for the window")
	}
	io.WriteString(w, "\rprogress 6%")
	io.WriteString(w, "\rprogress 7%")
	select {
	case got := <-sent:
		t.Fatalf("sent %q within the window of the last message", got)
	case <-time.After(50 * time.Millisecond):
	}
	w.Close()
	if got := <-sent; got != "\rprogress 6%\rprogress 7%" {
		t.Errorf("at the end, sent %q", got)
	}
	if err := <-ended; err != io.EOF {
		t.Errorf("ended with %v, want EOF", err)
	}
}
