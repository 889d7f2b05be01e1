package remotecommand

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	k8sremotecommand "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/rest"
	clientremotecommand "k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// spdyExecutor is client-go's SPDY executor for the session at rawURL,
// offering protocols (client-go's own list when none).
func spdyExecutor(t *testing.T, rawURL string, protocols ...string) clientremotecommand.Executor {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &rest.Config{Host: u.Scheme + "://" + u.Host}
	if len(protocols) == 0 {
		ex, err := clientremotecommand.NewSPDYExecutor(cfg, http.MethodPost, u)
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := clientremotecommand.NewSPDYExecutorForProtocols(transport, upgrader, http.MethodPost, u, protocols...)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// sizeQueue hands client-go the sizes of a terminal, then waits for ctx.
type sizeQueue struct {
	ctx   context.Context
	sizes chan clientremotecommand.TerminalSize
}

func (q sizeQueue) Next() *clientremotecommand.TerminalSize {
	select {
	case size := <-q.sizes:
		return &size
	case <-q.ctx.Done():
		return nil
	}
}

// TestSPDYSession runs sessions with client-go's NewSPDYExecutor, as tools
// built on client-go (and kubectl without websockets) do.
func TestSPDYSession(t *testing.T) {
	tests := []struct {
		name       string
		query      string
		stdin      string
		tty        bool
		sizes      []clientremotecommand.TerminalSize
		run        RunFunc
		wantStdout string
		wantStderr string
		wantCode   int
		// wantError is in the message of a failure other than an exit
		// code (client-go reports those as plain errors).
		wantError string
	}{
		{
			name:  "stdin to stdout until the client closes stdin",
			query: "stdin=true&stdout=true&stderr=true&command=cat",
			stdin: "hello\nworld\n",
			run: func(ctx context.Context, s runtime.Streams) (int, error) {
				_, err := io.Copy(s.Stdout, s.Stdin)
				return 0, err
			},
			wantStdout: "hello\nworld\n",
		},
		{
			name:  "exit code 3",
			query: "stdout=true&stderr=true&command=false",
			run: func(ctx context.Context, s runtime.Streams) (int, error) {
				fmt.Fprint(s.Stdout, "partial")
				return 3, nil
			},
			wantStdout: "partial",
			wantCode:   3,
		},
		{
			name:  "stderr separate from stdout",
			query: "stdout=true&stderr=true",
			run: func(ctx context.Context, s runtime.Streams) (int, error) {
				fmt.Fprint(s.Stdout, "out")
				fmt.Fprint(s.Stderr, "err")
				return 0, nil
			},
			wantStdout: "out",
			wantStderr: "err",
		},
		{
			name:  "terminal sizes",
			query: "stdin=true&stdout=true&tty=true&command=sh",
			tty:   true,
			sizes: []clientremotecommand.TerminalSize{{Width: 80, Height: 24}, {Width: 100, Height: 40}},
			run: func(ctx context.Context, s runtime.Streams) (int, error) {
				if !s.TTY || s.Stderr != nil || s.Resize == nil {
					return 1, fmt.Errorf("streams: tty %v, stderr %v, resize %v", s.TTY, s.Stderr, s.Resize)
				}
				for size := range s.Resize {
					if size == (runtime.TerminalSize{Width: 100, Height: 40}) {
						fmt.Fprintf(s.Stdout, "%dx%d", size.Width, size.Height)
						return 0, nil
					}
				}
				return 1, errors.New("resize channel closed")
			},
			wantStdout: "100x40",
		},
		{
			name:  "run error",
			query: "stdout=true",
			run: func(ctx context.Context, s runtime.Streams) (int, error) {
				return 0, errors.New("no such container")
			},
			wantError: "error executing command in container: no such container",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rawURL, served := testServer(t, &Server{}, tt.run)
			ex := spdyExecutor(t, rawURL+"?"+tt.query)
			opts := clientremotecommand.StreamOptions{Tty: tt.tty}
			var stdout, stderr syncBuffer
			if strings.Contains(tt.query, "stdin=true") {
				opts.Stdin = strings.NewReader(tt.stdin)
			}
			if strings.Contains(tt.query, "stdout=true") {
				opts.Stdout = &stdout
			}
			if strings.Contains(tt.query, "stderr=true") {
				opts.Stderr = &stderr
			}
			if tt.tty {
				q := sizeQueue{ctx: t.Context(), sizes: make(chan clientremotecommand.TerminalSize, len(tt.sizes))}
				for _, s := range tt.sizes {
					q.sizes <- s
				}
				opts.TerminalSizeQueue = q
				// A TTY session ends when the command does; the client's
				// stdin may stay open.
				opts.Stdin = blockingReader{t.Context()}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			err := ex.StreamWithContext(ctx, opts)
			var exitErr exec.CodeExitError
			switch {
			case tt.wantError != "":
				if err == nil || err.Error() != tt.wantError {
					t.Fatalf("error = %v, want %q", err, tt.wantError)
				}
			case tt.wantCode != 0:
				if !errors.As(err, &exitErr) || exitErr.Code != tt.wantCode {
					t.Fatalf("error = %v, want exit code %d", err, tt.wantCode)
				}
			case err != nil:
				t.Fatal(err)
			}
			if got := stdout.String(); got != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", got, tt.wantStdout)
			}
			if got := stderr.String(); got != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", got, tt.wantStderr)
			}
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
}

// blockingReader never has data; it ends with ctx.
type blockingReader struct{ ctx context.Context }

func (r blockingReader) Read([]byte) (int, error) {
	<-r.ctx.Done()
	return 0, io.EOF
}

// A client offering only protocols the server does not speak over SPDY is
// refused with 403 and the list the server accepts, as the kubelet does.
func TestSPDYNegotiation(t *testing.T) {
	rawURL, served := testServer(t, &Server{}, func(context.Context, runtime.Streams) (int, error) {
		t.Error("run called without a session")
		return 0, nil
	})
	ex := spdyExecutor(t, rawURL+"?stdout=true", k8sremotecommand.StreamProtocolV3Name, k8sremotecommand.StreamProtocolV2Name)
	err := ex.StreamWithContext(t.Context(), clientremotecommand.StreamOptions{Stdout: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "403") && !strings.Contains(err.Error(), "unable to negotiate") {
		t.Errorf("error = %v, want a refused upgrade naming the negotiation", err)
	}
	if err := <-served; !errors.Is(err, ErrUnsupportedProtocol) {
		t.Errorf("Serve = %v, want ErrUnsupportedProtocol", err)
	}
}

// A client that goes away cancels run's context; Serve returns once run
// has.
func TestSPDYClientGoneEndsRun(t *testing.T) {
	started := make(chan struct{})
	ended := make(chan error, 1)
	rawURL, served := testServer(t, &Server{}, runUntilCancelled(started, ended))
	ex := spdyExecutor(t, rawURL+"?stdin=true&stdout=true&command=sh")
	ctx, cancel := context.WithCancel(t.Context())
	streamed := make(chan error, 1)
	go func() {
		streamed <- ex.StreamWithContext(ctx, clientremotecommand.StreamOptions{Stdin: blockingReader{ctx}, Stdout: io.Discard})
	}()
	<-started
	cancel()
	if err := <-ended; err != nil {
		t.Error(err)
	}
	if err := <-served; !errors.Is(err, ErrSessionClosed) {
		t.Errorf("Serve = %v, want ErrSessionClosed", err)
	}
	<-streamed
}
