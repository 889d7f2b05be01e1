package client

import (
	"fmt"
	"net/http"
	"time"

	"k8s.io/client-go/transport/spdy"
	"k8s.io/streaming/pkg/httpstream"
	httpstreamspdy "k8s.io/streaming/pkg/httpstream/spdy"
)

// spdyPingPeriod keeps a port forward's connection alive through idle
// proxies, as client-go's SPDY round tripper does for kubectl.
const spdyPingPeriod = 5 * time.Second

// PortForwardDialer returns what opens a port forward session to a pod
// (portforward.k8s.io over SPDY, authenticated as the client), for
// client-go's portforward.NewOnAddressesForStreaming, which carries any number of
// local connections in one session.
func (c *Client) PortForwardDialer(namespace, name string) (httpstream.Dialer, error) {
	if c.serverErr != nil {
		return nil, c.serverErr
	}
	path, err := podSubresourcePath(namespace, name, "portforward")
	if err != nil {
		return nil, err
	}
	upgrader, err := httpstreamspdy.NewRoundTripperWithConfig(httpstreamspdy.RoundTripperConfig{
		TLS:        c.tlsConfig,
		Proxier:    http.ProxyFromEnvironment,
		PingPeriod: spdyPingPeriod,
	})
	if err != nil {
		return nil, fmt.Errorf("port forward to pod %q: %w", name, err)
	}
	authenticated := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		c.authenticate(r.Header)
		return upgrader.RoundTrip(r)
	})
	u := c.url(path, nil)
	return spdy.NewDialerForStreaming(spdy.NewUpgraderForStreaming(upgrader), &http.Client{Transport: authenticated}, http.MethodPost, &u), nil
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
