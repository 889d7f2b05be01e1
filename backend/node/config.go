package node

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/client"
)

// Defaults of Config.
const (
	// DefaultPort is the agent endpoint's port, the kubelet's.
	DefaultPort              = 10250
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultResyncInterval    = 5 * time.Second
	// DefaultDataRefreshInterval: a changed secret or config map reaches
	// the volumes of the pods that use it within this and a resync, under
	// the minute Kubernetes' kubelet takes.
	DefaultDataRefreshInterval = 30 * time.Second
	// DefaultStatusReportInterval is how often an unchanged Node status
	// is written again (the kubelet's is five minutes; Berth's console
	// shows the last report, so it is shorter).
	DefaultStatusReportInterval = time.Minute
	// MaxPods is the pod capacity every node advertises, as the kubelet's.
	MaxPods = 110
)

// Config is what an agent needs to run. Master, Name, StateDir and Runtime
// are required; BootstrapTokenFile is required until the agent has joined
// once and saved its own credential in StateDir.
type Config struct {
	// Master is the API server's URL.
	Master string
	// BootstrapTokenFile holds a node token a cluster admin created; the
	// agent trades it for its own credential.
	BootstrapTokenFile string
	// Name is the Node's name.
	Name string
	// Labels are added to the Node's labels.
	Labels map[string]string
	// StateDir keeps the agent's credentials (mode 0600).
	StateDir string
	// Listen is the address of the endpoint the master proxies pod
	// operations to; default: Address on DefaultPort (never every
	// interface, so that pods do not reach it on their bridge). Port 0
	// picks a free one. It serves TLS and answers only the master's
	// client certificate.
	Listen string
	// Address is the InternalIP the Node advertises and its serving
	// certificate names; default: Listen's IP when it names one, else the
	// first non-loopback IPv4 of the host, else 127.0.0.1.
	Address string
	// Runtime runs the containers.
	Runtime runtime.Runtime
	// Network, when set, is the node's share of the cluster's pod network
	// (the Docker runtime's): the agent sets it up once the master gave
	// the node its subnet, keeps it programmed for the cluster, and
	// removes it from the host when it stops. Nil: the node has none
	// (hollow nodes).
	Network PodNetwork
	// Services makes the agent follow the cluster's services: their
	// variables in every container, and DNS on the pod network's gateway
	// (with Network). Off for hollow nodes.
	Services bool
	// ServiceProxy makes the agent program the host's iptables for the
	// services (one agent per host at a time; see backend/proxy).
	ServiceProxy bool
	// ProxyLockDir holds the host's service proxy locks; /run/berth when
	// empty.
	ProxyLockDir string
	// Logger receives the agent's logs; slog.Default() when nil.
	Logger *slog.Logger
	// CAFile is a PEM bundle that signs the master's certificate; empty
	// trusts the system's roots.
	CAFile string
	// InsecureSkipTLSVerify accepts any master certificate (test masters).
	InsecureSkipTLSVerify bool
	// HeartbeatInterval is the time between Ready heartbeats;
	// DefaultHeartbeatInterval when 0.
	HeartbeatInterval time.Duration
	// ResyncInterval is the time between full reconciliations of every
	// pod with the runtime; DefaultResyncInterval when 0.
	ResyncInterval time.Duration
	// DataRefreshInterval is how long the agent uses a secret or config
	// map it read before it reads it again; DefaultDataRefreshInterval
	// when 0.
	DataRefreshInterval time.Duration
	// StatusReportInterval is the longest time between writes of the
	// Node's status while nothing changes (the lease carries the
	// heartbeat); DefaultStatusReportInterval when 0.
	StatusReportInterval time.Duration
	// EmptyDirLimit is the size limit, in bytes, of emptyDir volumes
	// that set no sizeLimit; DefaultEmptyDirLimit when 0, none when
	// negative. A pod past a limit is evicted (eviction.go).
	EmptyDirLimit int64
	// UsageInterval is the sampling window of usage metering;
	// DefaultUsageInterval when 0.
	UsageInterval time.Duration
	// Ready, when set, is called once the Node is registered and the
	// endpoint serves, with the endpoint's address (tests use it).
	Ready func(addr net.Addr)
	// Upgrader stages host image commits for berth node upgrade;
	// OSTreeUpgrader when nil.
	Upgrader Upgrader
}

func (c *Config) setDefaults() error {
	var missing []error
	if c.Master == "" {
		missing = append(missing, errors.New("master URL"))
	}
	if c.Name == "" {
		missing = append(missing, errors.New("node name"))
	}
	if c.StateDir == "" {
		missing = append(missing, errors.New("state directory"))
	}
	if c.Runtime == nil {
		missing = append(missing, errors.New("runtime"))
	}
	if len(missing) > 0 {
		return fmt.Errorf("node config lacks: %w", errors.Join(missing...))
	}
	if c.Upgrader == nil {
		c.Upgrader = OSTreeUpgrader{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.ResyncInterval <= 0 {
		c.ResyncInterval = DefaultResyncInterval
	}
	if c.DataRefreshInterval <= 0 {
		c.DataRefreshInterval = DefaultDataRefreshInterval
	}
	if c.StatusReportInterval <= 0 {
		c.StatusReportInterval = DefaultStatusReportInterval
	}
	if c.UsageInterval <= 0 {
		c.UsageInterval = DefaultUsageInterval
	}
	if c.EmptyDirLimit == 0 {
		c.EmptyDirLimit = DefaultEmptyDirLimit
	}
	return nil
}

// clientOptions are the options of every client of the master.
func (c *Config) clientOptions() ([]client.Option, error) {
	opts := []client.Option{client.WithUserAgent("berth-node/" + c.Name)}
	switch {
	case c.InsecureSkipTLSVerify:
		opts = append(opts, client.WithInsecureSkipTLSVerify())
	case c.CAFile != "":
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("certificate authority: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("certificate authority %q: no PEM certificate", c.CAFile)
		}
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		opts = append(opts, client.WithHTTPClient(&http.Client{Transport: t, Timeout: client.DefaultTimeout}))
	}
	return opts, nil
}

// endpointAddresses are the InternalIP of a node configured with address
// and listen (both optional), and the address its endpoint listens on:
// listen, or the InternalIP on DefaultPort, never every interface.
func endpointAddresses(address, listen string) (hostIP, listenOn string, err error) {
	hostIP, err = advertisedAddress(address, listen)
	if err != nil {
		return "", "", err
	}
	if listen == "" {
		listen = net.JoinHostPort(hostIP, strconv.Itoa(DefaultPort))
	}
	return hostIP, listen, nil
}

// advertisedAddress is the InternalIP of a node configured with address
// and listen (both optional).
func advertisedAddress(configured, listen string) (string, error) {
	if configured != "" {
		ip := net.ParseIP(configured)
		if ip == nil || ip.IsUnspecified() {
			return "", fmt.Errorf("address %q is not a unicast IP address", configured)
		}
		return ip.String(), nil
	}
	if host, _, err := net.SplitHostPort(listen); err == nil {
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
			return ip.String(), nil
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("host addresses: %w", err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String(), nil
		}
	}
	return "127.0.0.1", nil
}
