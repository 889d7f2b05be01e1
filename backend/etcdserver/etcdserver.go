// Package etcdserver runs an embedded single-member etcd for `berth up` and
// for tests, listening on loopback only and answering only clients with a
// certificate of its own CA.
//
// Any local user can reach a loopback port, and etcd holds every tenant's
// pod env: so the client and the peer listeners serve TLS and require a
// client certificate (etcd's client-cert-auth), signed by an etcd CA kept
// apart from the cluster CA in PKIDir (as kubeadm keeps etcd's), so that no
// certificate the cluster issues to nodes or users opens etcd:
//
//	PKIDir (0700)   ca.crt ca.key          the etcd CA
//	                server.crt server.key  client listener (serverAuth, and
//	                                       clientAuth for etcd's own gateway)
//	                peer.crt peer.key      peer listener
//	                client.crt client.key  the master's client certificate
//
// Keys are 0600. Start creates what is missing and issues again what is
// near its end.
package etcdserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
)

// Options tune the embedded member.
type Options struct {
	// PKIDir holds the etcd CA and the member's and the master's
	// certificates; default: DIR-pki beside the data directory DIR.
	PKIDir string
	// UnsafeNoFsync trades durability for speed; tests only.
	UnsafeNoFsync bool
}

// Server is a running embedded etcd.
type Server struct {
	etcd     *embed.Etcd
	endpoint string
	client   ClientTLS
}

// certLifetime is the life of the member's and the master's certificates;
// Start issues them again past two thirds of it.
const certLifetime = 365 * 24 * time.Hour

// Start runs etcd with its data in dir and waits until it serves.
func Start(ctx context.Context, dir string, logger *slog.Logger, opts Options) (*Server, error) {
	if opts.PKIDir == "" {
		opts.PKIDir = filepath.Clean(dir) + "-pki"
	}
	files, err := ensurePKI(opts.PKIDir)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd certificates in %q: %w", opts.PKIDir, err)
	}
	// etcd takes explicit URLs, so its ports are found free first; another
	// process may take one in between, and then etcd tries new ones.
	var (
		e         *embed.Etcd
		clientURL *url.URL
	)
	for attempt := 1; ; attempt++ {
		var peerURL *url.URL
		if clientURL, err = pickURL(); err != nil {
			return nil, err
		}
		if peerURL, err = pickURL(); err != nil {
			return nil, err
		}
		logPath := filepath.Join(filepath.Dir(dir), "etcd.log")
		if err := privateFile(logPath); err != nil {
			return nil, fmt.Errorf("embedded etcd log: %w", err)
		}
		e, err = embed.StartEtcd(memberConfig(dir, clientURL, peerURL, logPath, files, opts))
		if err == nil {
			break
		}
		if errors.Is(err, syscall.EADDRINUSE) && attempt < 5 {
			logger.Debug("embedded etcd: a port was taken in between; trying others", "attempt", attempt, "error", err)
			continue
		}
		return nil, fmt.Errorf("start embedded etcd in %q: %w", dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %q did not become ready within 60s", dir)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	logger.Info("embedded etcd ready", "endpoint", clientURL.String(), "dir", dir)
	return &Server{etcd: e, endpoint: clientURL.String(), client: files.client}, nil
}

// Endpoint is the client URL (https).
func (s *Server) Endpoint() string { return s.endpoint }

// ClientTLS names the files of the master's client certificate.
func (s *Server) ClientTLS() ClientTLS { return s.client }

// Client opens a client of this member with the master's certificate.
func (s *Server) Client() (*clientv3.Client, error) {
	return NewClient([]string{s.endpoint}, s.client)
}

// Stop shuts the member down cleanly.
func (s *Server) Stop() {
	s.etcd.Close()
}

// memberConfig is the single member's configuration on these URLs.
func memberConfig(dir string, clientURL, peerURL *url.URL, logPath string, files pkiFiles, opts Options) *embed.Config {
	cfg := embed.NewConfig()
	cfg.Name = "berth"
	cfg.Dir = dir
	cfg.ListenClientUrls = []url.URL{*clientURL}
	cfg.AdvertiseClientUrls = []url.URL{*clientURL}
	cfg.ListenPeerUrls = []url.URL{*peerURL}
	cfg.AdvertisePeerUrls = []url.URL{*peerURL}
	cfg.InitialCluster = "berth=" + peerURL.String()
	cfg.ClientTLSInfo = files.server
	cfg.PeerTLSInfo = files.peer
	cfg.Logger = "zap"
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{logPath}
	// Keep an hour of history for watches to resume from, as a
	// Kubernetes apiserver's periodic compaction would.
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "1h"
	cfg.UnsafeNoFsync = opts.UnsafeNoFsync
	return cfg
}

// pickURL finds a port for etcd; tests replace it.
var pickURL = freeLoopbackURL

func freeLoopbackURL() (*url.URL, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free loopback port: %w", err)
	}
	addr := l.Addr().String()
	l.Close()
	return &url.URL{Scheme: "https", Host: addr}, nil
}

// ClientTLS names the files an etcd client trusts and presents. CAFile
// empty trusts the system's roots; CertFile and KeyFile go together.
type ClientTLS struct {
	CAFile, CertFile, KeyFile string
}

// Empty reports whether no file is named: a plain (http://) etcd.
func (c ClientTLS) Empty() bool { return c == ClientTLS{} }

// Config is the TLS configuration of a client with these files.
func (c ClientTLS) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, fmt.Errorf("etcd client certificate %q and key %q: give both or neither", c.CertFile, c.KeyFile)
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcd client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if c.CAFile != "" {
		data, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("etcd CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("etcd CA %q: no PEM certificate", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// NewClient opens a client of endpoints, over TLS with tlsFiles unless
// they are Empty.
func NewClient(endpoints []string, tlsFiles ClientTLS) (*clientv3.Client, error) {
	cfg := clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second}
	if !tlsFiles.Empty() {
		tlsConfig, err := tlsFiles.Config()
		if err != nil {
			return nil, err
		}
		cfg.TLS = tlsConfig
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %v: %w", endpoints, err)
	}
	return c, nil
}

// privateFile creates path readable by its owner only, or makes it so:
// etcd's logger would create it 0644, and what etcd logs (keys, errors)
// is nobody else's business.
func privateFile(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
