package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthpaas/berth/backend/node/network"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/server"
	"k8s.io/apimachinery/pkg/api/resource"

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
	limits                                                limitFlags
	serviceProxy                                          bool
	usageInterval                                         time.Duration
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
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the node's bootstrap token (berth node token create NAME --node NODE); single-use, needed to join and to join again after the node's credential expired")
	fl.StringVar(&f.name, "name", "", "node name (default: the host name)")
	fl.StringVar(&f.labels, "labels", "", "node labels, k=v,k2=v2")
	fl.StringVar(&f.dockerHost, "docker-host", "", "Docker engine address (default: DOCKER_HOST or the local socket)")
	fl.DurationVar(&f.usageInterval, "usage-interval", node.DefaultUsageInterval, "sampling window of usage metering (records wait in STATE_DIR/usage until the master has them)")
	fl.StringVar(&f.stateDir, "state-dir", "/var/lib/berth-node", "directory for the node's credentials and pod state")
	fl.StringVar(&f.listen, "listen", "", fmt.Sprintf("address of the endpoint the master proxies logs, exec and attach to; it serves TLS and answers only the master's client certificate (default: --address, port %d)", node.DefaultPort))
	fl.StringVar(&f.address, "address", "", "IP address to advertise to the master, which its serving certificate names (default: --listen's IP, else the first non-loopback IPv4)")
	fl.StringVar(&f.runtime, "runtime", "docker", "container runtime: docker, or fake (simulated containers for scale tests)")
	fl.StringVar(&f.caFile, "certificate-authority", "", "PEM file of the CA that signs the master's certificate")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.BoolVar(&f.serviceProxy, "service-proxy", true, "program this host's iptables so that services' cluster IPs and node ports reach their pods (one agent per host does, the others stand by)")
	f.limits.register(cmd)
	return cmd
}

// limitFlags bound a node's containers: `berth node`'s, and those of the
// agent `berth up` runs.
type limitFlags struct {
	pids                                int64
	memory, logMaxSize, emptyDirDefault string
	logMaxFiles                         int
}

func (l *limitFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.Int64Var(&l.pids, "pids-limit", docker.DefaultPidsLimit, "most processes in one container; -1 for no limit")
	fl.StringVar(&l.memory, "default-memory-limit", "512Mi", "memory limit of containers that set none (swap is never more than a container's memory limit); 0 for none")
	fl.StringVar(&l.logMaxSize, "container-log-max-size", "10Mi", "size at which a container's log is rotated")
	fl.IntVar(&l.logMaxFiles, "container-log-max-files", docker.DefaultLogMaxFiles, "log files kept per container, the current one included")
	fl.StringVar(&l.emptyDirDefault, "emptydir-default-limit", "1Gi", "size limit of emptyDir volumes that set no sizeLimit (a pod past a limit is evicted); 0 for none")
}

// parse reads the flags; a zero memory or emptyDir limit means none.
func (l limitFlags) parse() (server.NodeLimits, error) {
	quantity := func(flag, s string) (int64, error) {
		q, err := resource.ParseQuantity(s)
		if err != nil || q.Sign() < 0 {
			return 0, fmt.Errorf("--%s %q: want a size such as 512Mi", flag, s)
		}
		if q.IsZero() {
			return -1, nil
		}
		return q.Value(), nil
	}
	var out server.NodeLimits
	var err error
	out.Containers.PidsLimit, out.Containers.LogMaxFiles = l.pids, l.logMaxFiles
	if l.pids == 0 {
		return out, errors.New("--pids-limit 0: want a positive limit, or -1 for none")
	}
	if out.Containers.DefaultMemory, err = quantity("default-memory-limit", l.memory); err != nil {
		return out, err
	}
	if out.Containers.LogMaxSize, err = quantity("container-log-max-size", l.logMaxSize); err != nil || out.Containers.LogMaxSize < 0 {
		return out, fmt.Errorf("--container-log-max-size %q: want a positive size such as 10Mi", l.logMaxSize)
	}
	if l.logMaxFiles < 1 {
		return out, fmt.Errorf("--container-log-max-files %d: want at least 1", l.logMaxFiles)
	}
	if out.EmptyDirLimit, err = quantity("emptydir-default-limit", l.emptyDirDefault); err != nil {
		return out, err
	}
	return out, nil
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

	limits, err := f.limits.parse()
	if err != nil {
		return err
	}
	if f.usageInterval < time.Second {
		return fmt.Errorf("--usage-interval %v: must be a second or more", f.usageInterval)
	}
	ctx := cmd.Context()
	var rt runtime.Runtime
	var podNetwork node.PodNetwork
	switch f.runtime {
	case "docker":
		netw, err := newPodNetwork(f.dockerHost, stateDir, logger.With("node", name))
		if err != nil {
			return err
		}
		d, err := docker.New(ctx, docker.Options{
			Host:     f.dockerHost,
			StateDir: filepath.Join(stateDir, "runtime"), AllowHostPath: berthv1.HostPathAllowed,
			Logger: logger.With("node", name), Limits: limits.Containers, Network: netw,
		})
		if err != nil {
			return err
		}
		if _, err := d.EnsureInfraImage(ctx); err != nil {
			return err
		}
		rt, podNetwork = d, netw
	case "fake":
		// The runtime is simulated, the host is not: on an OSTree host
		// the agent reports the deployment it booted, as with Docker.
		rt = fake.New(fake.Options{Hostname: name, BootedDeployment: docker.BootedDeployment(ctx)})
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
		Network:               podNetwork,
		Services:              podNetwork != nil,
		ServiceProxy:          podNetwork != nil && f.serviceProxy,
		Logger:                logger,
		CAFile:                f.caFile,
		InsecureSkipTLSVerify: insecure,
		EmptyDirLimit:         limits.EmptyDirLimit,
		UsageInterval:         f.usageInterval,
	})
}

// newPodNetwork is the node's pod network on the Docker engine at host,
// named after the agent's state directory.
func newPodNetwork(host, stateDir string, logger *slog.Logger) (*network.Network, error) {
	cli, err := docker.Dial(host)
	if err != nil {
		return nil, err
	}
	return network.New(network.Options{Engine: cli, StateDir: stateDir, Logger: logger})
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
