package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/berthpaas/berth/backend/pki"
	"github.com/berthpaas/berth/client"
)

// credentialsFile is the name, in the state directory, of the saved
// credentials (mode 0600: it holds the token and the serving key).
const credentialsFile = "credentials.json"

// The master's endpoints of node trust.
const (
	nodeJoinPath   = "/auth/node-join"
	nodeRotatePath = "/auth/node-rotate"
)

// savedCredentials is what node-join or node-rotate answered, with the
// key the agent made, kept across restarts.
type savedCredentials struct {
	Master   string `json:"master"`
	NodeName string `json:"nodeName"`
	// Token is the node's credential, valid until ExpiresAt; ReceivedAt
	// (the agent's clock) starts its life for rotation.
	Token      string    `json:"token"`
	ReceivedAt time.Time `json:"receivedAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	// Certificate and Key serve the agent's endpoint; CACertificate is
	// the cluster CA, which the master's client certificate must chain to.
	Certificate   string `json:"certificate"`
	Key           string `json:"key"`
	CACertificate string `json:"caCertificate"`
}

// credentials holds the agent's credential and serving certificate,
// trades the bootstrap token for them at join, and rotates them before
// they expire.
type credentials struct {
	cfg       *Config
	opts      []client.Option
	log       *slog.Logger
	addresses []string // the serving certificate's, sent at join and rotation

	changeMu sync.Mutex // serialises joins and rotations
	mu       sync.Mutex
	api      *client.Client   // guarded by mu
	saved    savedCredentials // guarded by mu
	cert     *tls.Certificate // guarded by mu
	caPool   *x509.CertPool   // guarded by mu
	// rotateAt is when the next rotation is due (70-90% of the life, as
	// the kubelet's certificate manager jitters it).
	rotateAt time.Time // guarded by mu
}

func newCredentials(cfg *Config, opts []client.Option, addresses []string, log *slog.Logger) *credentials {
	return &credentials{cfg: cfg, opts: opts, addresses: addresses, log: log}
}

// client returns the client with the node's current credential.
func (c *credentials) client() *client.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.api
}

func (c *credentials) path() string { return filepath.Join(c.cfg.StateDir, credentialsFile) }

// load takes the saved credentials when they were issued by this master
// for this node name and are still live; it rotates a credential saved
// without a serving certificate, and joins when there is nothing usable.
func (c *credentials) load(ctx context.Context) error {
	data, err := os.ReadFile(c.path())
	switch {
	case errors.Is(err, os.ErrNotExist):
		return c.join(ctx, nil)
	case err != nil:
		return fmt.Errorf("read credentials: %w", err)
	}
	var saved savedCredentials
	if err := json.Unmarshal(data, &saved); err != nil {
		c.log.Warn("saved credentials unreadable; joining again", "path", c.path(), "error", err)
		return c.join(ctx, nil)
	}
	if saved.Master != c.cfg.Master || saved.NodeName != c.cfg.Name || saved.Token == "" {
		c.log.Info("saved credentials are for another master or node; joining again", "path", c.path())
		return c.join(ctx, nil)
	}
	if !saved.ExpiresAt.IsZero() && !time.Now().Before(saved.ExpiresAt) {
		c.log.Warn("the node's credential expired while the agent was down; joining with the bootstrap token", "expired_at", saved.ExpiresAt)
		if err := c.join(ctx, nil); err != nil {
			return fmt.Errorf("the node's credential expired at %s while the agent was down: %w", saved.ExpiresAt.Format(time.RFC3339), err)
		}
		return nil
	}
	if err := c.set(saved); err != nil {
		// Saved by an agent from before serving certificates and expiry:
		// the credential, if still live, rotates into one with both.
		c.log.Info("saved credentials lack a usable serving certificate; rotating", "reason", err)
		c.setToken(saved)
		return c.rotate(ctx)
	}
	return nil
}

// set makes saved the current credentials.
func (c *credentials) set(saved savedCredentials) error {
	cert, err := tls.X509KeyPair([]byte(saved.Certificate), []byte(saved.Key))
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(saved.CACertificate)) {
		return errors.New("no cluster CA certificate")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setTokenLocked(saved)
	c.cert, c.caPool = &cert, pool
	return nil
}

// setToken makes saved's token current, without its certificate.
func (c *credentials) setToken(saved savedCredentials) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setTokenLocked(saved)
}

func (c *credentials) setTokenLocked(saved savedCredentials) {
	c.api = client.New(c.cfg.Master, saved.Token, c.opts...)
	c.saved = saved
	life := saved.ExpiresAt.Sub(saved.ReceivedAt)
	c.rotateAt = saved.ReceivedAt.Add(time.Duration(float64(life) * (0.7 + 0.2*rand.Float64())))
}

// untilRotation is how long until the credential is due for rotation.
func (c *credentials) untilRotation() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Until(c.rotateAt)
}

func (c *credentials) expiresAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.saved.ExpiresAt
}

// credentialRequest is the body of node-join and node-rotate.
type credentialRequest struct {
	NodeName  string   `json:"nodeName,omitempty"`
	CSR       string   `json:"csr"`
	Addresses []string `json:"addresses"`
}

// credentialAnswer is the master's answer to both.
type credentialAnswer struct {
	Token         string    `json:"token"`
	ExpiresAt     time.Time `json:"expiresAt"`
	Certificate   string    `json:"certificate"`
	CACertificate string    `json:"caCertificate"`
}

// join trades the bootstrap token for the node's own credential and
// serving certificate. After the master refused stale, the client whose
// credential it no longer accepts, it joins again unless another caller
// has already replaced that client. Bootstrap tokens are single-use: the
// file must hold a fresh one for a second join to succeed.
func (c *credentials) join(ctx context.Context, stale *client.Client) error {
	c.changeMu.Lock()
	defer c.changeMu.Unlock()
	if cur := c.client(); cur != nil && cur != stale {
		return nil
	}
	if c.cfg.BootstrapTokenFile == "" {
		return fmt.Errorf("node join: no bootstrap token file given and no live credential saved: %s", c.newTokenHint())
	}
	raw, err := os.ReadFile(c.cfg.BootstrapTokenFile)
	if err != nil {
		return fmt.Errorf("node join: bootstrap token: %w", err)
	}
	bootstrap := strings.TrimSpace(string(raw))
	err = c.request(ctx, client.New(c.cfg.Master, bootstrap, c.opts...), nodeJoinPath, c.cfg.Name)
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && (apiErr.Code() == http.StatusUnauthorized || apiErr.Code() == http.StatusForbidden) {
		return fmt.Errorf("node join: the master refused the bootstrap token in %s (%w); %s", c.cfg.BootstrapTokenFile, err, c.newTokenHint())
	}
	if err != nil {
		return fmt.Errorf("node join: %w", err)
	}
	c.log.Info("joined the cluster", "master", c.cfg.Master, "expires_at", c.expiresAt())
	return nil
}

// newTokenHint says what an operator does about a node without a usable
// credential. It contains "bootstrap token", which permanent() looks for.
func (c *credentials) newTokenHint() string {
	return fmt.Sprintf("bootstrap tokens are single-use and expire: create a new one with `berth node token create NAME --node %s` and start the agent with --token-file", c.cfg.Name)
}

// rotate replaces the live credential and serving certificate with new
// ones (a new key each time); the master revokes the old credential. When
// the master no longer accepts the credential (it expired or was
// revoked), only a join with a new bootstrap token helps.
func (c *credentials) rotate(ctx context.Context) error {
	c.changeMu.Lock()
	cur := c.client()
	err := c.request(ctx, cur, nodeRotatePath, "")
	c.changeMu.Unlock()
	if apierrors.IsUnauthorized(err) {
		c.log.Warn("the master refused to rotate the node's credential; joining again", "error", err)
		return c.join(ctx, cur)
	}
	if err != nil {
		return fmt.Errorf("rotate the node credential: %w", err)
	}
	c.log.Info("rotated the node credential", "expires_at", c.expiresAt())
	return nil
}

// request asks path for credentials with api's token, then saves and
// sets them.
func (c *credentials) request(ctx context.Context, api *client.Client, path, nodeName string) error {
	keyPEM, csrPEM, err := pki.NewCSR(pki.NodeCommonName(c.cfg.Name))
	if err != nil {
		return err
	}
	var answer credentialAnswer
	body := credentialRequest{NodeName: nodeName, CSR: string(csrPEM), Addresses: c.addresses}
	if err := api.Do(ctx, http.MethodPost, path, nil, body, &answer); err != nil {
		return err
	}
	if answer.Token == "" || answer.Certificate == "" || answer.CACertificate == "" || answer.ExpiresAt.IsZero() {
		return fmt.Errorf("%s: the master answered without a token, an expiry or certificates", path)
	}
	saved := savedCredentials{
		Master: c.cfg.Master, NodeName: c.cfg.Name,
		Token: answer.Token, ReceivedAt: time.Now(), ExpiresAt: answer.ExpiresAt,
		Certificate: answer.Certificate, Key: string(keyPEM), CACertificate: answer.CACertificate,
	}
	if err := c.set(saved); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return c.save(saved)
}

// save writes the credentials with mode 0600, atomically.
func (c *credentials) save(saved savedCredentials) error {
	data, err := json.MarshalIndent(saved, "", "  ")
	if err != nil {
		return err
	}
	if err := pki.WriteFile(c.path(), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}

// serverTLS is the agent endpoint's TLS: the current serving certificate,
// and the master's client certificate required of every client, chained
// to the cluster CA and naming the masters.
func (c *credentials) serverTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			return &tls.Config{
				MinVersion:       tls.VersionTLS12,
				Certificates:     []tls.Certificate{*c.cert},
				ClientAuth:       tls.RequireAndVerifyClientCert,
				ClientCAs:        c.caPool,
				VerifyConnection: pki.RequirePeer(pki.MasterClientName),
				NextProtos:       []string{"http/1.1"},
			}, nil
		},
	}
}

// rotateCredentials rotates the credential whenever it is due, until ctx
// ends, backing off while the master does not answer.
func (a *Agent) rotateCredentials(ctx context.Context) {
	bo := newBackOff(time.Second, time.Minute)
	for {
		if !sleep(ctx, a.creds.untilRotation()) {
			return
		}
		err := a.creds.rotate(ctx)
		if err == nil {
			bo.Reset()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		a.log.Error("the node's credential could not be rotated", "expires_at", a.creds.expiresAt(), "error", err)
		if !bo.Wait(ctx) {
			return
		}
	}
}
