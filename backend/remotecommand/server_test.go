package remotecommand

import (
	"context"
	"errors"
	"fmt"
	"github.com/berthpaas/berth/internal/syncbuf"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// testServer serves sessions with srv and run at /exec; what Serve returns
// arrives on the channel.
func testServer(t *testing.T, srv *Server, run RunFunc) (baseURL string, served <-chan error) {
	t.Helper()
	done := make(chan error, 16)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		opts, err := ParseOptions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		done <- srv.Serve(w, r, opts, run)
	}))
	t.Cleanup(hs.Close)
	return hs.URL + "/exec", done
}

// syncBuffer is shared with the other tests.
type syncBuffer = syncbuf.Buffer

func TestSession(t *testing.T) {
	tests := []struct {
		name       string
		query      string
		stdin      string
		run        RunFunc
		wantStdout string
		wantStderr string
		wantCode   int
		wantReason metav1.StatusReason // of a *StatusError
	}{
		{
			name:  "echo stdin to stdout",
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
				return 3, nil
			},
			wantCode: 3,
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
			name:  "concurrent stdout and stderr",
			query: "stdout=true&stderr=true",
			run: func(ctx context.Context, s runtime.Streams) (int, error) {
				var wg sync.WaitGroup
				for _, w := range []io.Writer{s.Stdout, s.Stderr} {
					wg.Go(func() {
						for range 100 {
							w.Write([]byte("x"))
						}
					})
				}
				wg.Wait()
				return 0, nil
			},
			wantStdout: strings.Repeat("x", 100),
			wantStderr: strings.Repeat("x", 100),
		},
		{
			name:  "run error",
			query: "stdout=true",
			run: func(ctx context.Context, s runtime.Streams) (int, error) {
				return 0, errors.New("no such container")
			},
			wantReason: metav1.StatusReasonInternalError,
		},
		{
			name:  "exit code out of range",
			query: "stdout=true",
			run: func(ctx context.Context, s runtime.Streams) (int, error) {
				return 256, nil
			},
			wantReason: metav1.StatusReasonInternalError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, served := testServer(t, &Server{}, tt.run)
			sess, err := Dial(t.Context(), url+"?"+tt.query, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if sess.Protocol() != ProtocolV5 {
				t.Errorf("protocol = %q, want %q", sess.Protocol(), ProtocolV5)
			}
			var stdin io.Reader
			if tt.stdin != "" {
				stdin = strings.NewReader(tt.stdin)
			}
			var stdout, stderr syncBuffer
			code, err := sess.Run(t.Context(), stdin, &stdout, &stderr, nil)
			if tt.wantReason != "" {
				var se *StatusError
				if !errors.As(err, &se) || se.Status.Reason != tt.wantReason {
					t.Fatalf("error = %v, want a StatusError with reason %s", err, tt.wantReason)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d", code, tt.wantCode)
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

func TestTTYResize(t *testing.T) {
	url, served := testServer(t, &Server{}, func(ctx context.Context, s runtime.Streams) (int, error) {
		if !s.TTY || s.Stderr != nil || s.Resize == nil {
			return 1, fmt.Errorf("streams: tty %v, stderr %v, resize %v", s.TTY, s.Stderr, s.Resize)
		}
		for size := range s.Resize {
			fmt.Fprintf(s.Stdout, "%dx%d\n", size.Width, size.Height)
			if size == (runtime.TerminalSize{Width: 100, Height: 40}) {
				return 0, nil
			}
		}
		return 1, errors.New("resize channel closed")
	})
	sess, err := Dial(t.Context(), url+"?stdin=true&stdout=true&stderr=true&tty=true&command=sh", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	resize := make(chan runtime.TerminalSize, 2)
	resize <- runtime.TerminalSize{Width: 80, Height: 24}
	resize <- runtime.TerminalSize{Width: 100, Height: 40}
	var stdout syncBuffer
	code, err := sess.Run(t.Context(), nil, &stdout, nil, resize)
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v; stdout %q", code, err, stdout.String())
	}
	// The server keeps only the latest size the command has not taken.
	if got := stdout.String(); !strings.HasSuffix(got, "100x40\n") {
		t.Errorf("stdout = %q, want the sizes ending with 100x40", got)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// runUntilCancelled reports on started when run has begun and on ended
// what the streams did once ctx was cancelled.
func runUntilCancelled(started chan<- struct{}, ended chan<- error) RunFunc {
	return func(ctx context.Context, s runtime.Streams) (int, error) {
		close(started)
		<-ctx.Done()
		if _, err := s.Stdin.Read(make([]byte, 1)); err != io.EOF {
			ended <- fmt.Errorf("stdin read after disconnect: %v, want EOF", err)
			return 0, nil
		}
		if _, err := s.Stdout.Write([]byte("late")); err == nil {
			ended <- errors.New("stdout write after disconnect succeeded")
			return 0, nil
		}
		ended <- nil
		return 0, nil
	}
}

func TestClientDisconnectEndsRun(t *testing.T) {
	started, ended := make(chan struct{}), make(chan error, 1)
	url, served := testServer(t, &Server{}, runUntilCancelled(started, ended))
	sess, err := Dial(t.Context(), url+"?stdin=true&stdout=true&command=sleep", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	sess.Close()
	if err := <-ended; err != nil {
		t.Error(err)
	}
	if err := <-served; !errors.Is(err, ErrSessionClosed) {
		t.Errorf("Serve = %v, want ErrSessionClosed", err)
	}
}

func TestRunContextCancelled(t *testing.T) {
	started, ended := make(chan struct{}), make(chan error, 1)
	url, served := testServer(t, &Server{}, runUntilCancelled(started, ended))
	sess, err := Dial(t.Context(), url+"?stdin=true&stdout=true&command=sleep", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-started
		cancel()
	}()
	if _, err := sess.Run(ctx, nil, io.Discard, io.Discard, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if err := <-ended; err != nil {
		t.Error(err)
	}
	if err := <-served; !errors.Is(err, ErrSessionClosed) {
		t.Errorf("Serve = %v, want ErrSessionClosed", err)
	}
}

func TestMissedPingsEndRun(t *testing.T) {
	started, ended := make(chan struct{}), make(chan error, 1)
	url, served := testServer(t, &Server{PingPeriod: 20 * time.Millisecond}, runUntilCancelled(started, ended))
	// A raw client that never reads never answers pings.
	conn, _, err := (&websocket.Dialer{Subprotocols: []string{ProtocolV5}}).DialContext(t.Context(), "ws"+strings.TrimPrefix(url, "http")+"?stdin=true&stdout=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	<-started
	select {
	case err := <-ended:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run's context not cancelled after missed pings")
	}
	if err := <-served; !errors.Is(err, ErrSessionClosed) {
		t.Errorf("Serve = %v, want ErrSessionClosed", err)
	}
}

func TestNegotiation(t *testing.T) {
	tests := []struct {
		name    string
		offered []string
		want    string // "" expects a refused upgrade
	}{
		{"kubectl", []string{ProtocolV5, ProtocolV4}, ProtocolV5},
		{"server preference wins", []string{ProtocolV4, ProtocolV5}, ProtocolV5},
		{"v4 fallback", []string{"v4.channel.k8s.io"}, ProtocolV4},
		{"unversioned", []string{"base64.channel.k8s.io", "channel.k8s.io"}, ProtocolV1},
		{"unsupported", []string{"base64.channel.k8s.io"}, ""},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, served := testServer(t, &Server{}, func(ctx context.Context, s runtime.Streams) (int, error) {
				return 0, nil
			})
			d := websocket.Dialer{Subprotocols: tt.offered}
			conn, resp, err := d.DialContext(t.Context(), "ws"+strings.TrimPrefix(url, "http")+"?stdout=true", nil)
			if tt.want == "" {
				if err == nil {
					conn.Close()
					t.Fatal("upgrade succeeded")
				}
				if resp == nil || resp.StatusCode != http.StatusBadRequest {
					t.Errorf("response = %v, want 400", resp)
				}
				if err := <-served; !errors.Is(err, ErrUnsupportedProtocol) {
					t.Errorf("Serve = %v, want ErrUnsupportedProtocol", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if got := conn.Subprotocol(); got != tt.want {
				t.Errorf("subprotocol = %q, want %q", got, tt.want)
			}
			readChannels(t, conn)
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
}

// readChannels reads conn until the server closes it normally and returns
// what each channel carried.
func readChannels(t *testing.T, conn *websocket.Conn) map[byte]string {
	t.Helper()
	got := map[byte]string{}
	for {
		_, data, err := conn.ReadMessage()
		if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			return got
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got[data[0]] += string(data[1:])
	}
}

func TestV4Session(t *testing.T) {
	url, served := testServer(t, &Server{}, func(ctx context.Context, s runtime.Streams) (int, error) {
		// v4 cannot signal stdin EOF: read what the client is known to send.
		buf := make([]byte, 5)
		if _, err := io.ReadFull(s.Stdin, buf); err != nil {
			return 0, err
		}
		s.Stdout.Write(buf)
		return 3, nil
	})
	sess, err := dial(t.Context(), url+"?stdin=true&stdout=true&stderr=true&command=head", nil, nil, []string{ProtocolV4})
	if err != nil {
		t.Fatal(err)
	}
	if sess.Protocol() != ProtocolV4 {
		t.Fatalf("protocol = %q, want %q", sess.Protocol(), ProtocolV4)
	}
	if err := sess.CloseStdin(); !errors.Is(err, ErrStdinCloseUnsupported) {
		t.Errorf("CloseStdin = %v, want ErrStdinCloseUnsupported", err)
	}
	if err := sess.WriteStdin([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	var stdout syncBuffer
	code, err := sess.Run(t.Context(), nil, &stdout, io.Discard, nil)
	if err != nil || code != 3 {
		t.Fatalf("Run = %d, %v; want 3, nil", code, err)
	}
	if got := stdout.String(); got != "hello" {
		t.Errorf("stdout = %q, want %q", got, "hello")
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestV1StatusIsText(t *testing.T) {
	for _, tt := range []struct {
		name string
		code int
		want string
	}{
		{"success sends nothing", 0, ""},
		{"failure sends the message", 3, "command terminated with non-zero exit code: exit status 3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url, served := testServer(t, &Server{}, func(ctx context.Context, s runtime.Streams) (int, error) {
				return tt.code, nil
			})
			d := websocket.Dialer{Subprotocols: []string{ProtocolV1}}
			conn, _, err := d.DialContext(t.Context(), "ws"+strings.TrimPrefix(url, "http")+"?stdout=true", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if got := readChannels(t, conn)[channelError]; got != tt.want {
				t.Errorf("error channel = %q, want %q", got, tt.want)
			}
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
}
