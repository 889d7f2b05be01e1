package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthpaas/berth/backend/node/network"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"

	"github.com/berthpaas/berth/backend/accounts"
	"github.com/berthpaas/berth/backend/node"
	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/docker"
	"github.com/berthpaas/berth/backend/node/runtime/fake"
)

// NodeLimits bound the containers of the local node agent, as the flags
// of `berth node` bound a node's; zero values take the defaults.
type NodeLimits struct {
	// Containers are the pids, default memory and log bounds of every
	// container (docker.Limits).
	Containers docker.Limits
	// EmptyDirLimit is node.Config.EmptyDirLimit.
	EmptyDirLimit int64
}

// localNodeToken names the bootstrap token `berth up` gives its own agent.
const localNodeToken = "local-node-bootstrap"

// startLocalNode runs the all-in-one's node agent against the local Docker
// engine (or the fake runtime). On every start it gets a fresh bootstrap
// token, owned by the admin and naming its node, which it uses only if its
// saved credential is gone or expired (berth up was down past its life).
// It returns a function that waits for the agent to stop once ctx ends.
// Without a reachable Docker engine (or its infra image) it logs why and
// runs no node: the master is still useful, and the message says how to
// fix it.
func startLocalNode(ctx context.Context, cfg Config, masterURL string, acct *accounts.Store, logger *slog.Logger) (func(), error) {
	name, err := os.Hostname()
	if err != nil || name == "" {
		name = "local"
	}
	name = strings.ToLower(name)
	logger = logger.With("component", "node")
	stateDir := filepath.Join(cfg.DataDir, "node")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("node state dir: %w", err)
	}
	rt, podNetwork, err := localRuntime(ctx, cfg, name, stateDir, logger.With("node", name))
	if err != nil {
		logger.Warn("no node agent; if the Docker engine does not answer, run scripts/setup (or make up) to start it, then restart berth up", "error", err)
		return func() {}, nil
	}
	tokenFile, err := writeBootstrapToken(ctx, acct, name, stateDir)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := node.Run(ctx, node.Config{
			Master:             masterURL,
			BootstrapTokenFile: tokenFile,
			Name:               name,
			StateDir:           stateDir,
			Listen:             "127.0.0.1:0",
			Runtime:            rt,
			Network:            podNetwork,
			Services:           podNetwork != nil,
			ServiceProxy:       podNetwork != nil,
			Logger:             logger,
			EmptyDirLimit:      cfg.NodeLimits.EmptyDirLimit,
			UsageInterval:      cfg.UsageInterval,
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("node agent stopped", "error", err)
		}
	}()
	return func() { <-done }, nil
}

// localRuntime is the local agent's runtime and, on Docker, its pod
// network (nil for the fake runtime).
func localRuntime(ctx context.Context, cfg Config, name, stateDir string, logger *slog.Logger) (runtime.Runtime, node.PodNetwork, error) {
	if cfg.NodeRuntime == "fake" {
		return fake.New(fake.Options{Hostname: name}), nil, nil
	}
	cli, err := docker.Dial("")
	if err != nil {
		return nil, nil, err
	}
	netw, err := network.New(network.Options{Engine: cli, StateDir: stateDir, Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	d, err := docker.New(ctx, docker.Options{
		StateDir: filepath.Join(stateDir, "runtime"), AllowHostPath: berthv1.HostPathAllowed, Logger: logger,
		Limits: cfg.NodeLimits.Containers, Network: netw,
	})
	if err != nil {
		return nil, nil, err
	}
	if _, err := d.EnsureInfraImage(ctx); err != nil {
		return nil, nil, fmt.Errorf("build the infra image: %w", err)
	}
	return d, netw, nil
}

// writeBootstrapToken issues the admin a fresh bootstrap token for the
// local node (the previous one, used or not, is revoked) and writes it for
// the local agent (0600).
func writeBootstrapToken(ctx context.Context, acct *accounts.Store, nodeName, stateDir string) (string, error) {
	admin, err := acct.GetUser(ctx, "admin")
	if err != nil {
		return "", fmt.Errorf("local node: %w", err)
	}
	if err := acct.RevokeToken(ctx, admin.ID, localNodeToken); err != nil && !errors.Is(err, accounts.ErrNotFound) {
		return "", err
	}
	secret, _, err := acct.CreateBootstrapToken(ctx, admin.ID, localNodeToken, nodeName, 0)
	if err != nil {
		return "", fmt.Errorf("local node token: %w", err)
	}
	path := filepath.Join(stateDir, "bootstrap-token")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", err
	}
	return path, nil
}
