package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/pki"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// agentTransports reach node agents over TLS, one transport per node: the
// master presents its client certificate, and accepts only a certificate
// of the cluster CA for the node's address that names the node the
// request is for (CN=system:node:NAME), so that a node cannot answer for
// another's pods, even from an address it claims. Pooled connections
// belong to one node's transport and so are never reused for another.
type agentTransports struct {
	ca     *pki.CA
	client *pki.Renewing

	mu     sync.Mutex
	byNode map[string]*http.Transport // guarded by mu
}

func newAgentTransports(ca *pki.CA, client *pki.Renewing) *agentTransports {
	return &agentTransports{ca: ca, client: client, byNode: map[string]*http.Transport{}}
}

// forNode returns the transport to the agent of node.
func (t *agentTransports) forNode(node string) *http.Transport {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr, ok := t.byNode[node]; ok {
		return tr
	}
	tr := &http.Transport{
		Proxy:                 nil, // agents are reached directly, never through a proxy
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			// The chain and the address (ServerName, set per request from
			// the URL) are checked as usual; VerifyConnection adds the name.
			RootCAs:          t.ca.Pool(),
			VerifyConnection: pki.RequirePeer(pki.NodeCommonName(node)),
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return t.client.Get()
			},
		},
	}
	t.byNode[node] = tr
	return tr
}

// agentTransport is the transport to the agent of node, which waits for
// the agent to be reachable (agentRoundTripper), or an error when this
// master cannot reach agents (no cluster CA).
func (a *API) agentTransport(node string) (http.RoundTripper, error) {
	if a.nodes.transports == nil {
		return nil, statusError(fmt.Errorf("this master has no cluster CA (start it with --tls-dir) to reach node %q: %w", node, errNodeUnreachable), zeroGR, "")
	}
	return &agentRoundTripper{
		node: node, nodes: a.regs.Nodes, transport: a.nodes.transports.forNode(node),
		wait: a.agentWait, logger: a.logger,
	}, nil
}

// DefaultAgentWait is how long a pod operation waits for the agent of the
// pod's node by default. After the master or an agent restarts there is a
// window, seconds long, in which the Node does not carry the agent's new
// address yet, or the agent does not answer on it yet.
const DefaultAgentWait = 10 * time.Second

// agentHost is the host of the URLs of pod operations until each attempt
// puts the agent's address there.
const agentHost = "agent.invalid"

// nodeGetter reads Nodes.
type nodeGetter interface {
	Get(ctx context.Context, ns, name string) (runtime.Object, error)
}

// agentRoundTripper reaches the agent of one node. For each attempt it
// reads the agent's address from the Node; while a request has not reached
// the agent (no address published, connection refused, a TLS handshake
// that fails: an old address, another agent there) it tries again with
// back-off, for up to wait and for as long as the request's context
// lasts. A request that reached the agent is never sent twice, and one
// with a body is sent once.
type agentRoundTripper struct {
	node      string
	nodes     nodeGetter
	transport http.RoundTripper
	wait      time.Duration
	logger    *slog.Logger
}

func (t *agentRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	deadline := time.Now().Add(t.wait)
	retry := req.Body == nil || req.Body == http.NoBody
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		host, err := t.address(ctx)
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
		noAddress := err != nil
		if err == nil {
			resp, reached, rerr := t.try(req, host, deadline)
			if rerr == nil || reached || !retry {
				return resp, rerr
			}
			err = rerr
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if time.Now().Add(backoff).After(deadline) {
			t.logger.Warn("node agent unreachable", "node", t.node, "attempts", attempt, "waited", t.wait, "error", err)
			return nil, agentUnreachable(t.node, noAddress)
		}
		t.logger.Debug("node agent not reachable yet; trying again", "node", t.node, "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// agentUnreachable is the error of an operation whose node's agent could
// not be reached. It names the node, never an address.
func agentUnreachable(node string, noAddress bool) error {
	if noAddress {
		return fmt.Errorf("node %q has not published the address of its agent (starting, or down): %w", node, errNodeUnreachable)
	}
	return fmt.Errorf("node %q does not answer (its agent is down or restarting): %w", node, errNodeUnreachable)
}

// address is host:port of the node's agent as its Node says.
func (t *agentRoundTripper) address(ctx context.Context) (string, error) {
	obj, err := t.nodes.Get(ctx, "", t.node)
	if err != nil {
		return "", errdefs.WithSubject(fmt.Errorf("node %q of the pod: %w", t.node, err), schema.GroupResource{Resource: "nodes"}, t.node)
	}
	node := obj.(*v1.Node)
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	for _, ad := range node.Status.Addresses {
		if ad.Type == v1.NodeInternalIP && ad.Address != "" && port != 0 {
			return net.JoinHostPort(ad.Address, strconv.Itoa(int(port))), nil
		}
	}
	return "", errors.New("no address published")
}

// try sends req to host once. reached says whether a connection to the
// agent was made (past TLS), after which the request is not tried again;
// a connection not made by deadline is given up.
func (t *agentRoundTripper) try(req *http.Request, host string, deadline time.Time) (*http.Response, bool, error) {
	ctx, cancel := context.WithCancel(req.Context())
	const (
		connecting = iota
		connected
		givenUp
	)
	var state atomic.Int32
	giveUp := time.AfterFunc(time.Until(deadline), func() {
		if state.CompareAndSwap(connecting, givenUp) {
			cancel()
		}
	})
	defer giveUp.Stop()
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { state.CompareAndSwap(connecting, connected) }}
	out := req.Clone(httptrace.WithClientTrace(ctx, trace))
	out.URL.Host, out.Host = host, host
	resp, err := t.transport.RoundTrip(out)
	if err != nil {
		cancel()
		return nil, state.Load() == connected, err
	}
	// The attempt's context lives as long as the answer's body.
	if rwc, ok := resp.Body.(io.ReadWriteCloser); ok {
		resp.Body = cancelReadWriteCloser{rwc, cancel}
	} else {
		resp.Body = cancelReadCloser{resp.Body, cancel}
	}
	return resp, true, nil
}

type cancelReadCloser struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelReadCloser) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}

// cancelReadWriteCloser keeps the body of an upgrade (exec, attach)
// writable, as ReverseProxy needs it.
type cancelReadWriteCloser struct {
	io.ReadWriteCloser
	cancel context.CancelFunc
}

func (c cancelReadWriteCloser) Close() error {
	defer c.cancel()
	return c.ReadWriteCloser.Close()
}
