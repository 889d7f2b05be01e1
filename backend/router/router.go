//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

package router

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/controller/cache"
	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Component names the router in the master's audit and logs.
const Component = "router"

// Defaults of Config's timeouts.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	// dialTimeout bounds a connection to an endpoint.
	dialTimeout = 5 * time.Second
	// maxHeaderBytes bounds a request's header, as Go's default does
	// (1 MiB) but tighter: a router holds many clients' headers.
	maxHeaderBytes = 64 << 10
)

// Config is what a router reads and how it serves.
type Config struct {
	// Routes, Services, Endpoints and Secrets are the master's registries.
	Routes, Services, Endpoints, Secrets cache.Source
	// PodNetwork is the only range the router dials: the cluster's pod
	// network (--cluster-cidr).
	PodNetwork netip.Prefix
	// Issuer, when set, issues the certificates of routes with TLS and no
	// secret (the cluster CA).
	Issuer Issuer
	// AppsDomain bounds the hosts Issuer certifies (berthv1.DefaultAppsDomain
	// when empty).
	AppsDomain string
	// ReadHeaderTimeout and IdleTimeout of the router's HTTP servers;
	// the defaults when zero.
	ReadHeaderTimeout, IdleTimeout time.Duration
	Logger                         *slog.Logger
}

// Router serves routes. Build it with New, start its informers with Run,
// and serve its Handler (plain HTTP) and TLSConfig (HTTPS).
type Router struct {
	cfg       Config
	routes    *cache.Informer[*berthv1.Route]
	services  *cache.Informer[*v1.Service]
	endpoints *cache.Informer[*v1.Endpoints]
	secrets   *cache.Informer[*v1.Secret]
	proxy     *httputil.ReverseProxy
	transport *retryTransport
	certs     *certCache

	mu sync.RWMutex
	// hosts are the routes of each host, longest path first; guarded by mu.
	hosts map[string][]*berthv1.Route
	// next is the round-robin counter of each route, by namespace/name.
	next sync.Map
}

// New returns a router on cfg.
func New(cfg Config) *Router {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.AppsDomain == "" {
		cfg.AppsDomain = berthv1.DefaultAppsDomain
	}
	logger := cfg.Logger.With("component", Component)
	cfg.Logger = logger
	r := &Router{cfg: cfg, hosts: map[string][]*berthv1.Route{}}
	r.routes = cache.New(cfg.Routes, "", generic.ListOptions{}, func(_, _ *berthv1.Route) { r.reindex() }, logger)
	r.services = cache.New[*v1.Service](cfg.Services, "", generic.ListOptions{}, nil, logger)
	r.endpoints = cache.New[*v1.Endpoints](cfg.Endpoints, "", generic.ListOptions{}, nil, logger)
	r.secrets = cache.New[*v1.Secret](cfg.Secrets, "", generic.ListOptions{
		Fields: fields.OneTermEqualSelector("type", string(v1.SecretTypeTLS)),
	}, nil, logger)
	r.certs = newCertCache(cfg.Issuer, cfg.AppsDomain)
	r.transport = newTransport(cfg.PodNetwork)
	r.proxy = &httputil.ReverseProxy{
		Rewrite:    r.rewrite,
		Transport:  r.transport,
		BufferPool: &bufferPool{},
		// No FlushInterval: ReverseProxy flushes every write of an answer
		// of unknown length (chunked, server-sent events) at once anyway,
		// and answers of known length go out in as few writes as can be.
		ErrorHandler: r.proxyError,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return r
}

// Run keeps the router's copies of routes, services, endpoints and TLS
// secrets until ctx ends, then closes its idle connections to endpoints.
func (r *Router) Run(ctx context.Context) {
	ctx = auth.WithIdentity(ctx, auth.ComponentIdentity(Component))
	var wg sync.WaitGroup
	for _, run := range []func(context.Context){r.routes.Run, r.services.Run, r.endpoints.Run, r.secrets.Run} {
		wg.Go(func() { run(ctx) })
	}
	wg.Wait()
	r.transport.CloseIdleConnections()
}

// WaitForSync waits for a first copy of everything; false if ctx ended.
func (r *Router) WaitForSync(ctx context.Context) bool {
	return r.routes.WaitForSync(ctx) && r.services.WaitForSync(ctx) && r.endpoints.WaitForSync(ctx) && r.secrets.WaitForSync(ctx)
}

// Server returns an HTTP server of the router with its timeouts: a
// client must send its header within ReadHeaderTimeout (slowloris), and
// an idle keep-alive connection closes after IdleTimeout. No read or
// write timeout: uploads, streams and websockets last as long as they
// need.
func (r *Router) Server() *http.Server {
	return &http.Server{
		Handler:           r,
		ReadHeaderTimeout: r.cfg.ReadHeaderTimeout,
		IdleTimeout:       r.cfg.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(r.cfg.Logger.Handler(), slog.LevelDebug),
	}
}

// TLSConfig picks each connection's certificate by its SNI name.
func (r *Router) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.getCertificate,
		NextProtos:     []string{"http/1.1"},
	}
}

