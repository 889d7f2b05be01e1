//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

package router_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/controller/controllertest"
	"github.com/berthpaas/berth/backend/router"
	"github.com/gorilla/websocket"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// hostIP is an address of this machine other than loopback, which
// endpoints may hold (they may not be loopback): the tests' backends
// listen there and the router's pod network is that one address.
func hostIP(t *testing.T) netip.Addr {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() && !p.Addr().IsLinkLocalUnicast() {
			return p.Addr()
		}
	}
	t.Skip("no IPv4 address beside loopback")
	return netip.Addr{}
}

// backend is an application behind a route: it answers with its name and
// the headers it got, streams on /stream, echoes websockets on /ws,
// answers a header too long on /long-header, holds /hang until its
// client goes, and counts its requests and connections.
type backend struct {
	name string
	hits atomic.Int64
	addr netip.AddrPort
	// release lets /stream send its second line.
	release chan struct{}
	// opened and closed count the connections made to the backend and
	// those ended.
	opened, closed atomic.Int64
	// hanging gets the context of each /hang request.
	hanging chan context.Context
	srv     *httptest.Server
}

func startBackend(t *testing.T, ip netip.Addr, name string) *backend {
	t.Helper()
	b := &backend{name: name, release: make(chan struct{}), hanging: make(chan context.Context, 1)}
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		switch r.URL.Path {
		case "/ws":
			up := websocket.Upgrader{}
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			for {
				typ, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				_ = c.WriteMessage(typ, append([]byte(name+": "), msg...))
			}
		case "/long-header":
			w.Header().Set("X-Long", strings.Repeat("x", 2<<20))
		case "/hang":
			// A server sees its client go only once it has read the
			// request's body.
			_, _ = io.Copy(io.Discard, r.Body)
			b.hanging <- r.Context()
			<-r.Context().Done()
		case "/stream":
			fmt.Fprintln(w, "first")
			w.(http.Flusher).Flush()
			select {
			case <-b.release:
			case <-r.Context().Done():
				return
			}
			fmt.Fprintln(w, "second")
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{"name": name, "host": r.Host, "path": r.URL.Path, "header": r.Header})
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			b.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			b.closed.Add(1)
		}
	}
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	b.srv = srv
	b.addr = netip.MustParseAddrPort(ln.Addr().String())
	return b
}

// onceBackend answers one request per connection, without saying it
// closes the connection, then closes it: each kept connection turns out
// closed when it is used again.
type onceBackend struct {
	addr     netip.AddrPort
	accepted atomic.Int64
}

func startOnceBackend(t *testing.T, ip netip.Addr) *onceBackend {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	b := &onceBackend{addr: netip.MustParseAddrPort(ln.Addr().String())}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			b.accepted.Add(1)
			go func() {
				defer conn.Close()
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
					_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
				}
			}()
		}
	}()
	return b
}

type fixture struct {
	c      *controllertest.Cluster
	url    string
	tlsURL string
	ctx    context.Context
	pods   netip.Prefix
}

// startRouter runs a router on the cluster's registries whose pod network
// is pods, with a short header timeout.
func startRouter(t *testing.T, c *controllertest.Cluster, pods netip.Prefix) *fixture {
	t.Helper()
	rt := router.New(router.Config{
		Routes: c.Registries.Routes, Services: c.Registries.Services, Endpoints: c.Registries.Endpoints, Secrets: c.Registries.Secrets,
		PodNetwork: pods, ReadHeaderTimeout: 300 * time.Millisecond, Logger: controllertest.Logger(t),
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); rt.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if !rt.WaitForSync(ctx) {
		t.Fatal("router did not sync")
	}
	f := &fixture{c: c, ctx: controllertest.Ctx(t), pods: pods}
	for _, secure := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := rt.Server()
		if secure {
			f.tlsURL = "https://" + ln.Addr().String()
			ln = tls.NewListener(ln, rt.TLSConfig())
		} else {
			f.url = "http://" + ln.Addr().String()
		}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { srv.Close() })
	}
	return f
}

