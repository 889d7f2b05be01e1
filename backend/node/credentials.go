package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/berthpaas/berth/client"
)

// credentialsFile is the name, in the state directory, of the saved
// credentials.
const credentialsFile = "credentials.json"

// savedCredentials is what node-join answered, kept across restarts.
type savedCredentials struct {
	Master      string `json:"master"`
	NodeName    string `json:"nodeName"`
	Token       string `json:"token"`
	ProxySecret string `json:"proxySecret"`
}

// credentials holds the agent's own credential and the proxy secret, and
// trades the bootstrap token for new ones when the master stops accepting
// them.
type credentials struct {
	cfg    *Config
	opts   []client.Option
	log    *slog.Logger
	joinMu sync.Mutex // serialises joins
	mu     sync.Mutex
	api    *client.Client // guarded by mu
	secret string         // guarded by mu
}

func newCredentials(cfg *Config, opts []client.Option, log *slog.Logger) *credentials {
	return &credentials{cfg: cfg, opts: opts, log: log}
}

// client returns the client with the node's current credential.
func (c *credentials) client() *client.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.api
}

// proxySecret is what the master presents to the agent's endpoint.
func (c *credentials) proxySecret() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.secret
}

func (c *credentials) path() string { return filepath.Join(c.cfg.StateDir, credentialsFile) }

// load takes the saved credentials when they were issued by this master
// for this node name, else joins.
func (c *credentials) load(ctx context.Context) error {
	data, err := os.ReadFile(c.path())
	switch {
	case err == nil:
		var saved savedCredentials
		if err := json.Unmarshal(data, &saved); err != nil {
			c.log.Warn("saved credentials unreadable; joining again", "path", c.path(), "error", err)
			break
		}
		if saved.Master != c.cfg.Master || saved.NodeName != c.cfg.Name || saved.Token == "" {
			c.log.Info("saved credentials are for another master or node; joining again", "path", c.path())
			break
		}
		c.set(saved)
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("read credentials: %w", err)
	}
	return c.join(ctx, nil)
}

func (c *credentials) set(saved savedCredentials) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.api = client.New(c.cfg.Master, saved.Token, c.opts...)
	c.secret = saved.ProxySecret
}

// join trades the bootstrap token for the node's own credential. After the
// master refused stale, the client whose credential it no longer accepts,
// it joins again unless another caller already has.
func (c *credentials) join(ctx context.Context, stale *client.Client) error {
	c.joinMu.Lock()
	defer c.joinMu.Unlock()
	if cur := c.client(); cur != nil && cur != stale {
		return nil
	}
	if c.cfg.BootstrapTokenFile == "" {
		return errors.New("node join: no bootstrap token file given and no saved credentials")
	}
	raw, err := os.ReadFile(c.cfg.BootstrapTokenFile)
	if err != nil {
		return fmt.Errorf("node join: bootstrap token: %w", err)
	}
	bootstrap := strings.TrimSpace(string(raw))
	var answer struct {
		Token       string `json:"token"`
		ProxySecret string `json:"proxySecret"`
	}
	body := map[string]string{"nodeName": c.cfg.Name}
	if err := client.New(c.cfg.Master, bootstrap, c.opts...).Do(ctx, http.MethodPost, "/auth/node-join", nil, body, &answer); err != nil {
		return fmt.Errorf("node join: %w", err)
	}
	if answer.Token == "" || answer.ProxySecret == "" {
		return errors.New("node join: the master answered without a token or proxy secret")
	}
	saved := savedCredentials{Master: c.cfg.Master, NodeName: c.cfg.Name, Token: answer.Token, ProxySecret: answer.ProxySecret}
	if err := c.save(saved); err != nil {
		return err
	}
	c.set(saved)
	c.log.Info("joined the cluster", "master", c.cfg.Master)
	return nil
}

// save writes the credentials with mode 0600, atomically.
func (c *credentials) save(saved savedCredentials) error {
	if err := os.MkdirAll(c.cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	data, err := json.MarshalIndent(saved, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.cfg.StateDir, credentialsFile+".*")
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save credentials: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.path()); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}
