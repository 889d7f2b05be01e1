package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/client"
)

// scriptedLog is one answer of a fake server to a log request.
type scriptedLog struct {
	openErr error
	data    string // the stream, read a few bytes at a time
	endErr  error  // how it ends: nil for its end, else a broken stream
}

// scriptedLogs answers log requests in turn and records their options.
type scriptedLogs struct {
	answers []scriptedLog
	asked   []client.LogOptions
}

func (s *scriptedLogs) PodLogs(_ context.Context, _, _ string, opts client.LogOptions) (io.ReadCloser, error) {
	s.asked = append(s.asked, opts)
	if len(s.answers) == 0 {
		return nil, errors.New("no more answers")
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	if a.openErr != nil {
		return nil, a.openErr
	}
	return io.NopCloser(&trickle{data: []byte(a.data), end: a.endErr}), nil
}

// trickle reads a few bytes at a time, so that times and lines are cut
// anywhere.
type trickle struct {
	data []byte
	end  error
}

func (r *trickle) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		if r.end != nil {
			return 0, r.end
		}
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 7)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// ts is a log line's time: base plus ms milliseconds, as the server
// writes it.
func ts(ms int) string {
	return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(ms)*time.Millisecond).Format("2006-01-02T15:04:05.000000000Z07:00") + " "
}

var errBroken = io.ErrUnexpectedEOF

func TestFollowLog(t *testing.T) {
	tests := []struct {
		name       string
		timestamps bool
		answers    []scriptedLog
		want       string
		wantSince  []string // the sinceTime of each request ("" for none)
	}{
		{
			name:      "times are stripped",
			answers:   []scriptedLog{{data: ts(1) + "one\n" + ts(2) + "two\r\n" + ts(3) + "\rprogress 1%\rprogress 2%\n"}},
			want:      "one\ntwo\r\n\rprogress 1%\rprogress 2%\n",
			wantSince: []string{""},
		},
		{
			name:       "times are kept when asked for",
			timestamps: true,
			answers:    []scriptedLog{{data: ts(1) + "one\n" + ts(2) + "two\n"}},
			want:       ts(1) + "one\n" + ts(2) + "two\n",
			wantSince:  []string{""},
		},
		{
			name: "a lost stream is taken up from its last line",
			answers: []scriptedLog{
				{data: ts(1) + "one\n" + ts(2) + "two\n", endErr: errBroken},
				{openErr: errors.New("connection refused")},
				{data: ts(2) + "two\n" + ts(3) + "three\n"},
			},
			want:      "one\ntwo\nthree\n",
			wantSince: []string{"", ts(2), ts(2)},
		},
		{
			name: "lines that share the boundary's time and text",
			answers: []scriptedLog{
				{data: ts(1) + "same\n" + ts(2) + "same\n" + ts(2) + "same\n", endErr: errBroken},
				{data: ts(2) + "same\n" + ts(2) + "same\n" + ts(2) + "same\n" + ts(4) + "same\n"},
			},
			want:      "same\nsame\nsame\nsame\nsame\n",
			wantSince: []string{"", ts(2)},
		},
		{
			name: "a line sent ahead of the log, then logged with a later time",
			answers: []scriptedLog{
				{data: ts(1) + "one\n" + ts(5) + "Password: secret\n", endErr: errBroken},
				{data: ts(9) + "Password: secret\n" + ts(10) + "next\n"},
			},
			want:      "one\nPassword: secret\nnext\n",
			wantSince: []string{"", ts(5)},
		},
		{
			name: "an unfinished line that ended meanwhile",
			answers: []scriptedLog{
				{data: ts(1) + "one\n" + ts(5) + "Password: ", endErr: errBroken},
				{data: ts(1) + "one\n" + ts(9) + "Password: secret\n" + ts(10) + "next\n"},
			},
			want:      "one\nPassword: secret\nnext\n",
			wantSince: []string{"", ts(1)},
		},
		{
			name: "an unfinished line still being written",
			answers: []scriptedLog{
				{data: ts(5) + "\rprogress 1%\rprogress 2%", endErr: errBroken},
				{data: ts(50) + "\rprogress 9%\rprogress 10%\n"},
			},
			want:      "\rprogress 1%\rprogress 2%\rprogress 9%\rprogress 10%\n",
			wantSince: []string{"", ts(5)},
		},
		{
			name:       "with times, an unfinished line is not written into",
			timestamps: true,
			answers: []scriptedLog{
				{data: ts(5) + "\rprogress 1%", endErr: errBroken},
				{data: ts(50) + "\rprogress 9%\n"},
			},
			want:      ts(5) + "\rprogress 1%\n" + ts(50) + "\rprogress 9%\n",
			wantSince: []string{"", ts(5)},
		},
		{
			name: "the server busy or away, then back",
			answers: []scriptedLog{
				{data: ts(1) + "one\n", endErr: errBroken},
				{openErr: status(http.StatusServiceUnavailable)},
				{openErr: status(http.StatusTooManyRequests)},
				{data: ts(1) + "one\n" + ts(2) + "two\n"},
			},
			want:      "one\ntwo\n",
			wantSince: []string{"", ts(1), ts(1), ts(1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &scriptedLogs{answers: tt.answers}
			var out bytes.Buffer
			tail := int64(10)
			err := followLog(t.Context(), logs, "ns", "web", client.LogOptions{TailLines: &tail, Timestamps: tt.timestamps}, &out, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("printed %q\nwant    %q", out.String(), tt.want)
			}
			var since []string
			for i, o := range logs.asked {
				if !o.Follow || !o.Timestamps {
					t.Errorf("request %d: %+v, want follow and timestamps", i, o)
				}
				switch {
				case o.SinceTime == nil:
					if o.TailLines == nil {
						t.Errorf("request %d lost the tail asked for", i)
					}
					since = append(since, "")
				default:
					if o.TailLines != nil {
						t.Errorf("request %d resumes with a tail", i)
					}
					since = append(since, o.SinceTime.Format("2006-01-02T15:04:05.000000000Z07:00")+" ")
				}
			}
			if strings.Join(since, "|") != strings.Join(tt.wantSince, "|") {
				t.Errorf("asked since %q, want %q", since, tt.wantSince)
			}
		})
	}
}

// A refusal that asking again will not change ends the follow, and so
// does any failure of the first request (no follow began: a wrong server,
// pod or credential).
func TestFollowLogGivesUp(t *testing.T) {
	tests := []struct {
		name    string
		answers []scriptedLog
		want    string
	}{
		{"the pod is gone", []scriptedLog{
			{data: ts(1) + "one\n", endErr: errBroken},
			{openErr: status(http.StatusNotFound)},
		}, "not found"},
		{"the first request fails", []scriptedLog{{openErr: errors.New("connection refused")}}, "connection refused"},
		{"the first request is refused", []scriptedLog{{openErr: status(http.StatusServiceUnavailable)}}, "service unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &scriptedLogs{answers: tt.answers}
			err := followLog(t.Context(), logs, "ns", "web", client.LogOptions{}, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
			if len(logs.answers) != 0 {
				t.Errorf("%d answers left: it gave up too soon", len(logs.answers))
			}
		})
	}
}

// statusError is a server's refusal, as the client returns them (an
// apierrors.APIStatus).
type statusError struct{ st metav1.Status }

func (e statusError) Error() string         { return e.st.Message }
func (e statusError) Status() metav1.Status { return e.st }

func status(code int) error {
	return statusError{metav1.Status{Status: metav1.StatusFailure, Code: int32(code), Message: strings.ToLower(http.StatusText(code))}}
}
