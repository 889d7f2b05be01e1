package api

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/berthpaas/berth/backend/pki"
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

// agentTransport is the transport to the agent of node, or an error when
// this master cannot reach agents (no cluster CA).
func (a *API) agentTransport(node string) (http.RoundTripper, error) {
	if a.nodes.transports == nil {
		return nil, statusError(fmt.Errorf("this master has no cluster CA (start it with --tls-dir) to reach node %q: %w", node, errNodeUnreachable), zeroGR, "")
	}
	return a.nodes.transports.forNode(node), nil
}
