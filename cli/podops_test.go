package cli_test

import (
	"context"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	noderuntime "github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/remotecommand"
	"github.com/berthpaas/berth/cli"
	"github.com/berthpaas/berth/client"
	"github.com/berthpaas/berth/client/clienttest"
)

func seedPod(f *fixture, name string) {
	f.srv.Seed(client.Pods, "dev", clienttest.Object{
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"nodeName": "node-1", "containers": []any{map[string]any{"name": name, "image": "x"}}},
	})
}

func TestLogsOptions(t *testing.T) {
	f := newFixture(t)
	seedPod(f, "web")
	seen := make(chan client.LogOptions, 1)
	f.srv.Logs = func(_ context.Context, namespace, pod string, opts client.LogOptions, w io.Writer) error {
		seen <- opts
		_, err := io.WriteString(w, "a line\nan unfinished line\r")
		return err
	}
	ten, fiveMinutes, limit := int64(10), int64(300), int64(4096)
	sinceTime := time.Date(2025, 3, 1, 12, 0, 0, 500_000_000, time.UTC)
	const plain = "a line\nan unfinished line\r"
	tests := []struct {
		name string
		args []string
		want client.LogOptions
		out  string // with the server's times as TIME
	}{
		{"defaults", []string{"logs", "web"}, client.LogOptions{}, plain},
		{"all flags", []string{"logs", "web", "-c", "app", "--tail", "10", "--since", "5m", "--timestamps", "-p"},
			client.LogOptions{Container: "app", TailLines: &ten, SinceSeconds: &fiveMinutes, Timestamps: true, Previous: true},
			"TIME a line\nTIME an unfinished line\r"},
		{"since rounds up", []string{"logs", "web", "--since", "299500ms", "--previous"},
			client.LogOptions{SinceSeconds: &fiveMinutes, Previous: true}, plain},
		{"since a time, to a limit", []string{"logs", "web", "--since-time", "2025-03-01T13:00:00.5+01:00", "--limit-bytes", "4096"},
			client.LogOptions{SinceTime: &sinceTime, LimitBytes: &limit}, plain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if out := logTime.ReplaceAllString(mustRun(t, "", tt.args...), "TIME "); out != tt.out {
				t.Errorf("output = %q, want %q", out, tt.out)
			}
			if got := <-seen; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("server saw %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, _, err := run(t, "", "logs", "missing"); !apierrors.IsNotFound(err) {
		t.Errorf("logs of a missing pod: %v", err)
	}
}

// logTime is the time at the start of a log line read with timestamps.
var logTime = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z `)

func TestLogsBadOptions(t *testing.T) {
	f := newFixture(t)
	seedPod(f, "web")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--since-time", "yesterday"}, `--since-time "yesterday": not an RFC 3339 time`},
		{[]string{"--since-time", "2025-03-01T12:00:00Z", "--since", "5m"}, "--since and --since-time: give one of them"},
		{[]string{"--limit-bytes", "-1"}, "--limit-bytes -1: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			root := cli.NewRootCommand()
			root.SetArgs(append([]string{"logs", "web"}, tt.args...))
			root.SetOut(io.Discard)
			root.SetErr(io.Discard)
			if err := root.ExecuteContext(t.Context()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// logs -f writes each chunk as it arrives, without waiting for a newline
// or the end of the stream.
func TestLogsFollow(t *testing.T) {
	f := newFixture(t)
	seedPod(f, "web")
	release := make(chan struct{})
	f.srv.Logs = func(ctx context.Context, _, _ string, opts client.LogOptions, w io.Writer) error {
		if !opts.Follow {
			return errors.New("not a follow")
		}
		io.WriteString(w, "first, no newline yet")
		select {
		case <-release:
		case <-ctx.Done():
			return nil
		}
		_, err := io.WriteString(w, "; then the rest\n")
		return err
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out syncBuffer
	root := cli.NewRootCommand()
	root.SetArgs([]string{"logs", "-f", "web"})
	root.SetOut(&out)
	root.SetErr(&out)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	waitFor(t, &out, "first, no newline yet")
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("logs -f: %v", err)
	}
	if got := out.String(); got != "first, no newline yet; then the rest\n" {
		t.Errorf("output = %q", got)
	}
}

// Interrupting a follow ends it without an error.
func TestLogsFollowInterrupted(t *testing.T) {
	f := newFixture(t)
	seedPod(f, "web")
	f.srv.Logs = func(ctx context.Context, _, _ string, _ client.LogOptions, w io.Writer) error {
		io.WriteString(w, "waiting\n")
		<-ctx.Done()
		return nil
	}
	ctx, cancel := context.WithCancel(t.Context())
	var out syncBuffer
	root := cli.NewRootCommand()
	root.SetArgs([]string{"logs", "-f", "web"})
	root.SetOut(&out)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	waitFor(t, &out, "waiting")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("interrupted logs -f: %v", err)
	}
}

func TestDiff(t *testing.T) {
	f := newFixture(t)
	seedPod(f, "web")
	f.srv.SetDiff("dev", "web", noderuntime.Change{Path: "/tmp", Kind: "C"}, noderuntime.Change{Path: "/tmp/x", Kind: "A"}, noderuntime.Change{Path: "/etc/motd", Kind: "D"})
	if out := mustRun(t, "", "diff", "-c", "web", "web"); out != "C /tmp\nA /tmp/x\nD /etc/motd\n" {
		t.Errorf("output = %q", out)
	}
	reqs := f.srv.Requests()
	if last := reqs[len(reqs)-1]; last.Path != "/api/v1/namespaces/dev/pods/web/diff" || last.Query != "container=web" {
		t.Errorf("request = %s?%s", last.Path, last.Query)
	}
}

func TestStopStartRestart(t *testing.T) {
	f := newFixture(t)
	seedPod(f, "web")
	seedPod(f, "db")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"stop", "web", "db"}, "pod/web stopped\npod/db stopped\n"},
		{[]string{"start", "web"}, "pod/web started\n"},
		{[]string{"restart", "db"}, "pod/db restarted\n"},
	} {
		if out := mustRun(t, "", tt.args...); out != tt.want {
			t.Errorf("berth %s: output %q, want %q", strings.Join(tt.args, " "), out, tt.want)
		}
	}
	want := []string{
		"POST /api/v1/namespaces/dev/pods/web/stop",
		"POST /api/v1/namespaces/dev/pods/db/stop",
		"POST /api/v1/namespaces/dev/pods/web/start",
		"POST /api/v1/namespaces/dev/pods/db/restart",
	}
	if got := f.srv.Writes(); !reflect.DeepEqual(got, want) {
		t.Errorf("writes = %q, want %q", got, want)
	}
	out, _, err := run(t, "", "stop", "missing", "web")
	if !apierrors.IsNotFound(err) || out != "pod/web stopped\n" {
		t.Errorf("stop of a missing and an existing pod: out %q, err %v", out, err)
	}
}

// fakeExec answers exec sessions by echoing stdin after a prefix, writing
// to stderr and exiting with code; the options each session had are sent
// on the returned channel.
func fakeExec(f *fixture, code int) <-chan remotecommand.Options {
	seen := make(chan remotecommand.Options, 10)
	f.srv.Exec = func(_, _ string, opts remotecommand.Options) remotecommand.RunFunc {
		seen <- opts
		return func(_ context.Context, s noderuntime.Streams) (int, error) {
			io.WriteString(s.Stdout, "out:")
			if s.Stdin != nil {
				io.Copy(s.Stdout, s.Stdin)
			}
			if s.Stderr != nil {
				io.WriteString(s.Stderr, "err")
			}
			return code, nil
		}
	}
	return seen
}

func TestExec(t *testing.T) {
	f := newFixture(t)
	seedPod(f, "web")
	seen := fakeExec(f, 0)
	out, stderr, err := run(t, "hello", "exec", "-i", "-c", "web", "web", "--", "cat", "-n")
	if err != nil || out != "out:hello" || stderr != "err" {
		t.Fatalf("exec: out %q, stderr %q, err %v", out, stderr, err)
	}
	want := remotecommand.Options{Stdin: true, Stdout: true, Stderr: true, Command: []string{"cat", "-n"}, Container: "web"}
	if got := <-seen; !reflect.DeepEqual(got, want) {
		t.Errorf("server saw %+v, want %+v", got, want)
	}

	// Without -i the command gets no stdin.
	if out, _, err := run(t, "ignored", "exec", "web", "--", "true"); err != nil || out != "out:" {
		t.Errorf("exec without -i: out %q, err %v", out, err)
	}
	if got := <-seen; got.Stdin {
		t.Errorf("exec without -i asked for stdin: %+v", got)
	}
}

func TestExecExitCode(t *testing.T) {
	f := newFixture(t)
	seedPod(f, "web")
	fakeExec(f, 3)
	_, _, err := run(t, "", "exec", "web", "--", "false")
	var exit *cli.ExitError
	if !errors.As(err, &exit) || exit.Code != 3 || cli.ExitCode(err) != 3 {
		t.Fatalf("error = %v, want exit code 3", err)
	}
	if err.Error() != "command terminated with exit code 3" {
		t.Errorf("message = %q", err.Error())
	}
}

// -t on a stdin that is not a terminal falls back to plain streams, as
// kubectl does.
func TestExecTTYNeedsTerminal(t *testing.T) {
	f := newFixture(t)
	seedPod(f, "web")
	seen := fakeExec(f, 0)
	_, stderr, err := run(t, "", "exec", "-it", "web", "--", "sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "Unable to use a TTY") {
		t.Errorf("stderr = %q, want the TTY warning", stderr)
	}
	if got := <-seen; got.TTY || !got.Stderr {
		t.Errorf("server saw %+v, want no TTY and stderr", got)
	}
}

func TestExecErrors(t *testing.T) {
	f := newFixture(t)
	seedPod(f, "web")
	f.srv.Seed(client.Pods, "dev", clienttest.Object{"metadata": map[string]any{"name": "done"}, "status": map[string]any{"phase": "Succeeded"}})
	fakeExec(f, 0)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"exec", "web"}, "no command"},
		{[]string{"exec", "web", "ls"}, "after --"},
		{[]string{"exec", "--", "ls"}, "give POD"},
		{[]string{"exec", "missing", "--", "ls"}, `"missing" not found`},
		{[]string{"exec", "done", "--", "ls"}, "has completed"},
	} {
		_, _, err := run(t, "", tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("berth %s: error %v, want %q", strings.Join(tt.args, " "), err, tt.want)
		}
		if code := cli.ExitCode(err); code != 1 {
			t.Errorf("berth %s: exit code %d, want 1", strings.Join(tt.args, " "), code)
		}
	}
}

func TestAttach(t *testing.T) {
	f := newFixture(t)
	seedPod(f, "web")
	seen := fakeExec(f, 0)
	out, _, err := run(t, "typed", "attach", "-i", "web")
	if err != nil || out != "out:typed" {
		t.Fatalf("attach: out %q, err %v", out, err)
	}
	if got := <-seen; got.Command != nil || !got.Stdin {
		t.Errorf("server saw %+v", got)
	}
	reqs := f.srv.Requests()
	if last := reqs[len(reqs)-1]; last.Path != "/api/v1/namespaces/dev/pods/web/attach" {
		t.Errorf("path = %q", last.Path)
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"plain error", errors.New("boom"), 1},
		{"remote code", &cli.ExitError{Code: 42}, 42},
		{"wrapped remote code", errors.Join(errors.New("context"), &cli.ExitError{Code: 7}), 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cli.ExitCode(tt.err); got != tt.want {
				t.Errorf("ExitCode = %d, want %d", got, tt.want)
			}
		})
	}
}
