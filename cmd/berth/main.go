// Command berth is Berth's single binary: the all-in-one server (up), the
// master, and the CLI. main only parses flags and wires packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/berthpaas/berth/backend/metering"
	"github.com/berthpaas/berth/backend/node"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/registry/allocator"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/berthpaas/berth/backend/accounts"
	"github.com/berthpaas/berth/backend/admission"
	"github.com/berthpaas/berth/backend/api"
	"github.com/berthpaas/berth/backend/etcdserver"
	"github.com/berthpaas/berth/backend/registry/core"
	"github.com/berthpaas/berth/backend/server"
	"github.com/berthpaas/berth/backend/streams"
	"github.com/berthpaas/berth/backend/version"
	"github.com/berthpaas/berth/cli"
	"github.com/berthpaas/berth/console"
	"github.com/labstack/echo/v4"
	"github.com/spf13/cobra"
)

func main() {
	root := cli.NewRootCommand(upCommand(), masterCommand(), versionCommand(), nodeCommand())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(cli.ExitCode(err))
	}
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Berth's version and commit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), version.String())
			return nil
		},
	}
}

// minNodeCredentialTTL keeps node credentials from rotating in a storm.
const minNodeCredentialTTL = time.Minute

// defaultDataDir is $XDG_DATA_HOME/berth when set, else ./.berth.
func defaultDataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "berth")
	}
	return ".berth"
}

type serverFlags struct {
	dataDir, listen, databaseURL, etcdEndpoints, logLevel string
	etcdCAFile, etcdCertFile, etcdKeyFile, tlsDir         string
	nodeCredentialTTL                                     time.Duration
	noNode                                                bool
	consoleDevDir                                         string
	nodeRuntime                                           string
	maxTokenTTL                                           time.Duration
	nodeLimits                                            limitFlags
	maxReplicas                                           int32
	hostPortRange                                         string
	eventTTL                                              time.Duration
	usageRetention, usageInterval                         time.Duration
	maxStreamsPerUser, maxStreams                         map[string]int
	clusterCIDR                                           string
	networkIsolation                                      bool
	serviceCIDR, clusterDomain                            string
	encryptionConfig                                      string
	hostImages                                            hostImageFlags
	routerListen, routerTLSListen, appsDomain             string
}