// reindex rebuilds the host index from the routes' copy.
func (r *Router) reindex() {
	hosts := map[string][]*berthv1.Route{}
	for _, rt := range r.routes.List() {
		if rt.DeletionTimestamp != nil {
			continue
		}
		h := strings.ToLower(rt.Spec.Host)
		hosts[h] = append(hosts[h], rt)
	}
	for _, list := range hosts {
		slices.SortFunc(list, func(a, b *berthv1.Route) int {
			if d := len(b.Spec.Path) - len(a.Spec.Path); d != 0 {
				return d
			}
			return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
		})
	}
	r.mu.Lock()
	r.hosts = hosts
	r.mu.Unlock()
}

// requestHost is a request's host name: lower case, without port or a
// final dot.
func requestHost(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// match returns the route of host whose path is the longest prefix of p.
func (r *Router) match(host, p string) *berthv1.Route {
	r.mu.RLock()
	list := r.hosts[host]
	r.mu.RUnlock()
	if len(list) == 0 {
		return nil
	}
	clean := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	for _, rt := range list {
		if pathMatches(rt.Spec.Path, clean) {
			return rt
		}
	}
	return nil
}

// pathMatches reports whether prefix takes p: whole segments only
// ("/api" takes "/api" and "/api/x", not "/apix").
func pathMatches(prefix, p string) bool {
	if prefix == "" || prefix == "/" || p == prefix {
		return true
	}
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(p, prefix)
	}
	return strings.HasPrefix(p, prefix+"/")
}

// targetKey carries the request's target from ServeHTTP to rewrite and
// the transport.
type targetKey struct{}

// ServeHTTP routes one request.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rt := r.match(requestHost(req.Host), req.URL.Path)
	if rt == nil {
		writePage(w, http.StatusNotFound, notFoundPage, nil)
		return
	}
	tg, ok := r.pick(rt)
	if !ok {
		writePage(w, http.StatusServiceUnavailable, unavailablePage, rt)
		return
	}
	ctx := context.WithValue(req.Context(), targetKey{}, tg)
	r.proxy.ServeHTTP(w, req.WithContext(ctx))
}

// target is the endpoints a request may go to: it goes to the one at
// tried, and to the next when that one refuses the connection.
type target struct {
	addrs []netip.AddrPort
	first int
	tried int
}

func (t *target) current() netip.AddrPort { return t.addrs[(t.first+t.tried)%len(t.addrs)] }

// next moves to the next endpoint; false when every one was tried.
func (t *target) next() bool {
	if t.tried+1 >= len(t.addrs) {
		return false
	}
	t.tried++
	return true
}

// rewrite points the outgoing request at the chosen endpoint, keeps the
// client's Host, and writes X-Forwarded-For/Host/Proto/Port from what the
// router saw: ReverseProxy has already dropped the client's own
// Forwarded and X-Forwarded-For/Host/Proto headers.
func (r *Router) rewrite(pr *httputil.ProxyRequest) {
	tg := pr.In.Context().Value(targetKey{}).(*target)
	pr.SetURL(&url.URL{Scheme: "http", Host: tg.current().String()})
	pr.Out.Host = pr.In.Host
	pr.SetXForwarded()
	port := "80"
	if pr.In.TLS != nil {
		port = "443"
	}
	if la, ok := pr.In.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(la.String()); err == nil {
			port = p
		}
	}
	pr.Out.Header.Set("X-Forwarded-Port", port)
	pr.Out.Header.Del("X-Real-Ip")
}

// proxyError answers a request whose endpoint failed: 502, naming no
// address.
func (r *Router) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	r.cfg.Logger.Debug("endpoint failed", "host", req.Host, "error", err)
	writePage(w, http.StatusBadGateway, badGatewayPage, r.match(requestHost(req.Host), req.URL.Path))
}

