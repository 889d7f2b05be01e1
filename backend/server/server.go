// Package server runs a Berth master: the API, health and metrics
// endpoints on one HTTP server, over etcd and PostgreSQL that are either
// embedded (berth up) or external (berth master).
//
//	Run ─► lock data dir ─► listen ─► etcd (embedded, TLS with client
//	       certificates; or client) ─► PostgreSQL (private or URL)
//	    ─► migrations ─► admin bootstrap ─► cluster CA (TLS dir)
//	    ─► serve (+ local node agent) ... ctx done ─► stop accepting, drain, end streams
//	    ─► close accounts ─► stop PostgreSQL ─► stop etcd ─► unlock
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/registry/allocator"

	"github.com/berthpaas/berth/backend/admission"
	"github.com/berthpaas/berth/backend/registry/core"

	"github.com/berthpaas/berth/backend/accounts"
	"github.com/berthpaas/berth/backend/api"
	"github.com/berthpaas/berth/backend/controller"
	"github.com/berthpaas/berth/backend/controller/hostimagebuild"
	"github.com/berthpaas/berth/backend/etcdserver"
	"github.com/berthpaas/berth/backend/leader"
	"github.com/berthpaas/berth/backend/metering"
	"github.com/berthpaas/berth/backend/pgserver"
	"github.com/berthpaas/berth/backend/registry/storage"
	"github.com/berthpaas/berth/backend/streams"
	"github.com/labstack/echo/v4"
	clientv3 "go.etcd.io/etcd/client/v3"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// Config says where a master keeps its state and where it listens.