// service creates a service with one port (80, named name) and its
// endpoints: ready at ready, not ready at notReady.
func (f *fixture) service(t *testing.T, ns, name, portName string, ready, notReady []netip.AddrPort) {
	t.Helper()
	svc := &v1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.ServiceSpec{
		Ports: []v1.ServicePort{{Name: portName, Port: 80, TargetPort: intstr.FromInt32(8080)}},
	}}
	if _, err := f.c.Registries.Services.Create(f.ctx, ns, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ep := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, a := range ready {
		ep.Subsets = append(ep.Subsets, v1.EndpointSubset{Addresses: []v1.EndpointAddress{{IP: a.Addr().String()}},
			Ports: []v1.EndpointPort{{Name: portName, Port: int32(a.Port()), Protocol: v1.ProtocolTCP}}})
	}
	for _, a := range notReady {
		ep.Subsets = append(ep.Subsets, v1.EndpointSubset{NotReadyAddresses: []v1.EndpointAddress{{IP: a.Addr().String()}},
			Ports: []v1.EndpointPort{{Name: portName, Port: int32(a.Port()), Protocol: v1.ProtocolTCP}}})
	}
	if _, err := f.c.Registries.Endpoints.Create(f.ctx, ns, ep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) route(t *testing.T, ns string, r *berthv1.Route) {
	t.Helper()
	if _, err := f.c.Registries.Routes.Create(f.ctx, ns, r, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func route(name, host, path, service string) *berthv1.Route {
	return &berthv1.Route{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: berthv1.RouteSpec{Host: host, Path: path, To: berthv1.RouteTarget{Name: service}}}
}

type answer struct {
	code   int
	body   string
	header http.Header
}

func (f *fixture) get(t *testing.T, host, path string, header map[string]string) answer {
	t.Helper()
	return f.do(t, "GET", host, path, "", header)
}

// do sends one request, with body unless it is empty. The router sends
// GETs with its inline transport and requests with a body with
// http.Transport: tests of what both must do send both.
func (f *fixture) do(t *testing.T, method, host, path, reqBody string, header map[string]string) answer {
	t.Helper()
	var rd io.Reader
	if reqBody != "" {
		rd = strings.NewReader(reqBody)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, f.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(body), resp.Header}
}

// echoed decodes a backend's answer.
func echoed(t *testing.T, a answer) (name, host, path string, header http.Header) {
	t.Helper()
	var got struct {
		Name, Host, Path string
		Header           http.Header
	}
	if err := json.Unmarshal([]byte(a.body), &got); err != nil {
		t.Fatalf("%d %s: %v", a.code, a.body, err)
	}
	return got.Name, got.Host, got.Path, got.Header
}

// eventually waits until the router answers host+path with code (the
// router follows the registries through their watches).
func (f *fixture) eventually(t *testing.T, host, path string, code int) answer {
	t.Helper()
	var a answer
	controllertest.Eventually(t, 5*time.Second, func() (bool, string) {
		a = f.get(t, host, path, nil)
		return a.code == code, fmt.Sprintf("%s%s: %d %s", host, path, a.code, a.body)
	})
	return a
}

// TestRouter: requests reach the ready endpoints of a route's service,
// round robin (one that refuses the connection passes the request to the
// next), by host (any case, any port) and path prefix, over
// keep-alive connections, streamed and as websockets; a route with no
// ready endpoint answers 503 with a page naming it; an unknown host gets
// a 404 that names nothing.
func TestRouter(t *testing.T) {
	c := controllertest.Start(t)
	ip := hostIP(t)
	f := startRouter(t, c, netip.PrefixFrom(ip, 32))
	c.Namespace(t, "shop")
	b1, b2, down := startBackend(t, ip, "b1"), startBackend(t, ip, "b2"), startBackend(t, ip, "down")
	f.service(t, "shop", "web", "http", []netip.AddrPort{b1.addr, b2.addr}, []netip.AddrPort{down.addr})
	f.service(t, "shop", "idle", "", nil, []netip.AddrPort{down.addr})
	f.route(t, "shop", route("web", "shop.example.com", "/", "web"))
	f.route(t, "shop", route("api", "api.example.com", "/v1", "web"))
	f.route(t, "shop", route("idle", "idle.example.com", "/", "idle"))
	f.route(t, "shop", route("nothing", "nothing.example.com", "/", "nothing"))
	// An endpoint whose pod is gone, before its endpoints say so.
	gone, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	goneAddr := netip.MustParseAddrPort(gone.Addr().String())
	gone.Close()
	f.service(t, "shop", "flaky", "", []netip.AddrPort{goneAddr, b1.addr}, nil)
	f.route(t, "shop", route("flaky", "flaky.example.com", "/", "flaky"))
	once := startOnceBackend(t, ip)
	f.service(t, "shop", "once", "", []netip.AddrPort{once.addr}, nil)
	f.route(t, "shop", route("once", "once.example.com", "/", "once"))
	f.eventually(t, "shop.example.com", "/", http.StatusOK)
	f.eventually(t, "flaky.example.com", "/", http.StatusOK)

	t.Run("round robin over ready endpoints", func(t *testing.T) {
		seen := map[string]int{}
		for range 10 {
			name, host, path, _ := echoed(t, f.get(t, "Shop.Example.COM:8081", "/x?y=1", nil))
			seen[name]++
			if host != "Shop.Example.COM:8081" || path != "/x" {
				t.Fatalf("the backend saw host %q path %q", host, path)
			}
		}
		if seen["b1"] != 5 || seen["b2"] != 5 || down.hits.Load() != 0 {
			t.Fatalf("answers %v, not-ready endpoint hit %d times", seen, down.hits.Load())
		}
	})
	t.Run("path prefix", func(t *testing.T) {
		for path, code := range map[string]int{"/v1": 200, "/v1/items": 200, "/v1x": 404, "/": 404, "/v1/../admin": 404} {
			if a := f.get(t, "api.example.com", path, nil); a.code != code {
				t.Errorf("%s: %d, want %d", path, a.code, code)
			}
		}
	})
	t.Run("keep-alive", func(t *testing.T) {
		var reused atomic.Int64
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		for range 4 {
			trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
				if i.Reused {
					reused.Add(1)
				}
			}}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", f.url+"/", nil)
			req.Host = "shop.example.com"
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if reused.Load() != 3 {
			t.Fatalf("%d of 3 later requests reused the connection", reused.Load())
		}
	})
	t.Run("streaming", func(t *testing.T) {
		// Both backends must be released whichever one answers.
		req, _ := http.NewRequestWithContext(t.Context(), "GET", f.url+"/stream", nil)
		req.Host = "shop.example.com"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		rd := bufio.NewReader(resp.Body)
		line, err := rd.ReadString('\n')
		if err != nil || line != "first\n" {
			t.Fatalf("first line before the backend finished: %q %v", line, err)
		}
		close(b1.release)
		close(b2.release)
		if line, _ = rd.ReadString('\n'); line != "second\n" {
			t.Fatalf("second line %q", line)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		d := websocket.Dialer{}
		u := strings.Replace(f.url, "http://", "ws://", 1) + "/ws"
		conn, resp, err := d.DialContext(t.Context(), u, http.Header{"Host": {"shop.example.com"}})
		if err != nil {
			t.Fatalf("dial: %v %v", resp, err)
		}
		defer conn.Close()
		for _, msg := range []string{"hello", "again"} {
			if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			_, got, err := conn.ReadMessage()
			if err != nil || !strings.HasSuffix(string(got), ": "+msg) {
				t.Fatalf("echo %q %v", got, err)
			}
		}
	})
	t.Run("keep-alive to the endpoint", func(t *testing.T) {
		// Sequential requests of one client reuse one connection to the
		// endpoint, whichever transport carries them.
		for _, m := range []struct{ method, body string }{{"GET", ""}, {"HEAD", ""}, {"POST", "x"}} {
			before := b1.opened.Load() + b2.opened.Load()
			for i := range 20 {
				if a := f.do(t, m.method, "shop.example.com", "/", m.body, nil); a.code != http.StatusOK {
					t.Fatalf("%s %d: %d %s", m.method, i, a.code, a.body)
				}
			}
			// One connection to each of the two endpoints at most.
			if n := b1.opened.Load() + b2.opened.Load() - before; n > 2 {
				t.Errorf("%s: 20 requests opened %d connections to the endpoints", m.method, n)
			}
		}
	})
	t.Run("a kept connection the endpoint closed", func(t *testing.T) {
		// Each request finds the connection the router kept closed by
		// the endpoint (which said nothing): it goes again on a new one.
		for _, method := range []string{"GET", "HEAD"} {
			before := once.accepted.Load()
			for i := range 4 {
				if a := f.do(t, method, "once.example.com", "/", "", nil); a.code != http.StatusOK {
					t.Fatalf("%s %d: %d %s", method, i, a.code, a.body)
				}
			}
			if n := once.accepted.Load() - before; n != 4 {
				t.Fatalf("%s: 4 requests, %d connections", method, n)
			}
		}
	})
	t.Run("the client goes", func(t *testing.T) {
		// A client that gives up ends its request at the endpoint too.
		for _, m := range []struct{ method, body string }{{"GET", ""}, {"POST", "x"}} {
			ctx, cancel := context.WithCancel(t.Context())
			req, _ := http.NewRequestWithContext(ctx, m.method, f.url+"/hang", strings.NewReader(m.body))
			req.Host = "shop.example.com"
			done := make(chan error, 1)
			go func() {
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				done <- err
			}()
			var at context.Context
			select {
			case at = <-b1.hanging:
			case at = <-b2.hanging:
			case err := <-done:
				t.Fatalf("%s: the request ended before reaching an endpoint: %v", m.method, err)
			}
			cancel()
			<-done
			select {
			case <-at.Done():
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: the endpoint still holds the request of a client gone 10s ago", m.method)
			}
		}
	})
	t.Run("an endpoint that refuses", func(t *testing.T) {
		for i := range 6 {
			if a := f.get(t, "flaky.example.com", "/", nil); a.code != http.StatusOK {
				t.Fatalf("request %d: %d %s", i, a.code, a.body)
			}
		}
	})
	t.Run("no ready endpoint", func(t *testing.T) {
		for _, host := range []string{"idle.example.com", "nothing.example.com"} {
			a := f.get(t, host, "/", nil)
			name := strings.TrimSuffix(host, ".example.com")
			if a.code != http.StatusServiceUnavailable || !strings.Contains(a.body, "shop/"+name) || !strings.Contains(a.body, "no ready endpoint") ||
				!strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
				t.Fatalf("%s: %d %s", host, a.code, a.body)
			}
		}
		if down.hits.Load() != 0 {
			t.Fatal("a not-ready endpoint was sent requests")
		}
	})
	t.Run("unknown host", func(t *testing.T) {
		for _, host := range []string{"other.example.com", "shop.example.com.evil", "", "<script>x</script>"} {
			a := f.get(t, host, "/", nil)
			if a.code != http.StatusNotFound && a.code != http.StatusBadRequest {
				t.Fatalf("%q: %d", host, a.code)
			}
			for _, leak := range []string{"shop", "web", "api.example.com", "<script>"} {
				if strings.Contains(a.body, leak) {
					t.Fatalf("%q: the answer names %q: %s", host, leak, a.body)
				}
			}
		}
	})
	t.Run("follows changes", func(t *testing.T) {
		if err := deleteRoute(f, "shop", "api"); err != nil {
			t.Fatal(err)
		}
		f.eventually(t, "api.example.com", "/v1", http.StatusNotFound)
	})
}

func deleteRoute(f *fixture, ns, name string) error {
	_, err := f.c.Registries.Routes.Delete(f.ctx, ns, name, metav1.DeleteOptions{})
	return err
}

// TestRouterAttacks performs what a tenant or a stranger could try
// through the router, and shows each refused.
func TestRouterAttacks(t *testing.T) {
	c := controllertest.Start(t)
	ip := hostIP(t)
	// The pod network is one address; the "master" listens on another
	// port of the same host, outside it.
	f := startRouter(t, c, netip.PrefixFrom(ip, 32))
	c.Namespace(t, "a")
	c.Namespace(t, "b")
	app := startBackend(t, ip, "a-app")
	f.service(t, "a", "web", "", []netip.AddrPort{app.addr}, nil)
	f.route(t, "a", route("web", "a.example.com", "/", "web"))
	f.eventually(t, "a.example.com", "/", http.StatusOK)

	t.Run("spoofed forwarding headers", func(t *testing.T) {
		for _, m := range []struct{ method, body string }{{"GET", ""}, {"POST", "form=1"}} {
			a := f.do(t, m.method, "a.example.com", "/", m.body, map[string]string{
				"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Host": "admin.example.com", "X-Forwarded-Proto": "https",
				"X-Forwarded-Port": "443", "Forwarded": "for=1.2.3.4;proto=https", "X-Real-Ip": "1.2.3.4",
			})
			_, _, _, h := echoed(t, a)
			want := map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "a.example.com", "X-Forwarded-Proto": "http",
				"X-Forwarded-Port": strings.Split(f.url, ":")[2], "Forwarded": "", "X-Real-Ip": ""}
			for k, v := range want {
				if got := strings.Join(h.Values(k), ","); got != v {
					t.Errorf("%s: %s: the backend got %q, want %q", m.method, k, got, v)
				}
			}
		}
	})
	t.Run("answer header too long", func(t *testing.T) {
		// A tenant's pod answering an endless header must not make the
		// router hold it: 502, naming no address.
		for _, m := range []struct{ method, body string }{{"GET", ""}, {"POST", "x"}} {
			a := f.do(t, m.method, "a.example.com", "/long-header", m.body, nil)
			if a.code != http.StatusBadGateway || strings.Contains(a.body, app.addr.Addr().String()) || a.header.Get("X-Long") != "" {
				t.Fatalf("%s: %d %.200s", m.method, a.code, a.body)
			}
		}
	})
	t.Run("slowloris", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(f.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a.example.com\r\n")
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		_, err = conn.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("a client sending half a header still held its connection after %v", time.Since(start))
		}
	})
	t.Run("route to another project's service", func(t *testing.T) {
		// b has no service web; a does. b's route must not reach a's.
		f.route(t, "b", route("web", "b.example.com", "/", "web"))
		before := app.hits.Load()
		a := f.eventually(t, "b.example.com", "/", http.StatusServiceUnavailable)
		if app.hits.Load() != before || !strings.Contains(a.body, "b/web") {
			t.Fatalf("b's route reached a's pods: %d %s", app.hits.Load()-before, a.body)
		}
	})
	t.Run("endpoint outside the pod network", func(t *testing.T) {
		// The master's API, say, on another address of the host: an
		// endpoint naming it (a cluster admin's hand-written endpoints,
		// a host-network pod) is never dialled.
		master := startBackend(t, netip.MustParseAddr("172.17.0.1"), "master")
		if ip == master.addr.Addr() {
			t.Skip("the host's only address is the pod network")
		}
		f.service(t, "b", "api", "", []netip.AddrPort{master.addr}, nil)
		f.route(t, "b", route("api", "api.example.com", "/", "api"))
		f.eventually(t, "api.example.com", "/", http.StatusServiceUnavailable)
		if master.hits.Load() != 0 {
			t.Fatal("the router dialled an address outside the pod network")
		}
	})
	t.Run("TLS key of another project", func(t *testing.T) {
		certA, keyA := selfSigned(t, "secure-a.example.com")
		certB, keyB := selfSigned(t, "secure-b.example.com")
		tlsSecret := func(ns string, cert, key []byte) {
			s := &v1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cert"}, Type: v1.SecretTypeTLS,
				Data: map[string][]byte{v1.TLSCertKey: cert, v1.TLSPrivateKeyKey: key}}
			if _, err := c.Registries.Secrets.Create(f.ctx, ns, s, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		tlsSecret("a", certA, keyA)
		tlsSecret("b", certB, keyB)
		ra := route("secure", "secure-a.example.com", "/", "web")
		ra.Spec.TLS = &berthv1.RouteTLS{SecretName: "cert"}
		f.route(t, "a", ra)
		rb := route("secure", "secure-b.example.com", "/", "web")
		rb.Spec.TLS = &berthv1.RouteTLS{SecretName: "cert"}
		f.route(t, "b", rb)
		handshake := func(name string) (*x509.Certificate, error) {
			conn, err := tls.Dial("tcp", strings.TrimPrefix(f.tlsURL, "https://"), &tls.Config{ServerName: name, InsecureSkipVerify: true})
			if err != nil {
				return nil, err
			}
			defer conn.Close()
			return conn.ConnectionState().PeerCertificates[0], nil
		}
		controllertest.Eventually(t, 5*time.Second, func() (bool, string) {
			cert, err := handshake("secure-a.example.com")
			return err == nil && cert.Subject.CommonName == "secure-a.example.com", fmt.Sprint(err)
		})
		// b's route names "cert": b's own, never a's of the same name,
		// even once b's is gone.
		cert, err := handshake("secure-b.example.com")
		if err != nil || cert.Subject.CommonName != "secure-b.example.com" {
			t.Fatalf("b's host: %v %v", cert, err)
		}
		if _, err := c.Registries.Secrets.Delete(f.ctx, "b", "cert", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		controllertest.Eventually(t, 5*time.Second, func() (bool, string) {
			_, err := handshake("secure-b.example.com")
			return err != nil, "b's host still handshakes once its secret is gone"
		})
		// Names with no TLS route get no certificate at all.
		if _, err := handshake("a.example.com"); err == nil {
			t.Fatal("a route without TLS got a certificate")
		}
	})
}

// selfSigned returns a PEM certificate and key for host.
func selfSigned(t *testing.T, host string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