// pick returns the ready endpoints of rt's service port, starting at the
// next one, round robin, or false when there is none.
func (r *Router) pick(rt *berthv1.Route) (*target, bool) {
	addrs := r.readyAddrs(rt)
	if len(addrs) == 0 {
		return nil, false
	}
	key := rt.Namespace + "/" + rt.Name
	c, _ := r.next.LoadOrStore(key, new(atomic.Uint64))
	n := c.(*atomic.Uint64).Add(1)
	return &target{addrs: addrs, first: int(n % uint64(len(addrs)))}, true
}

// readyAddrs are the ready endpoints of the port rt names on its
// service, in the route's own project, inside the pod network.
func (r *Router) readyAddrs(rt *berthv1.Route) []netip.AddrPort {
	key := rt.Namespace + "/" + rt.Spec.To.Name
	svc, ok := r.services.Get(key)
	if !ok {
		return nil
	}
	sp, ok := servicePort(svc, rt.Spec.Port)
	if !ok {
		return nil
	}
	ep, ok := r.endpoints.Get(key)
	if !ok {
		return nil
	}
	var out []netip.AddrPort
	for _, ss := range ep.Subsets {
		var port int32
		for _, p := range ss.Ports {
			if p.Name == sp.Name && (p.Protocol == "" || p.Protocol == v1.ProtocolTCP) {
				port = p.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, a := range ss.Addresses {
			ip, err := netip.ParseAddr(a.IP)
			if err != nil || !r.cfg.PodNetwork.Contains(ip) {
				continue
			}
			out = append(out, netip.AddrPortFrom(ip, uint16(port)))
		}
	}
	slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return out
}

// servicePort is the service port a route names, by number or name; the
// first TCP port when it names none.
func servicePort(svc *v1.Service, want *berthv1.RoutePort) (v1.ServicePort, bool) {
	for _, p := range svc.Spec.Ports {
		if p.Protocol != "" && p.Protocol != v1.ProtocolTCP {
			continue
		}
		switch {
		case want == nil:
			return p, true
		case want.TargetPort.Type == intstr.Int && p.Port == want.TargetPort.IntVal:
			return p, true
		case want.TargetPort.Type == intstr.String && p.Name == want.TargetPort.StrVal:
			return p, true
		}
	}
	return v1.ServicePort{}, false
}

// newTransport dials endpoints, and only addresses of podNetwork: the
// check is at the dial, after any redirection of the request, so no
// endpoint address can point the router at the host's or master's own
// ports. It reads no proxy from the environment.
// Both transports dial with the same check.
func newTransport(podNetwork netip.Prefix) *retryTransport {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !podNetwork.Contains(ap.Addr()) {
			return nil, fmt.Errorf("dial %s: not an address of the pod network %s", address, podNetwork)
		}
		return d.DialContext(ctx, network, address)
	}
	return &retryTransport{
		inline: newInlineTransport(dial),
		base: &http.Transport{
			Proxy:                  nil,
			DialContext:            dial,
			MaxIdleConns:           1024,
			MaxIdleConnsPerHost:    maxIdlePerEndpoint,
			IdleConnTimeout:        idleConnTimeout,
			MaxResponseHeaderBytes: maxResponseHeaderBytes,
			ExpectContinueTimeout:  time.Second,
		},
	}
}

// retryTransport sends plain requests through inline and the others
// (a body, an upgrade) through base; and a request whose endpoint refused
// the connection (a pod gone before its endpoints said so) to the
// route's next ready endpoint: nothing of the request was sent, so any
// request may go again (one with a body only if it has none to replay).
type retryTransport struct {
	inline *inlineTransport
	base   *http.Transport
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := http.RoundTripper(t.base)
	if inline(req) {
		rt = t.inline
	}
	resp, err := rt.RoundTrip(req)
	tg, _ := req.Context().Value(targetKey{}).(*target)
	for err != nil && tg != nil && isDialError(err) && (req.Body == nil || req.Body == http.NoBody) && tg.next() {
		req = req.Clone(req.Context())
		req.URL.Host = tg.current().String()
		resp, err = rt.RoundTrip(req)
	}
	return resp, err
}

// CloseIdleConnections closes the kept connections of both transports.
func (t *retryTransport) CloseIdleConnections() {
	t.inline.CloseIdleConnections()
	t.base.CloseIdleConnections()
}

// bufferPool lends ReverseProxy the buffers it copies answers through,
// rather than one new 32 KiB buffer per request (garbage that the
// master's whole heap pays for in collections).
type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }

// isDialError reports whether err is a failure to connect.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Port returns the port of a listener's address, for URLs.
func Port(ln net.Listener) int {
	if ln == nil {
		return 0
	}
	_, p, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}
