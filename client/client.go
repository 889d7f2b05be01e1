package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds a request that is not a stream.
const DefaultTimeout = 30 * time.Second

// Client talks to one Berth server with one bearer token. It is safe for
// concurrent use.
type Client struct {
	server    *url.URL
	serverErr error // set when the server URL did not parse; every request returns it
	token     string
	userAgent string
	requests  *http.Client // bounded by a timeout
	streams   *http.Client // no overall timeout: watches last as long as their context
	// tlsConfig is the transport's, for the websockets of exec and attach;
	// nil means Go's defaults.
	tlsConfig *tls.Config
}

// Option configures a Client.
type Option func(*options)

type options struct {
	timeout    time.Duration
	insecure   bool
	httpClient *http.Client
	userAgent  string
}

// WithTimeout sets the timeout of requests that are not streams.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithInsecureSkipTLSVerify accepts any server certificate. Only for test
// servers with self-signed certificates.
func WithInsecureSkipTLSVerify() Option { return func(o *options) { o.insecure = true } }

// WithHTTPClient makes the client send through hc (its transport and
// timeout); streams use a copy of hc without the timeout.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.httpClient = hc } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// New returns a client of the server (a URL; "https://" is assumed when it
// has no scheme) that authenticates with token, which may be empty. A
// malformed server URL is reported by the first request.
func New(server, token string, opts ...Option) *Client {
	o := options{timeout: DefaultTimeout, userAgent: "berth-client"}
	for _, opt := range opts {
		opt(&o)
	}
	c := &Client{token: token, userAgent: o.userAgent}
	normalized, err := NormalizeServer(server)
	if err != nil {
		c.serverErr = err
	} else {
		c.server, _ = url.Parse(normalized)
	}
	if o.httpClient != nil {
		c.requests = o.httpClient
		streams := *o.httpClient
		streams.Timeout = 0
		c.streams = &streams
		if t, ok := o.httpClient.Transport.(*http.Transport); ok {
			c.tlsConfig = t.TLSClientConfig
		}
		return c
	}
	transport := newTransport(o.insecure)
	c.requests = &http.Client{Transport: transport, Timeout: o.timeout}
	c.streams = &http.Client{Transport: transport}
	c.tlsConfig = transport.TLSClientConfig
	return c
}

func newTransport(insecure bool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for explicitly
	}
	return t
}

// NormalizeServer checks a server URL and returns it in canonical form:
// with a scheme ("https://" when none is given) and without a trailing
// slash.
func NormalizeServer(server string) (string, error) {
	s := strings.TrimSpace(server)
	if s == "" {
		return "", errors.New("no server given")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("invalid server URL %q: %w", server, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("invalid server URL %q: scheme must be http or https", server)
	}
	if u.Host == "" {
		return "", fmt.Errorf("invalid server URL %q: no host", server)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// Server is the server's URL in canonical form ("" if it did not parse).
func (c *Client) Server() string {
	if c.server == nil {
		return ""
	}
	return c.server.String()
}

// request is one HTTP exchange with the server.
type request struct {
	method      string
	path        string
	query       url.Values
	body        any // marshalled as JSON; []byte and json.RawMessage are sent as they are
	contentType string
	accept      string
	stream      bool
}

// Do sends one request to path (absolute, e.g. "/api/v1/namespaces") with
// body encoded as JSON (nil for none; []byte and json.RawMessage are sent
// as they are) and decodes the JSON answer into out (nil to discard it).
// A refusal is an *APIError.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	return c.do(ctx, request{method: method, path: path, query: query, body: body}, out)
}

func (c *Client) do(ctx context.Context, req request, out any) error {
	resp, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding the answer to %s %s: %w", req.method, req.path, err)
	}
	return nil
}

// send performs req and returns the response of a success, whose body the
// caller closes, or the error of a failure.
func (c *Client) send(ctx context.Context, req request) (*http.Response, error) {
	if c.serverErr != nil {
		return nil, c.serverErr
	}
	u := c.url(req.path, req.query)

	var body io.Reader
	switch b := req.body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	case json.RawMessage:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encoding the body of %s %s: %w", req.method, req.path, err)
		}
		body = bytes.NewReader(data)
	}
	httpReq, err := http.NewRequestWithContext(ctx, req.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		contentType := req.contentType
		if contentType == "" {
			contentType = "application/json"
		}
		httpReq.Header.Set("Content-Type", contentType)
	}
	accept := req.accept
	if accept == "" {
		accept = "application/json"
	}
	httpReq.Header.Set("Accept", accept)
	c.authenticate(httpReq.Header)

	hc := c.requests
	if req.stream {
		hc = c.streams
	}
	resp, err := hc.Do(httpReq)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return nil, fmt.Errorf("cannot reach the server %s: %w", c.server, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, errorFromResponse(resp.StatusCode, data)
	}
	return resp, nil
}

// url is the server's URL of path with query; the server URL must have
// parsed.
func (c *Client) url(path string, query url.Values) url.URL {
	u := *c.server
	u.Path = c.server.Path + path
	u.RawQuery = query.Encode()
	return u
}

// authenticate sets the headers every request carries: the user agent and
// the bearer token.
func (c *Client) authenticate(h http.Header) {
	h.Set("User-Agent", c.userAgent)
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
}

// Login exchanges a username and password for a token at server.
func Login(ctx context.Context, server, user, password string, opts ...Option) (string, error) {
	c := New(server, "", opts...)
	var answer struct {
		Token string `json:"token"`
	}
	creds := map[string]string{"username": user, "password": password}
	if err := c.Do(ctx, http.MethodPost, "/auth/login", nil, creds, &answer); err != nil {
		return "", err
	}
	if answer.Token == "" {
		return "", fmt.Errorf("the server %s answered the login without a token", c.server)
	}
	return answer.Token, nil
}

// Logout revokes the client's token.
func (c *Client) Logout(ctx context.Context) error {
	return c.Do(ctx, http.MethodPost, "/auth/logout", nil, nil, nil)
}
