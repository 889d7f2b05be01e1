package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthpaas/berth/backend/node"
	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/docker"
	"github.com/berthpaas/berth/backend/node/runtime/fake"
	"github.com/berthpaas/berth/backend/systemd"
	"github.com/spf13/cobra"
)

type nodeFlags struct {
	master, tokenFile, name, labels, dockerHost, stateDir string
	listen, address, runtime, caFile, logLevel            string
}

func nodeCommand() *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run the node agent: register this host and run the pods bound to it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNode(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.master, "master", "", "URL of the Berth master (required)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the node bootstrap token (berth node token create); needed until the node has joined")
	fl.StringVar(&f.name, "name", "", "node name (default: the host name)")
	fl.StringVar(&f.labels, "labels", "", "node labels, k=v,k2=v2")
	fl.StringVar(&f.dockerHost, "docker-host", "", "Docker engine address (default: DOCKER_HOST or the local socket)")
	fl.StringVar(&f.stateDir, "state-dir", "/var/lib/berth-node", "directory for the node's credentials and pod state")
	fl.StringVar(&f.listen, "listen", node.DefaultListen, "address of the endpoint the master proxies logs, exec and attach to")
	fl.StringVar(&f.address, "address", "", "IP address to advertise to the master (default: the first non-loopback IPv4, or 127.0.0.1 when --listen is loopback)")
	fl.StringVar(&f.runtime, "runtime", "docker", "container runtime: docker, or fake (simulated containers for scale tests)")
	fl.StringVar(&f.caFile, "certificate-authority", "", "PEM file of the CA that signs the master's certificate")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

func runNode(cmd *cobra.Command, f nodeFlags) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(systemd.NewLogHandler(level))
	if f.master == "" {
		return errors.New("--master is required")
	}
	labels, err := parseLabels(f.labels)
	if err != nil {
		return err
	}
	name := f.name
	if name == "" {
		if name, err = os.Hostname(); err != nil {
			return fmt.Errorf("--name not given and no host name: %w", err)
		}
		name = strings.ToLower(name)
	}
	stateDir, err := filepath.Abs(f.stateDir)
	if err != nil {
		return err
	}
	// --insecure-skip-tls-verify is the CLI's global flag.
	insecure, _ := cmd.Flags().GetBool("insecure-skip-tls-verify")

	ctx := cmd.Context()
	var rt runtime.Runtime
	switch f.runtime {
	case "docker":
		d, err := docker.New(ctx, docker.Options{
			Host:     f.dockerHost,
			StateDir: filepath.Join(stateDir, "runtime"), AllowHostPath: runtime.HostPathAllowed,
			Logger: logger.With("node", name),
		})
		if err != nil {
			return err
		}
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("infra image: %w", err)
		}
		if _, err := d.EnsureInfraImage(ctx, self, "pause"); err != nil {
			return err
		}
		rt = d
	case "fake":
		rt = fake.New(fake.Options{Hostname: name})
	default:
		return fmt.Errorf("--runtime %q: want docker or fake", f.runtime)
	}
	return node.Run(ctx, node.Config{
		Master:                f.master,
		BootstrapTokenFile:    f.tokenFile,
		Name:                  name,
		Labels:                labels,
		StateDir:              stateDir,
		Listen:                f.listen,
		Address:               f.address,
		Runtime:               rt,
		Logger:                logger,
		CAFile:                f.caFile,
		InsecureSkipTLSVerify: insecure,
	})
}

// parseLabels reads "k=v,k2=v2".
func parseLabels(s string) (map[string]string, error) {
	labels := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--labels: %q is not k=v", kv)
		}
		labels[k] = v
	}
	return labels, nil
}