func (f *serverFlags) register(cmd *cobra.Command, withDataDir bool) {
	if withDataDir {
		cmd.Flags().StringVar(&f.dataDir, "data-dir", defaultDataDir(), "directory for the embedded etcd, the private PostgreSQL and the admin password")
	}
	cmd.Flags().StringVar(&f.listen, "listen", "127.0.0.1:8080", "address of the API and console")
	cmd.Flags().StringVar(&f.databaseURL, "database-url", "", "PostgreSQL URL (default: run a private PostgreSQL in the data dir)")
	cmd.Flags().StringVar(&f.etcdEndpoints, "etcd-endpoints", "", "comma-separated etcd client URLs (default: embedded etcd in the data dir)")
	cmd.Flags().StringVar(&f.etcdCAFile, "etcd-cafile", "", "PEM file of the CA that signs the etcd servers' certificates (with --etcd-endpoints)")
	cmd.Flags().StringVar(&f.etcdCertFile, "etcd-certfile", "", "PEM client certificate the master presents to etcd (with --etcd-endpoints)")
	cmd.Flags().StringVar(&f.etcdKeyFile, "etcd-keyfile", "", "PEM private key of --etcd-certfile")
	cmd.Flags().StringVar(&f.tlsDir, "tls-dir", "", "directory of the cluster CA (ca.crt, ca.key) and the serving certificate; masters of one cluster share the CA (default: DATA_DIR/tls)")
	cmd.Flags().DurationVar(&f.nodeCredentialTTL, "node-credential-ttl", accounts.DefaultNodeCredentialTTL, "life of a node's credential and serving certificate; agents rotate them before it ends")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&f.consoleDevDir, "console-dev-dir", "", "serve the console from this directory on disk (development: edits show on reload)")
	cmd.Flags().DurationVar(&f.maxTokenTTL, "max-token-ttl", api.DefaultMaxTokenTTL, "longest life a user may give an API token")
	cmd.Flags().Int32Var(&f.maxReplicas, "max-replicas", admission.DefaultMaxReplicas, "most replicas one replication controller may ask for")
	cmd.Flags().StringVar(&f.hostPortRange, "host-port-range", admission.DefaultHostPortRange.String(), "host ports that tenants' pods may publish (cluster admins' are not limited)")
	cmd.Flags().DurationVar(&f.eventTTL, "event-ttl", core.DefaultEventTTL, "how long events are kept")
	cmd.Flags().DurationVar(&f.usageRetention, "usage-retention", metering.DefaultRetention, "how long raw usage records are kept (rollups are kept for good); reports may span this much")
	cmd.Flags().DurationVar(&f.usageInterval, "usage-interval", node.DefaultUsageInterval, "sampling window of usage metering of the local node agent (berth up)")
	cmd.Flags().StringVar(&f.clusterCIDR, "cluster-cidr", berthv1.DefaultClusterCIDR, fmt.Sprintf("range the nodes' pod subnets (a /%d each) are cut from; the same on every master", berthv1.NodeSubnetPrefixLength))
	f.hostImages.register(cmd)
	cmd.Flags().BoolVar(&f.networkIsolation, "network-isolation", true, "isolate projects on the pod network: a pod reaches only its project's pods, those of projects joined with it and of global projects (false: every pod reaches every pod)")
	cmd.Flags().StringVar(&f.serviceCIDR, "service-cluster-ip-range", core.DefaultServiceCIDR.String(), "IPv4 range services' cluster IPs come from; the cluster DNS takes its tenth address")
	cmd.Flags().StringVar(&f.clusterDomain, "cluster-domain", berthv1.DefaultClusterDomain, "DNS domain of the cluster's services (<service>.<project>.svc.DOMAIN)")
	cmd.Flags().StringVar(&f.routerListen, "router-listen", "127.0.0.1:8081", "address of the HTTP router that serves routes (empty: no router)")
	cmd.Flags().StringVar(&f.routerTLSListen, "router-tls-listen", "127.0.0.1:8443", "HTTPS address of the router, for routes with TLS (empty: none)")
	cmd.Flags().StringVar(&f.appsDomain, "apps-domain", berthv1.DefaultAppsDomain, "domain of routes' default hosts (<service>-<project>.DOMAIN); names under localhost reach this machine in browsers and curl with no DNS set-up")
	cmd.Flags().StringVar(&f.encryptionConfig, "encryption-provider-config", "", "EncryptionConfiguration (kube-apiserver's format, aesgcm keys) that encrypts secrets in etcd; the same file on every master (default: DATA_DIR/"+server.EncryptionConfigFile+", else TLS_DIR/..., created on first start)")
	cmd.Flags().StringToIntVar(&f.maxStreamsPerUser, "max-streams-per-user", limitFlag(streams.DefaultLimits.PerUser),
		"streams one user may hold open at once, by kind: watch, log (follows), exec (exec and attach), console (sockets)")
	cmd.Flags().StringToIntVar(&f.maxStreams, "max-streams", limitFlag(streams.DefaultLimits.Total),
		"streams all users together may hold open at once on this master, by kind")
}

func limitFlag(limits map[streams.Kind]int) map[string]int {
	out := make(map[string]int, len(limits))
	for k, v := range limits {
		out[string(k)] = v
	}
	return out
}

// streamLimits reads --max-streams-per-user and --max-streams.
func (f *serverFlags) streamLimits() (streams.Limits, error) {
	perUser, err := kindLimits("--max-streams-per-user", f.maxStreamsPerUser)
	if err != nil {
		return streams.Limits{}, err
	}
	total, err := kindLimits("--max-streams", f.maxStreams)
	if err != nil {
		return streams.Limits{}, err
	}
	return streams.Limits{PerUser: perUser, Total: total}, nil
}