type Config struct {
	// DataDir holds the embedded etcd, the private PostgreSQL, the lock
	// and the admin password; required unless both stores are external.
	DataDir string
	// Listen is the API's address, e.g. 127.0.0.1:8080.
	Listen string
	// DatabaseURL selects an external PostgreSQL; empty runs a private one.
	DatabaseURL string
	// EtcdEndpoints select an external etcd; empty embeds one.
	EtcdEndpoints []string
	// EtcdTLS is the CA the master trusts and the client certificate it
	// presents to an external etcd (--etcd-cafile, --etcd-certfile,
	// --etcd-keyfile). The embedded etcd has certificates of its own.
	EtcdTLS etcdserver.ClientTLS
	Logger  *slog.Logger
	// Out receives the lines meant for the person who started Berth: the
	// URL and, on first start, the admin's credentials.
	Out io.Writer
	// Ready, if set, is called once the server accepts requests, with its
	// URL and its etcd client (tests use it to compact and inspect).
	Ready func(url string, etcd *clientv3.Client)
	// TLSDir holds the cluster CA and the serving certificate (created on
	// first start); default DataDir/tls. Masters of one cluster share the
	// CA (ca.crt and ca.key) in their TLS dirs. Without a TLS dir only
	// plain HTTP is served, and nodes cannot join.
	TLSDir string
	// NodeCredentialTTL is the life of a node's credential and serving
	// certificate (agents rotate them before); default 24h.
	NodeCredentialTTL time.Duration
	// RunNode runs a node agent in the process (berth up), on the local
	// Docker engine or, with NodeRuntime "fake", simulated containers.
	RunNode     bool
	NodeRuntime string
	// NodeLimits bound the local node agent's containers; the zero value
	// takes the defaults.
	NodeLimits NodeLimits
	// Mount adds routes beside the API (the web console) to the server's
	// echo, whose handler also serves their in-process API calls; what it
	// returns is called when the server shuts down.
	Mount func(e *echo.Echo) (shutdown func())
	// StreamLimits bound the watches, log follows, exec and attach
	// sessions and console sockets open at once, per user and in total
	// (--max-streams-per-user, --max-streams); zero values take
	// streams.DefaultLimits.
	StreamLimits streams.Limits
	// StreamRecheckInterval is how often the credentials of open streams
	// are checked against the database, and so how long a stream may
	// outlive a revocation made on another master; default 10 s.
	StreamRecheckInterval time.Duration
	// AgentWait bounds how long a pod operation waits for its node's agent
	// to publish its address and answer, as after a restart of the master
	// or the agent (api.DefaultAgentWait when zero).
	AgentWait time.Duration
	// MaxTokenTTL bounds the life of the tokens users create (--max-token-ttl);
	// zero means api.DefaultMaxTokenTTL, one year.
	MaxTokenTTL time.Duration
	// WatchBookmarkInterval is how often watches that allow bookmarks get
	// one (api.DefaultBookmarkInterval when zero).
	WatchBookmarkInterval time.Duration
	// NoControllers leaves the scheduler and controllers out (API tests
	// that must see only their own writes).
	NoControllers bool
	// TestMode trades etcd durability for speed; tests only.
	TestMode bool
	// MaxReplicas caps the replicas of one replication controller
	// (admission.DefaultMaxReplicas when zero).
	MaxReplicas int32
	// HostPorts is the range of host ports tenants may publish
	// (admission.DefaultHostPortRange when zero).
	HostPorts admission.PortRange
	// UsageRetention is how long raw usage records are kept
	// (metering.DefaultRetention when zero).
	UsageRetention time.Duration
	// UsageInterval is the local node agent's sampling window
	// (node.DefaultUsageInterval when zero).
	UsageInterval time.Duration
	// EventTTL is how long events are kept (core.DefaultEventTTL when zero).
	EventTTL time.Duration
	// HostImages configures host image builds and the OSTree repository
	// the master serves.
	HostImages HostImages
	// ClusterCIDR is the range nodes' pod subnets are cut from
	// (--cluster-cidr); berthv1.DefaultClusterCIDR when zero. Every master
	// of a cluster must be given the same.
	ClusterCIDR netip.Prefix
	// NoNetworkIsolation lets every pod reach every pod (--network-isolation=false);
	// by default a pod reaches only its project's pods, those of projects
	// joined with it and those of global projects.
	NoNetworkIsolation bool
	// ServiceCIDR is the range of services' cluster IPs
	// (core.DefaultServiceCIDR when zero).
	ServiceCIDR netip.Prefix
	// ClusterDomain is the DNS domain of the cluster's services
	// (berthv1.DefaultClusterDomain when empty).
	ClusterDomain string
	// EncryptionConfig is the EncryptionConfiguration that encrypts
	// secrets at rest (--encryption-provider-config); default
	// DataDir/encryption-config.yaml (else TLSDir/...), created on first
	// start with a fresh AES-GCM key. Every master of a cluster needs the
	// same file.
	EncryptionConfig string
	// RouterListen is the address of the HTTP router that serves routes
	// (--router-listen); empty: no router. RouterTLSListen is its HTTPS
	// address (--router-tls-listen); empty: none. The ...Set fields say
	// the operator named them: then an address that cannot be had stops
	// the master, while a taken default only leaves the router out.
	RouterListen, RouterTLSListen       string
	RouterListenSet, RouterTLSListenSet bool
	// RouterReadHeaderTimeout bounds how long a router client may take
	// to send a request's header (router.DefaultReadHeaderTimeout when
	// zero).
	RouterReadHeaderTimeout time.Duration
	// AppsDomain is the domain of routes' default hosts
	// (berthv1.DefaultAppsDomain when empty).
	AppsDomain string
}

