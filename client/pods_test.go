package client_test

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	noderuntime "github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/remotecommand"
	"github.com/berthpaas/berth/client"
	"github.com/berthpaas/berth/client/clienttest"
)

func seedPod(srv *clienttest.Server, name string) {
	srv.Seed(client.Pods, "dev", clienttest.Object{"metadata": map[string]any{"name": name}})
}

// stampedLog is "line 1\nline 2\r\n" read with timestamps.
var stampedLog = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line 1\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line 2\r\n$`)

func TestPodLogsQuery(t *testing.T) {
	c, srv := newClient(t)
	seedPod(srv, "web")
	seen := make(chan client.LogOptions, 1)
	srv.Logs = func(_ context.Context, _, _ string, opts client.LogOptions, w io.Writer) error {
		seen <- opts
		_, err := io.WriteString(w, "line 1\nline 2\r\n")
		return err
	}
	tail, since, limit := int64(10), int64(300), int64(4096)
	sinceTime := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	want := client.LogOptions{Container: "app", Follow: true, TailLines: &tail, SinceSeconds: &since, SinceTime: &sinceTime,
		Timestamps: true, LimitBytes: &limit, Previous: true}
	body, err := c.PodLogs(t.Context(), "dev", "web", want)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	if !stampedLog.Match(data) {
		t.Errorf("log = %q, want the lines with their times", data)
	}
	if got := <-seen; !reflect.DeepEqual(got, want) {
		t.Errorf("server saw %+v, want %+v", got, want)
	}
	last := srv.Requests()[len(srv.Requests())-1]
	if last.Path != "/api/v1/namespaces/dev/pods/web/log" {
		t.Errorf("path = %q", last.Path)
	}
}

// A followed log delivers what the server flushed before the stream ends.
func TestPodLogsFollowStreams(t *testing.T) {
	c, srv := newClient(t)
	seedPod(srv, "web")
	release := make(chan struct{})
	srv.Logs = func(ctx context.Context, _, _ string, _ client.LogOptions, w io.Writer) error {
		if _, err := io.WriteString(w, "partial line without newline"); err != nil {
			return err
		}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}
	body, err := c.PodLogs(t.Context(), "dev", "web", client.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	buf := make([]byte, 100)
	n, err := io.ReadAtLeast(body, buf, len("partial line without newline"))
	if err != nil || string(buf[:n]) != "partial line without newline" {
		t.Fatalf("first read = %q, %v", buf[:n], err)
	}
	close(release)
	if rest, err := io.ReadAll(body); err != nil || len(rest) != 0 {
		t.Errorf("rest = %q, %v", rest, err)
	}
}

func TestPodOperationsOnMissingPod(t *testing.T) {
	c, _ := newClient(t)
	ctx := t.Context()
	if _, err := c.PodLogs(ctx, "dev", "nope", client.LogOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("PodLogs error = %v, want NotFound", err)
	}
	if _, err := c.PodDiff(ctx, "dev", "nope", ""); !apierrors.IsNotFound(err) {
		t.Errorf("PodDiff error = %v, want NotFound", err)
	}
	if err := c.DoPodAction(ctx, "dev", "nope", client.StopPod); !apierrors.IsNotFound(err) {
		t.Errorf("DoPodAction error = %v, want NotFound", err)
	}
	if _, err := c.PodLogs(ctx, "", "web", client.LogOptions{}); err == nil {
		t.Error("PodLogs without a namespace succeeded")
	}
}

func TestPodDiff(t *testing.T) {
	c, srv := newClient(t)
	seedPod(srv, "web")
	want := []noderuntime.Change{{Path: "/tmp", Kind: "C"}, {Path: "/tmp/x", Kind: "A"}}
	srv.SetDiff("dev", "web", want...)
	got, err := c.PodDiff(t.Context(), "dev", "web", "app")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes = %+v, want %+v", got, want)
	}
	if q := srv.Requests()[len(srv.Requests())-1].Query; q != "container=app" {
		t.Errorf("query = %q", q)
	}
}

func TestDoPodAction(t *testing.T) {
	c, srv := newClient(t)
	seedPod(srv, "web")
	for _, action := range []client.PodAction{client.StopPod, client.StartPod, client.RestartPod} {
		if err := c.DoPodAction(t.Context(), "dev", "web", action); err != nil {
			t.Errorf("%s: %v", action, err)
		}
	}
	want := []string{
		"POST /api/v1/namespaces/dev/pods/web/stop",
		"POST /api/v1/namespaces/dev/pods/web/start",
		"POST /api/v1/namespaces/dev/pods/web/restart",
	}
	if got := srv.Writes(); !reflect.DeepEqual(got, want) {
		t.Errorf("writes = %q, want %q", got, want)
	}
}

func TestDialExec(t *testing.T) {
	c, srv := newClient(t)
	seedPod(srv, "web")
	seen := make(chan remotecommand.Options, 1)
	srv.Exec = func(_, _ string, opts remotecommand.Options) remotecommand.RunFunc {
		seen <- opts
		return func(_ context.Context, s noderuntime.Streams) (int, error) {
			in, _ := io.ReadAll(s.Stdin)
			io.WriteString(s.Stdout, "out:"+string(in))
			io.WriteString(s.Stderr, "err")
			return 3, nil
		}
	}
	opts := remotecommand.Options{Stdin: true, Stdout: true, Stderr: true, Command: []string{"sh", "-c", "cat; exit 3"}, Container: "app"}
	session, err := c.DialExec(t.Context(), "dev", "web", opts)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code, err := session.Run(t.Context(), strings.NewReader("hello"), &stdout, &stderr, nil)
	if err != nil || code != 3 {
		t.Fatalf("Run = %d, %v; want 3", code, err)
	}
	if stdout.String() != "out:hello" || stderr.String() != "err" {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	if got := <-seen; !reflect.DeepEqual(got, opts) {
		t.Errorf("server saw %+v, want %+v", got, opts)
	}
	last := srv.Requests()[len(srv.Requests())-1]
	q, _ := url.ParseQuery(last.Query)
	if last.Path != "/api/v1/namespaces/dev/pods/web/exec" || q.Get("stdin") != "true" || len(q["command"]) != 3 {
		t.Errorf("request = %s?%s", last.Path, last.Query)
	}
}

func TestDialAttachIgnoresCommand(t *testing.T) {
	c, srv := newClient(t)
	seedPod(srv, "web")
	srv.Exec = func(_, _ string, opts remotecommand.Options) remotecommand.RunFunc {
		return func(_ context.Context, s noderuntime.Streams) (int, error) {
			io.WriteString(s.Stdout, strings.Join(opts.Command, " "))
			return 0, nil
		}
	}
	session, err := c.DialAttach(t.Context(), "dev", "web", remotecommand.Options{Stdout: true, Command: []string{"ignored"}})
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if code, err := session.Run(t.Context(), nil, &stdout, nil, nil); err != nil || code != 0 {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if stdout.Len() != 0 {
		t.Errorf("attach ran a command: %q", stdout.String())
	}
	if last := srv.Requests()[len(srv.Requests())-1]; last.Path != "/api/v1/namespaces/dev/pods/web/attach" {
		t.Errorf("path = %q", last.Path)
	}
}

func TestDialExecRefused(t *testing.T) {
	c, srv := newClient(t)
	seedPod(srv, "web")
	if _, err := c.DialExec(t.Context(), "dev", "web", remotecommand.Options{Stdout: true}); err == nil {
		t.Error("DialExec without a command succeeded")
	}
	if _, err := c.DialExec(t.Context(), "dev", "web", remotecommand.Options{Stdout: true, Command: []string{"true"}}); err == nil {
		t.Error("DialExec on a fake without Exec succeeded")
	}
}
