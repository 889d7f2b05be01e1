package router

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// countingServer is an endpoint that counts its connections' ends.
type countingServer struct {
	*httptest.Server
	closed atomic.Int64
}

func startCounting(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			s.closed.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// get sends one GET through tr and reads its answer to the end.
func get(t *testing.T, tr http.RoundTripper, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

func (t *inlineTransport) idleCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, list := range t.idle {
		n += len(list)
	}
	return n
}

// waitFor polls cond until it holds, or fails the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestInlineTransportKeeps: a connection is kept once its answer is read,
// closed once idle too long, and no more than maxIdlePerEndpoint are
// kept per endpoint; CloseIdleConnections closes the kept ones.
func TestInlineTransportKeeps(t *testing.T) {
	t.Run("idle too long", func(t *testing.T) {
		s := startCounting(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
		tr := newInlineTransport((&net.Dialer{}).DialContext)
		tr.idleTimeout = 50 * time.Millisecond
		if _, err := get(t, tr, s.URL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the idle connection closed", func() bool { return s.closed.Load() == 1 && tr.idleCount() == 0 })
	})
	t.Run("at most maxIdlePerEndpoint", func(t *testing.T) {
		const n = maxIdlePerEndpoint + 6
		var arrived sync.WaitGroup
		arrived.Add(n)
		s := startCounting(t, func(w http.ResponseWriter, _ *http.Request) {
			arrived.Done()
			arrived.Wait()
			_, _ = io.WriteString(w, "ok")
		})
		tr := newInlineTransport((&net.Dialer{}).DialContext)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if _, err := get(t, tr, s.URL); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := tr.idleCount(); got != maxIdlePerEndpoint {
			t.Fatalf("%d connections kept", got)
		}
		waitFor(t, "the connections beyond the kept ones closed", func() bool { return s.closed.Load() == n-maxIdlePerEndpoint })
		tr.CloseIdleConnections()
		waitFor(t, "every connection closed", func() bool { return s.closed.Load() == n && tr.idleCount() == 0 })
	})
}

// TestInlineTransportInterimAnswers: 1xx answers before the final one are
// passed over; an endpoint switching protocols on a request that asked no
// upgrade is a failure, and its connection (the one kept from the first
// request) is closed, not kept.
func TestInlineTransportInterimAnswers(t *testing.T) {
	base, _ := serveRaw(t, func(conn net.Conn, req *http.Request) {
		switch req.URL.Path {
		case "/hints":
			_, _ = io.WriteString(conn, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		case "/switch":
			_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: other\r\nConnection: upgrade\r\n\r\n")
		}
	})
	tr := newInlineTransport((&net.Dialer{}).DialContext)
	resp, err := get(t, tr, base+"/hints")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("early hints, then 200: %v %v", resp, err)
	}
	if _, err := get(t, tr, base+"/switch"); err == nil {
		t.Fatal("a switch of protocols nobody asked for was taken as an answer")
	}
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("%d connections kept after the switch", n)
	}
	if resp, err := get(t, tr, base+"/hints"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after the switch: %v %v", resp, err)
	}
}

// TestInlineTransportUnsolicitedAnswer performs what a hostile endpoint
// tries: after its answer it writes a second one nobody asked for on the
// idle connection, to be read as the answer of the next request that
// reuses it. The transport drops that connection and asks on a new one.
func TestInlineTransportUnsolicitedAnswer(t *testing.T) {
	forge := make(chan struct{})
	base, accepted := serveRaw(t, func(conn net.Conn, req *http.Request) {
		_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(req.URL.Path))+"\r\n\r\n"+req.URL.Path)
		if req.URL.Path == "/first" {
			// Once the connection is idle at the router.
			<-forge
			_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n/forged")
		}
	})
	tr := newInlineTransport((&net.Dialer{}).DialContext)
	read := func(path string) string {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", base+path, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return string(body)
	}
	if got := read("/first"); got != "/first" {
		t.Fatalf("first answer %q", got)
	}
	if n := tr.idleCount(); n != 1 {
		t.Fatalf("%d connections kept after the first answer", n)
	}
	close(forge)
	// The forged answer is on its way: wait until it is in the socket.
	waitFor(t, "the forged answer to arrive", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for _, list := range tr.idle {
			for _, pc := range list {
				var b [1]byte
				n, _, _ := syscall.Recvfrom(connFD(t, pc.conn), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
				return n == 1
			}
		}
		return false
	})
	if got := read("/second"); got != "/second" {
		t.Fatalf("the second request was answered %q", got)
	}
	if n := accepted.Load(); n != 2 {
		t.Errorf("%d connections, want a new one after the forged answer", n)
	}
}

// connFD is the descriptor of a TCP connection, for peeking at it.
func connFD(t *testing.T, c net.Conn) int {
	t.Helper()
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		t.Fatal(err)
	}
	return fd
}

// serveRaw is an endpoint written by hand: it reads each request of each
// connection and lets answer write to the connection whatever it likes.
// It returns its base URL and how many connections it accepted.
func serveRaw(t *testing.T, answer func(conn net.Conn, req *http.Request)) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := new(atomic.Int64)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					answer(conn, req)
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), accepted
}