// Run serves until ctx ends, then shuts down cleanly.
func Run(ctx context.Context, cfg Config) error {
	logger := cfg.Logger
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	embedded := len(cfg.EtcdEndpoints) == 0 || cfg.DatabaseURL == ""
	if embedded {
		if err := prepareDataDir(cfg.DataDir); err != nil {
			return err
		}
		lock, err := lockDataDir(cfg.DataDir)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, lock.release)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("cannot listen on %s: the address is already in use; pick another with --listen", cfg.Listen)
		}
		return fmt.Errorf("cannot listen on %s: %w", cfg.Listen, err)
	}
	cleanups = append(cleanups, func() { ln.Close() })

	etcdClient, stopEtcd, err := openEtcd(ctx, cfg, logger)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, stopEtcd)

	dbURL, stopPG, err := openPostgres(ctx, cfg, logger)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, stopPG)

	acct, err := accounts.Open(ctx, dbURL, logger)
	if err != nil {
		return fmt.Errorf("open accounts database: %w", err)
	}
	cleanups = append(cleanups, acct.Close)

	hiStore, err := openHostImages(ctx, cfg, dbURL, logger)
	if err != nil {
		return fmt.Errorf("open host images: %w", err)
	}
	var hostImageStore api.HostImageStore
	if hiStore != nil {
		cleanups = append(cleanups, hiStore.Close)
		hostImageStore = hiStore
	}
	hostImageRepo := hostimagebuild.RepoDir(hostImageDir(cfg))
	usage, err := metering.Open(ctx, dbURL, cfg.UsageRetention, logger)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, usage.Close)
	sweepCtx, stopSweep := context.WithCancel(ctx)
	sweepDone := make(chan struct{})
	foldDone := make(chan struct{})
	go func() { defer close(sweepDone); usage.RunSweeper(sweepCtx, time.Hour) }()
	go func() { defer close(foldDone); usage.RunFolder(sweepCtx, 2*time.Second) }()
	cleanups = append(cleanups, func() { stopSweep(); <-sweepDone; <-foldDone })

	password, err := bootstrapAdmin(ctx, acct, cfg.DataDir)
	if err != nil {
		return err
	}

	auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	audit := acct.NewAuditWriter(auditCtx)
	cleanups = append(cleanups, func() { stopAudit(); <-audit.Done() })

	cluster, err := loadClusterTLS(cfg)
	if err != nil {
		return err
	}
	continueKey, err := clusterSecret(ctx, etcdClient, continueKeyKey)
	if err != nil {
		return err
	}
	store := storage.New(etcdClient, storage.Options{ContinueKey: continueKey})
	if !cfg.ClusterCIDR.IsValid() {
		cfg.ClusterCIDR = netip.MustParsePrefix(berthv1.DefaultClusterCIDR)
	}
	podSubnets, err := allocator.NewSubnets(etcdClient, "podcidrs", cfg.ClusterCIDR, berthv1.NodeSubnetPrefixLength)
	if err != nil {
		return fmt.Errorf("--cluster-cidr: %w", err)
	}
	if !cfg.ServiceCIDR.IsValid() {
		cfg.ServiceCIDR = core.DefaultServiceCIDR
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = berthv1.DefaultClusterDomain
	}
	transformers, err := loadEncryption(cfg)
	if err != nil {
		return err
	}
	if cfg.AppsDomain == "" {
		cfg.AppsDomain = berthv1.DefaultAppsDomain
	}
	routerLns, err := listenRouter(cfg, logger)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, routerLns.close)
	regs := core.NewRegistries(store, core.Config{
		Router:      routerLns.coreRouter(cfg.AppsDomain),
		Memberships: acct, Auditor: componentAuditor{writer: audit},
		MaxReplicas: cfg.MaxReplicas, HostPorts: cfg.HostPorts, EventTTL: cfg.EventTTL,
		PodSubnets: podSubnets, Logger: logger, Transformers: transformers,
		ServiceCIDR: cfg.ServiceCIDR,
	})
	if err := checkEncrypted(regs, transformers); err != nil {
		return err
	}
	streamRegistry, stopStreams := startStreams(ctx, cfg, acct, logger)
	cleanups = append(cleanups, stopStreams)
	apiServer := api.New(api.Config{Registries: regs, Accounts: acct, Audit: audit, Logger: logger, Metering: usage,
		ServesTLS: cluster.ca != nil, MaxTokenTTL: cfg.MaxTokenTTL,
		ClusterCA: cluster.ca, NodeCredentialTTL: cfg.NodeCredentialTTL, Streams: streamRegistry, AgentWait: cfg.AgentWait,
		HostImages: hostImageStore, HostImageRepo: hostImageRepo,
		ClusterNetwork: berthv1.ClusterNetwork{
			Network: podSubnets.Cluster().String(), SubnetPrefixLength: podSubnets.Bits(),
			ProjectIsolation: !cfg.NoNetworkIsolation,
			ServiceNetwork:   cfg.ServiceCIDR.String(), ClusterDomain: cfg.ClusterDomain,
		}})
	if err := ensureSystemNamespaces(ctx, store, acct); err != nil {
		return err
	}
	if !cfg.NoControllers {
		opts := controller.Options{HostImages: builderConfig(cfg, hiStore, logger)}
		cleanups = append(cleanups, startControllers(ctx, etcdClient, regs, opts, leaderIdentity(cfg.Listen), logger))
	}

	cleanups = append(cleanups, startRouter(ctx, cfg, regs, cluster.ca, routerLns, logger))
	e := newEcho(apiServer, etcdClient, acct, audit, streamRegistry, logger)
	if hiStore != nil {
		serveOSTreeRepo(e, hostImageRepo)
	}
	var unmount func()
	if cfg.Mount != nil {
		unmount = cfg.Mount(e)
	}
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: watches and log streams stay open for hours.
	}
	srv.RegisterOnShutdown(apiServer.EndStreams)
	if unmount != nil {
		// Shutdown does not close hijacked connections: what Mount added
		// (the console's websockets) ends here.
		srv.RegisterOnShutdown(unmount)
	}
	served, caFile := cluster.serve(ln, e)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(served) }()

	url := "http://" + ln.Addr().String()
	if cfg.RunNode {
		nodeCtx, stopNode := context.WithCancel(ctx)
		wait, err := startLocalNode(nodeCtx, cfg, url, acct, logger)
		if err != nil {
			stopNode()
			return err
		}
		// The agent stops before the HTTP server drains: its watch is one
		// of the streams a drain would otherwise wait for.
		defer func() { stopNode(); wait() }()
	}
	printWelcome(cfg, url, password, caFile)
	if cfg.Ready != nil {
		cfg.Ready(url, etcdClient)
	}
	logger.Info("berth master serving", "url", url)

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	}
	logger.Info("shutting down: draining requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("requests still running at shutdown", "error", err)
	}
	return nil
}