func kindLimits(flag string, in map[string]int) (map[streams.Kind]int, error) {
	out := make(map[streams.Kind]int, len(in))
	for k, v := range in {
		if !slices.Contains(streams.Kinds, streams.Kind(k)) {
			return nil, fmt.Errorf("%s: unknown kind %q: want watch, log, exec or console", flag, k)
		}
		if v <= 0 {
			return nil, fmt.Errorf("%s: %s=%d: must be positive", flag, k, v)
		}
		out[streams.Kind(k)] = v
	}
	return out, nil
}

func (f *serverFlags) config(cmd *cobra.Command) (server.Config, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return server.Config{}, fmt.Errorf("--log-level: %w", err)
	}
	dataDir := f.dataDir
	if dataDir != "" {
		abs, err := filepath.Abs(dataDir)
		if err != nil {
			return server.Config{}, err
		}
		dataDir = abs
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	if f.maxTokenTTL <= 0 {
		return server.Config{}, fmt.Errorf("--max-token-ttl %v: must be positive", f.maxTokenTTL)
	}
	if f.maxReplicas <= 0 {
		return server.Config{}, fmt.Errorf("--max-replicas %d: must be positive", f.maxReplicas)
	}
	if f.usageRetention < 24*time.Hour {
		return server.Config{}, fmt.Errorf("--usage-retention %v: must be a day or more", f.usageRetention)
	}
	if f.usageInterval < time.Second {
		return server.Config{}, fmt.Errorf("--usage-interval %v: must be a second or more", f.usageInterval)
	}
	if f.eventTTL < time.Second {
		return server.Config{}, fmt.Errorf("--event-ttl %v: must be a second or more", f.eventTTL)
	}
	hostPorts, err := admission.ParsePortRange(f.hostPortRange)
	if err != nil {
		return server.Config{}, fmt.Errorf("--host-port-range: %w", err)
	}
	clusterCIDR, err := netip.ParsePrefix(f.clusterCIDR)
	if err == nil {
		err = allocator.CheckSubnetting(clusterCIDR, berthv1.NodeSubnetPrefixLength)
	}
	if err != nil {
		return server.Config{}, fmt.Errorf("--cluster-cidr %q: %w", f.clusterCIDR, err)
	}
	limits, err := f.streamLimits()
	if err != nil {
		return server.Config{}, err
	}
	serviceCIDR, err := netip.ParsePrefix(f.serviceCIDR)
	if err == nil {
		err = core.ValidateServiceCIDR(serviceCIDR)
	}
	if err != nil {
		return server.Config{}, fmt.Errorf("--service-cluster-ip-range: %w", err)
	}
	if msgs := validation.IsDNS1123Subdomain(f.clusterDomain); len(msgs) > 0 {
		return server.Config{}, fmt.Errorf("--cluster-domain %q: %s", f.clusterDomain, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsDNS1123Subdomain(f.appsDomain); len(msgs) > 0 {
		return server.Config{}, fmt.Errorf("--apps-domain %q: %s", f.appsDomain, strings.Join(msgs, "; "))
	}
	hostImages, err := f.hostImages.config()
	if err != nil {
		return server.Config{}, err
	}
	var endpoints []string
	for _, e := range strings.Split(f.etcdEndpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			endpoints = append(endpoints, e)
		}
	}
	if f.nodeCredentialTTL < minNodeCredentialTTL {
		return server.Config{}, fmt.Errorf("--node-credential-ttl %v: at least %v", f.nodeCredentialTTL, minNodeCredentialTTL)
	}
	tlsDir := f.tlsDir
	if tlsDir != "" {
		abs, err := filepath.Abs(tlsDir)
		if err != nil {
			return server.Config{}, err
		}
		tlsDir = abs
	}
	etcdTLS := etcdserver.ClientTLS{CAFile: f.etcdCAFile, CertFile: f.etcdCertFile, KeyFile: f.etcdKeyFile}
	if len(endpoints) == 0 && !etcdTLS.Empty() {
		return server.Config{}, errors.New("--etcd-cafile, --etcd-certfile and --etcd-keyfile are for an external etcd: give --etcd-endpoints")
	}
	if (etcdTLS.CertFile == "") != (etcdTLS.KeyFile == "") {
		return server.Config{}, errors.New("--etcd-certfile and --etcd-keyfile go together")
	}
	return server.Config{
		DataDir:            dataDir,
		Listen:             f.listen,
		DatabaseURL:        f.databaseURL,
		EtcdEndpoints:      endpoints,
		EtcdTLS:            etcdTLS,
		TLSDir:             tlsDir,
		NodeCredentialTTL:  f.nodeCredentialTTL,
		Logger:             logger,
		Out:                cmd.OutOrStdout(),
		Mount:              mountConsole(f.consoleDevDir, logger),
		MaxTokenTTL:        f.maxTokenTTL,
		MaxReplicas:        f.maxReplicas,
		HostPorts:          hostPorts,
		EventTTL:           f.eventTTL,
		UsageRetention:     f.usageRetention,
		UsageInterval:      f.usageInterval,
		StreamLimits:       limits,
		ClusterCIDR:        clusterCIDR.Masked(),
		NoNetworkIsolation: !f.networkIsolation,
		ServiceCIDR:        serviceCIDR,
		ClusterDomain:      f.clusterDomain,
		EncryptionConfig:   f.encryptionConfig,
		HostImages:         hostImages,
		RouterListen:       f.routerListen,
		RouterTLSListen:    f.routerTLSListen,
		RouterListenSet:    cmd.Flags().Changed("router-listen"),
		RouterTLSListenSet: cmd.Flags().Changed("router-tls-listen"),
		AppsDomain:         f.appsDomain,
	}, nil
}

// mountConsole serves the web console beside the API; its in-process API
// calls go through the server's own handler.
func mountConsole(devDir string, logger *slog.Logger) func(*echo.Echo) func() {
	return func(e *echo.Echo) func() {
		con := console.New(console.Config{API: e, Logger: logger.With("component", "console"), DevDir: devDir})
		con.Register(e)
		return con.Shutdown
	}
}

func upCommand() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run all of Berth on this machine: embedded etcd, a private PostgreSQL and the master",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(cmd)
			if err != nil {
				return err
			}
			cfg.RunNode, cfg.NodeRuntime = !f.noNode, f.nodeRuntime
			if cfg.NodeLimits, err = f.nodeLimits.parse(); err != nil {
				return err
			}
			return server.Run(cmd.Context(), cfg)
		},
	}
	f.register(cmd, true)
	cmd.Flags().BoolVar(&f.noNode, "no-node", false, "do not run a node agent on the local Docker engine")
	cmd.Flags().StringVar(&f.nodeRuntime, "node-runtime", "docker", "runtime of the local node agent: docker, or fake (simulated containers)")
	f.nodeLimits.register(cmd)
	return cmd
}

func masterCommand() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "master",
		Short: "Run the Berth master against an external etcd and PostgreSQL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.databaseURL == "" || f.etcdEndpoints == "" {
				return errors.New("berth master needs --database-url and --etcd-endpoints (use berth up for an all-in-one server)")
			}
			if f.tlsDir == "" {
				return errors.New("berth master needs --tls-dir: the cluster CA there signs node certificates and the master's client certificate (created on first start; copy ca.crt and ca.key into the TLS dir of every other master)")
			}
			cfg, err := f.config(cmd)
			if err != nil {
				return err
			}
			return server.Run(cmd.Context(), cfg)
		},
	}
	f.register(cmd, false)
	return cmd
}
