package node

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/fake"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// scriptedLogs is a runtime whose Logs writes the chunks it is given, one
// per receive, so a test sees when each reaches the client.
type scriptedLogs struct {
	*fake.Runtime
	chunks chan string
}

func (s scriptedLogs) Logs(ctx context.Context, uid, _ string, _ runtime.LogOptions, w io.Writer) error {
	if uid != "u1" {
		return runtime.ErrNotFound
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case c, ok := <-s.chunks:
			if !ok {
				return nil
			}
			if _, err := io.WriteString(w, c); err != nil {
				return err
			}
		}
	}
}

func testPod() *v1.Pod {
	return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo", UID: "u1"},
		Spec: v1.PodSpec{Containers: []v1.Container{{Name: "app", Image: "img"}}}}
}

func testEndpoint(t *testing.T, rt runtime.Runtime) *httptest.Server {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	usage, err := newUsageMeter("n1", t.TempDir(), rt, log)
	if err != nil {
		t.Fatal(err)
	}
	a := &Agent{
		rt:      rt,
		log:     log,
		workers: map[string]*podWorker{},
		usage:   usage,
	}
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	return srv
}

// request calls the endpoint's handler; who may call it is the TLS
// listener's concern (tls_test.go).
func request(t *testing.T, method, url string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestLogStreamPassesBytesAsTheyCome(t *testing.T) {
	rt := scriptedLogs{Runtime: fake.New(fake.Options{}), chunks: make(chan string)}
	if _, err := rt.SyncPod(t.Context(), testPod(), runtime.PodData{}); err != nil {
		t.Fatal(err)
	}
	srv := testEndpoint(t, rt)
	if resp := request(t, "GET", srv.URL+"/pods/u1/log?follow=true&container=nope"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("follow of a missing container: %d", resp.StatusCode)
	}
	resp := request(t, "GET", srv.URL+"/pods/u1/log?follow=true&container=app")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("log: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	body := bufio.NewReader(resp.Body)
	long := strings.Repeat("x", 100<<10) + "\n"
	for _, chunk := range []string{"progress 10%\r", "progress 90%\rdone\n", long, "no newline yet"} {
		rt.chunks <- chunk
		buf := make([]byte, len(chunk))
		done := make(chan error, 1)
		go func() { _, err := io.ReadFull(body, buf); done <- err }()
		select {
		case err := <-done:
			if err != nil || string(buf) != chunk {
				t.Fatalf("read %q (%v), want %q", buf[:min(len(buf), 40)], err, chunk[:min(len(chunk), 40)])
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("chunk %q not flushed to the client", chunk[:min(len(chunk), 40)])
		}
	}
	close(rt.chunks)
	if rest, _ := io.ReadAll(body); len(rest) != 0 {
		t.Fatalf("trailing bytes %q", rest)
	}
}

func TestEndpointErrorsAndOperations(t *testing.T) {
	rt := fake.New(fake.Options{})
	if _, err := rt.SyncPod(t.Context(), testPod(), runtime.PodData{}); err != nil {
		t.Fatal(err)
	}
	srv := testEndpoint(t, rt)
	tests := []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/pods/nope/log?container=app", 404, `"reason":"NotFound"`},
		{"GET", "/pods/u1/log?container=app&tailLines=-1", 400, `"reason":"BadRequest"`},
		{"GET", "/pods/u1/log?container=app&tailLines=1", 200, "fake container"},
		{"GET", "/pods/u1/log?container=app&limitBytes=4", 200, "fake"},
		{"GET", "/pods/u1/log?container=app&sinceTime=2000-01-01T00:00:00.000000001Z&timestamps=true", 200, "Z fake container"},
		{"GET", "/pods/u1/log?container=app&sinceTime=tomorrow", 400, "sinceTime"},
		{"GET", "/pods/u1/log?container=app&sinceTime=2000-01-01T00:00:00Z&sinceSeconds=5", 400, "at most one"},
		{"GET", "/pods/u1/diff?container=app", 200, "[]"},
		{"GET", "/pods/u1/exec?container=app&stdout=1", 400, "command"},
		{"POST", "/pods/u1/stop", 200, `{"status":"ok"}`},
		{"POST", "/pods/u1/start", 200, `{"status":"ok"}`},
		{"POST", "/pods/u1/restart", 200, `{"status":"ok"}`},
		{"POST", "/pods/nope/stop", 404, "NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp := request(t, tt.method, srv.URL+tt.path)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code || !strings.Contains(string(body), tt.body) {
				t.Fatalf("%d %s, want %d with %q", resp.StatusCode, body, tt.code, tt.body)
			}
		})
	}
}

// A follow that the agent cuts short (it stops, or the engine fails) ended
// like a log that ended, and clients took it for the container's end; the
// response is aborted now, and only a log that ended ends cleanly.
func TestLogStreamCutShortIsNotAnEnd(t *testing.T) {
	follow := func(t *testing.T) (scriptedLogs, *bufio.Reader, context.CancelFunc) {
		rt := scriptedLogs{Runtime: fake.New(fake.Options{}), chunks: make(chan string)}
		if _, err := rt.SyncPod(t.Context(), testPod(), runtime.PodData{}); err != nil {
			t.Fatal(err)
		}
		a := &Agent{rt: rt, log: slog.New(slog.DiscardHandler), workers: map[string]*podWorker{}}
		ctx, stop := context.WithCancel(context.Background())
		srv := httptest.NewUnstartedServer(a.handler())
		srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
		srv.Start()
		t.Cleanup(srv.Close)
		resp := request(t, "GET", srv.URL+"/pods/u1/log?follow=true&container=app")
		rt.chunks <- "line 1\n"
		body := bufio.NewReader(resp.Body)
		if line, err := body.ReadString('\n'); err != nil || line != "line 1\n" {
			t.Fatalf("read %q, %v", line, err)
		}
		return rt, body, stop
	}
	t.Run("cut short", func(t *testing.T) {
		_, body, stop := follow(t)
		stop() // the agent stops
		if rest, err := io.ReadAll(body); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("the cut stream ended with %q, %v; want io.ErrUnexpectedEOF", rest, err)
		}
	})
	t.Run("ended", func(t *testing.T) {
		rt, body, stop := follow(t)
		defer stop()
		close(rt.chunks) // the container stopped: the log ended
		if rest, err := io.ReadAll(body); err != nil || len(rest) != 0 {
			t.Errorf("the ended log: %q, %v; want a clean end", rest, err)
		}
	})
}