// startControllers runs the scheduler and the controllers whenever this
// master holds the election, and returns what stops them.
func startControllers(ctx context.Context, etcd *clientv3.Client, regs *core.Registries, opts controller.Options, identity string, logger *slog.Logger) func() {
	done := make(chan struct{})
	ctx, stop := context.WithCancel(ctx)
	go func() {
		defer close(done)
		leader.Run(ctx, etcd, controller.ElectionName, identity, logger,
			func(ctx context.Context) { controller.RunAll(ctx, regs, logger, opts) })
	}()
	return func() { stop(); <-done }
}

// leaderIdentity names this master in elections.
func leaderIdentity(listen string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%s/%d", host, listen, os.Getpid())
}

// ensureSystemNamespaces creates the "default" namespace that clients
// fall back to (and where cluster-scoped objects' events go), owned by the
// admin, and kube-node-lease, which holds the nodes' heartbeat leases.
func ensureSystemNamespaces(ctx context.Context, store *storage.Store, acct *accounts.Store) error {
	created, err := ensureNamespace(ctx, store, metav1.NamespaceDefault)
	if err != nil {
		return err
	}
	if created {
		if err := acct.SetMember(ctx, metav1.NamespaceDefault, "admin", accounts.RoleAdmin); err != nil {
			return err
		}
	}
	// Node heartbeat leases live here; no project member sees them.
	_, err = ensureNamespace(ctx, store, core.NodeLeaseNamespace)
	return err
}

// ensureNamespace creates namespace name unless it exists, and says
// whether it did.
func ensureNamespace(ctx context.Context, store *storage.Store, name string) (bool, error) {
	ns := &v1.Namespace{
		TypeMeta:   metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: uuid.NewUUID(), CreationTimestamp: metav1.Now()},
		Status:     v1.NamespaceStatus{Phase: v1.NamespaceActive},
	}
	err := store.Create(ctx, storage.Key("namespaces", "", name), ns, storage.CreateOptions{})
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("create the %s namespace: %w", name, err)
	}
	return true, nil
}

func prepareDataDir(dir string) error {
	if dir == "" {
		return errors.New("a data directory is required (--data-dir)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create data dir %q: %w", dir, err)
	}
	probe := filepath.Join(dir, ".write-test")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		return fmt.Errorf("data dir %q is not writable: %w", dir, err)
	}
	return os.Remove(probe)
}

