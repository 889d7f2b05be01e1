package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/berthpaas/berth/client"
)

// Reconnection back-off of a followed log.
const (
	followRetryFirst = 250 * time.Millisecond
	followRetryMax   = 4 * time.Second
	// followRecent is how many printed lines are kept to recognise the
	// ones a new stream repeats.
	followRecent = 1000
)

// podLogOpener opens a pod's log.
type podLogOpener interface {
	PodLogs(ctx context.Context, namespace, name string, opts client.LogOptions) (io.ReadCloser, error)
}

// followLog prints a followed log to out until it ends (the container
// stopped) or ctx does, across any number of lost connections (a master or
// an agent restarting); a first request that fails ends it, as kubectl's
// does. It asks with timestamps, and after a loss asks again from the time
// of the last line it printed and drops what the new stream repeats, by the rule the API's log websocket documents (see
// serveLogSocket in backend/api). It prints the times only if opts asks
// for them. Notes on reconnects go to errOut.
func followLog(ctx context.Context, api podLogOpener, namespace, pod string, opts client.LogOptions, out, errOut io.Writer) error {
	printer := &logPrinter{out: out, timestamps: opts.Timestamps}
	opts.Follow, opts.Timestamps = true, true
	backoff := followRetryFirst
	var lost time.Time
	for first := true; ; first = false {
		body, err := api.PodLogs(ctx, namespace, pod, printer.resumeOptions(opts))
		if err != nil && first {
			return err // a wrong name, server or credential: no follow began
		}
		if err == nil {
			if !lost.IsZero() {
				fmt.Fprintf(errOut, "berth: log stream back after %v\n", time.Since(lost).Round(100*time.Millisecond))
				lost = time.Time{}
			}
			backoff = followRetryFirst
			err = printer.copy(body)
			body.Close()
			if err == nil {
				return nil // the log ended: the container stopped
			}
		}
		if ctx.Err() != nil {
			return nil // interrupted: the end a follow usually has
		}
		if !retryable(err) {
			return fmt.Errorf("log of pod %q: %w", pod, err)
		}
		if lost.IsZero() {
			lost = time.Now()
			fmt.Fprintf(errOut, "berth: log stream lost (%v); reconnecting\n", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, followRetryMax)
	}
}

// retryable says whether a failed follow may succeed if asked again: the
// connection broke, the server is away or busy.
func retryable(err error) bool {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		switch status.Status().Code {
		case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	return true
}

// stampedLine is a printed line and its time.
type stampedLine struct {
	at   time.Time
	text []byte // without its newline
}

// logPrinter prints a log read with timestamps, keeping what it needs to
// resume it.
type logPrinter struct {
	out        io.Writer
	timestamps bool // print the times

	// recent are the last complete lines printed.
	recent []stampedLine
	// The line being read: its time (stamp holds its text until the
	// space), the text so far, and how much of line (and of its time) is
	// on out.
	inStamp      bool
	stamp        []byte
	at           time.Time
	line         []byte
	printed      int
	stampPrinted bool
	// repeated: the line is one printed before, dropped.
	repeated bool

	// After a reconnect: the lines the new stream repeats, and the
	// unfinished line that was on out when the stream was lost (its rest
	// may follow).
	repeats    []stampedLine
	unfinished []byte
}

// resumeOptions are the options of the next request: the first as asked;
// later ones from the time of the last line printed.
func (p *logPrinter) resumeOptions(opts client.LogOptions) client.LogOptions {
	p.inStamp, p.stamp = true, p.stamp[:0]
	if len(p.recent) == 0 && len(p.line) == 0 {
		return opts
	}
	since := p.at
	if n := len(p.recent); n > 0 {
		since = p.recent[n-1].at
	}
	p.repeats = p.repeats[:0]
	for _, l := range p.recent {
		if !l.at.Before(since) {
			p.repeats = append(p.repeats, l)
		}
	}
	// The unfinished line comes again: whole if it ended meanwhile,
	// otherwise from what is written after the reconnect.
	p.unfinished = nil
	if p.printed > 0 {
		p.unfinished = bytes.Clone(p.line[:p.printed])
	}
	p.line, p.printed = p.line[:0], 0
	opts.TailLines, opts.SinceSeconds, opts.SinceTime = nil, nil, &since
	return opts
}

// copy prints the stream until it ends; it returns nil at its end, an
// error if it broke.
func (p *logPrinter) copy(body io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if werr := p.take(buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// take reads bytes of the stream.
func (p *logPrinter) take(data []byte) error {
	for len(data) > 0 {
		if p.inStamp {
			i := bytes.IndexByte(data, ' ')
			if i < 0 {
				p.stamp = append(p.stamp, data...)
				return nil
			}
			p.stamp = append(p.stamp, data[:i]...)
			data = data[i+1:]
			at, err := time.Parse(time.RFC3339Nano, string(p.stamp))
			if err != nil {
				return fmt.Errorf("a log line without its time: %q", p.stamp)
			}
			p.inStamp, p.at, p.stampPrinted, p.repeated = false, at, false, false
			p.line, p.printed = p.line[:0], 0
		}
		seg := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			seg = data[:i+1]
		}
		data = data[len(seg):]
		p.line = append(p.line, seg...)
		if err := p.show(); err != nil {
			return err
		}
		if seg[len(seg)-1] == '\n' {
			p.ended()
		}
	}
	return nil
}

// show prints what may be printed of the line being read.
func (p *logPrinter) show() error {
	if len(p.repeats) > 0 {
		want := append(p.repeats[0].text[:len(p.repeats[0].text):len(p.repeats[0].text)], '\n')
		switch {
		case bytes.Equal(p.line, want):
			p.repeated = true // printed before: dropped
			return nil
		case bytes.HasPrefix(want, p.line):
			return nil // it may be: wait for more
		}
		p.repeats = nil // new lines from here on
	}
	if p.unfinished != nil {
		switch {
		case bytes.HasPrefix(p.line, p.unfinished):
			// The rest of the line that was on out.
			p.printed, p.stampPrinted = len(p.unfinished), true
			p.unfinished = nil
		case bytes.HasPrefix(p.unfinished, p.line):
			return nil
		default:
			p.unfinished = nil
			if p.timestamps {
				// A time must not land inside the line left open.
				if _, err := p.out.Write([]byte("\n")); err != nil {
					return err
				}
			}
		}
	}
	var out []byte
	if p.timestamps && !p.stampPrinted {
		out = append(out, p.stamp...)
		out = append(out, ' ')
		p.stampPrinted = true
	}
	out = append(out, p.line[p.printed:]...)
	p.printed = len(p.line)
	if len(out) == 0 {
		return nil
	}
	_, err := p.out.Write(out)
	return err
}

// ended records the line just read to its end.
func (p *logPrinter) ended() {
	if p.repeated {
		p.repeats = p.repeats[1:]
	} else {
		p.recent = append(p.recent, stampedLine{at: p.at, text: bytes.Clone(bytes.TrimSuffix(p.line, []byte("\n")))})
		if over := len(p.recent) - followRecent; over > 0 {
			p.recent = p.recent[over:]
		}
	}
	p.inStamp, p.stamp, p.line, p.printed = true, p.stamp[:0], p.line[:0], 0
}
