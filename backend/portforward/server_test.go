package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/streaming/pkg/httpstream"
	streamspdy "k8s.io/streaming/pkg/httpstream/spdy"
)

// pod is an HTTP server standing for a pod's port: it answers each
// request with the port it was asked on and the path.
func pod(t *testing.T) (dial DialFunc, port uint16) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "pod says %s", r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	n, _ := strconv.ParseUint(p, 10, 16)
	dial = func(ctx context.Context, port uint16) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	}
	return dial, uint16(n)
}

// agent serves port forward sessions with dial; what Serve returns
// arrives on the channel.
func agent(t *testing.T, dial DialFunc) (*url.URL, <-chan error) {
	t.Helper()
	served := make(chan error, 16)
	var s Server
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served <- s.Serve(r.Context(), w, r, dial)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL + "/pods/uid/portforward")
	if err != nil {
		t.Fatal(err)
	}
	return u, served
}

// newForwarder makes client-go's port forwarder for ports on addresses.
type newForwarder func(addresses, ports []string, stop, ready chan struct{}, out, errOut io.Writer) (*portforward.PortForwarder, error)

// dialers are client-go's two ways of reaching a port forward: SPDY, and
// SPDY tunneled through a websocket (kubectl's default since 1.31).
func dialers(t *testing.T, u *url.URL) map[string]newForwarder {
	t.Helper()
	cfg := &rest.Config{Host: u.Scheme + "://" + u.Host}
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tunnel, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
	if err != nil {
		t.Fatal(err)
	}
	spdyDialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	return map[string]newForwarder{
		"SPDY": func(addresses, ports []string, stop, ready chan struct{}, out, errOut io.Writer) (*portforward.PortForwarder, error) {
			return portforward.NewOnAddresses(spdyDialer, addresses, ports, stop, ready, out, errOut)
		},
		"websocket": func(addresses, ports []string, stop, ready chan struct{}, out, errOut io.Writer) (*portforward.PortForwarder, error) {
			return portforward.NewOnAddresses(tunnel, addresses, ports, stop, ready, out, errOut)
		},
	}
}

// forward runs client-go's port forwarder for remote on a free local port
// and returns that port; the forwarder stops when the test ends.
func forward(t *testing.T, newFW newForwarder, remote uint16, errOut io.Writer) uint16 {
	t.Helper()
	stop, ready := make(chan struct{}), make(chan struct{})
	fw, err := newFW([]string{"127.0.0.1"}, []string{fmt.Sprintf(":%d", remote)}, stop, ready, io.Discard, errOut)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("ForwardPorts: %v", err)
	}
	ports, err := fw.GetPorts()
	if err != nil {
		t.Fatal(err)
	}
	return ports[0].Local
}

func get(t *testing.T, port uint16, path string) string {
	t.Helper()
	// A connection of its own each time: every request is a forwarded
	// connection of the session.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		t.Fatalf("GET %s through the forward: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// TestForward carries HTTP requests, one after the other and side by side,
// through client-go's port forwarder over both protocols.
func TestForward(t *testing.T) {
	dial, podPort := pod(t)
	u, _ := agent(t, dial)
	for name, dialer := range dialers(t, u) {
		t.Run(name, func(t *testing.T) {
			local := forward(t, dialer, podPort, io.Discard)
			if got := get(t, local, "/first"); got != "pod says /first" {
				t.Errorf("GET /first = %q", got)
			}
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					path := fmt.Sprintf("/side-by-side/%d", i)
					if got := get(t, local, path); got != "pod says "+path {
						t.Errorf("GET %s = %q", path, got)
					}
				})
			}
			wg.Wait()
		})
	}
}

// A port nobody listens on: the error stream of that connection says why
// and the data stream ends; the session carries on.
func TestForwardDialError(t *testing.T) {
	dial, podPort := pod(t)
	u, _ := agent(t, func(ctx context.Context, port uint16) (net.Conn, error) {
		if port != podPort {
			return nil, errors.New("connection refused")
		}
		return dial(ctx, port)
	})
	conn := spdySession(t, u)
	errs, data := openPair(t, conn, "1", podPort+1)
	msg, err := io.ReadAll(errs)
	if err != nil || string(msg) != fmt.Sprintf("error forwarding port %d to pod: connection refused", podPort+1) {
		t.Errorf("error stream: %q, %v", msg, err)
	}
	if rest, err := io.ReadAll(data); err != nil || len(rest) != 0 {
		t.Errorf("data stream of the failed connection: %q, %v; want its end", rest, err)
	}

	errs, data = openPair(t, conn, "2", podPort)
	if _, err := io.WriteString(data, "GET /after HTTP/1.0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := io.ReadAll(data)
	if err != nil || !strings.HasSuffix(string(resp), "pod says /after") {
		t.Errorf("the next connection read %q, %v", resp, err)
	}
	if msg, err := io.ReadAll(errs); err != nil || len(msg) != 0 {
		t.Errorf("error stream of a good connection: %q, %v", msg, err)
	}
}

// spdySession opens a SPDY port forward session at u with
// apimachinery's stream library, closed when the test ends.
func spdySession(t *testing.T, u *url.URL) httpstream.Connection {
	t.Helper()
	rt, err := streamspdy.NewRoundTripper(nil)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(httpstream.HeaderProtocolVersion, ProtocolV1)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := rt.NewConnection(resp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// openPair opens the error and data streams of one forwarded connection,
// as client-go does (the error stream's write side closed at once).
func openPair(t *testing.T, conn httpstream.Connection, id string, port uint16) (errs, data httpstream.Stream) {
	t.Helper()
	h := http.Header{}
	h.Set(v1.PortHeader, strconv.Itoa(int(port)))
	h.Set(v1.PortForwardRequestIDHeader, id)
	h.Set(v1.StreamType, v1.StreamTypeError)
	errs, err := conn.CreateStream(h)
	if err != nil {
		t.Fatal(err)
	}
	errs.Close()
	h.Set(v1.StreamType, v1.StreamTypeData)
	data, err = conn.CreateStream(h)
	if err != nil {
		t.Fatal(err)
	}
	return errs, data
}

func TestNotAnUpgrade(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"plain GET", http.Header{}, http.StatusBadRequest},
		{"websocket without the tunnel protocol", http.Header{
			"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
			"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Protocol": {"v4.channel.k8s.io"},
		}, http.StatusBadRequest},
		{"SPDY with another protocol", http.Header{
			"Connection": {"Upgrade"}, "Upgrade": {"SPDY/3.1"}, "X-Stream-Protocol-Version": {"v4.channel.k8s.io"},
		}, http.StatusForbidden},
	}
	u, served := agent(t, func(context.Context, uint16) (net.Conn, error) {
		t.Error("dial without a session")
		return nil, errors.New("no")
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u.String(), nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("HTTP %d, want %d", resp.StatusCode, tt.want)
			}
			if err := <-served; !errors.Is(err, ErrUnsupportedProtocol) {
				t.Errorf("Serve = %v, want ErrUnsupportedProtocol", err)
			}
		})
	}
}