func openEtcd(ctx context.Context, cfg Config, logger *slog.Logger) (*clientv3.Client, func(), error) {
	if len(cfg.EtcdEndpoints) > 0 {
		if cfg.EtcdTLS.CertFile == "" {
			logger.Warn("etcd without a client certificate: whoever reaches it reads every secret and writes any object; see the README on running etcd with client-cert-auth", "endpoints", cfg.EtcdEndpoints)
		}
		c, err := etcdserver.NewClient(cfg.EtcdEndpoints, cfg.EtcdTLS)
		if err != nil {
			return nil, nil, err
		}
		return c, func() { c.Close() }, nil
	}
	srv, err := etcdserver.Start(ctx, filepath.Join(cfg.DataDir, "etcd"), logger, etcdserver.Options{
		PKIDir:        filepath.Join(cfg.DataDir, "etcd-pki"),
		UnsafeNoFsync: cfg.TestMode,
	})
	if err != nil {
		return nil, nil, err
	}
	c, err := srv.Client()
	if err != nil {
		srv.Stop()
		return nil, nil, err
	}
	return c, func() { c.Close(); srv.Stop() }, nil
}

func openPostgres(ctx context.Context, cfg Config, logger *slog.Logger) (string, func(), error) {
	if cfg.DatabaseURL != "" {
		return cfg.DatabaseURL, func() {}, nil
	}
	pg, err := pgserver.Start(ctx, filepath.Join(cfg.DataDir, "postgres"), logger)
	if err != nil {
		return "", nil, err
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pg.Stop(ctx); err != nil {
			logger.Error("stop postgres", "error", err)
		}
	}
	return pg.URL(), stop, nil
}

// bootstrapAdmin creates the cluster admin on first start with a random
// password, written to DIR/admin-password (0600). Later starts read it back.
func bootstrapAdmin(ctx context.Context, acct *accounts.Store, dataDir string) (string, error) {
	passwordFile := ""
	if dataDir != "" {
		passwordFile = filepath.Join(dataDir, "admin-password")
	}
	if _, err := acct.GetUser(ctx, "admin"); err == nil {
		if passwordFile == "" {
			return "", nil
		}
		data, err := os.ReadFile(passwordFile)
		if err != nil {
			return "", nil
		}
		return strings.TrimSpace(string(data)), nil
	} else if !errors.Is(err, accounts.ErrNotFound) {
		return "", err
	}
	buf := make([]byte, 18)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	password := base64.RawURLEncoding.EncodeToString(buf)
	if passwordFile != "" {
		if err := os.WriteFile(passwordFile, []byte(password+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("write admin password: %w", err)
		}
	}
	if _, err := acct.CreateUser(ctx, "admin", password, true); err != nil {
		return "", fmt.Errorf("create admin user: %w", err)
	}
	return password, nil
}

func printWelcome(cfg Config, url, password, caFile string) {
	if cfg.Out == nil {
		return
	}
	fmt.Fprintf(cfg.Out, "\nBerth is up.\n\n  Console:   %s/\n  User:      admin\n", url)
	switch {
	case password != "" && cfg.DataDir != "":
		fmt.Fprintf(cfg.Out, "  Password:  %s\n             (kept in %s)\n", password, filepath.Join(cfg.DataDir, "admin-password"))
	case password != "":
		fmt.Fprintf(cfg.Out, "  Password:  %s   (shown once: note it now)\n", password)
	}
	fmt.Fprintf(cfg.Out, "\n  CLI:       berth login %s -u admin\n", url)
	if caFile != "" {
		httpsURL := "https" + strings.TrimPrefix(url, "http")
		fmt.Fprintf(cfg.Out, "  kubectl:   kubectl --server %s --certificate-authority %s --token TOKEN get pods\n             (TOKEN from: berth token create NAME; kubectl sends tokens over TLS only)\n", httpsURL, caFile)
	}
	fmt.Fprintln(cfg.Out)
}

func newEcho(a *api.API, etcd *clientv3.Client, acct *accounts.Store, audit *accounts.AuditWriter, reg *streams.Registry, logger *slog.Logger) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// Client addresses (login rate limits, audit) come from the connection;
	// forwarded headers are not trusted, since no proxy is configured.
	e.IPExtractor = echo.ExtractIPDirect()
	m := newMetrics(a, audit, reg)
	e.Use(m.middleware, recoverer(logger), strictTransportSecurity)
	a.Register(e)
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/readyz", readyz(etcd, acct))
	e.GET("/version", serveVersion)
	e.GET("/metrics", echo.WrapHandler(m.handler()), a.Authenticate, a.RequireClusterAdmin)
	return e
}
