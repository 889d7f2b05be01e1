package server

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berthpaas/berth/backend/pki"
	"github.com/labstack/echo/v4"
)

// kubectl sends a bearer token only over TLS, so the master serves TLS as
// well as plain HTTP on one port: the first byte of a connection tells a
// TLS ClientHello (0x16) from an HTTP request. The certificate comes from
// a CA that `berth up` creates in DIR/tls on first start; clients trust
// it with --certificate-authority DIR/tls/ca.crt.

// clusterCAName is the subject of the CA `berth up` creates.
const clusterCAName = "Berth cluster CA"

// servingLifetime is the life of the master's serving certificate; it is
// issued again at a start past two thirds of it.
const servingLifetime = 365 * 24 * time.Hour

// clusterTLS is the cluster CA and the master's serving configuration,
// both nil without a TLS dir.
type clusterTLS struct {
	dir     string
	ca      *pki.CA
	serving *tls.Config
}

// loadClusterTLS loads (or creates) what is in the TLS dir: cfg.TLSDir,
// or DataDir/tls.
func loadClusterTLS(cfg Config) (clusterTLS, error) {
	dir := cfg.TLSDir
	if dir == "" && cfg.DataDir != "" {
		dir = filepath.Join(cfg.DataDir, "tls")
	}
	if dir == "" {
		return clusterTLS{}, nil
	}
	ca, serving, err := loadOrCreateTLS(dir)
	if err != nil {
		return clusterTLS{}, err
	}
	return clusterTLS{dir: dir, ca: ca, serving: serving}, nil
}

// serve returns ln serving TLS beside plain HTTP and publishes the CA's
// certificate at /ca.crt, with the CA file's path; without a TLS dir, ln
// as it is and "".
func (c clusterTLS) serve(ln net.Listener, e *echo.Echo) (net.Listener, string) {
	if c.ca == nil {
		return ln, ""
	}
	caFile := filepath.Join(c.dir, pki.CACertFile)
	// The CA certificate is public: clients fetch it to trust the server.
	e.GET("/ca.crt", func(c echo.Context) error { return c.Attachment(caFile, "berth-ca.crt") })
	return newMuxListener(ln, c.serving), caFile
}

// loadOrCreateTLS returns the cluster CA kept in dir, creating it on first
// start, and a serving configuration with a certificate of that CA for
// the loopback names and this host's name (server.crt, server.key).
func loadOrCreateTLS(dir string) (*pki.CA, *tls.Config, error) {
	ca, err := pki.LoadOrCreateCA(dir, clusterCAName)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster CA in %q: %w", dir, err)
	}
	tmpl := pki.Template{
		CommonName:  "berth",
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		Usages:      []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		Lifetime:    servingLifetime,
	}
	if host, err := os.Hostname(); err == nil && host != "" && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	certFile, keyFile, err := ca.EnsureFiles(dir, "server", tmpl)
	if err != nil {
		return nil, nil, fmt.Errorf("serving certificate in %q: %w", dir, err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("load TLS certificate from %q: %w", dir, err)
	}
	return ca, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}, nil
}

// muxListener hands out plain connections as they are and TLS ones
// wrapped in *tls.Conn, deciding by the first byte each client sends.
type muxListener struct {
	net.Listener
	tlsConfig *tls.Config
	conns     chan net.Conn
	errs      chan error
	closeOnce sync.Once
	done      chan struct{}
}

// sniffTimeout bounds how long a connection may stay silent before its
// first byte.
const sniffTimeout = 10 * time.Second

func newMuxListener(l net.Listener, cfg *tls.Config) *muxListener {
	m := &muxListener{Listener: l, tlsConfig: cfg, conns: make(chan net.Conn), errs: make(chan error, 1), done: make(chan struct{})}
	go m.acceptLoop()
	return m
}

func (m *muxListener) acceptLoop() {
	for {
		c, err := m.Listener.Accept()
		if err != nil {
			m.errs <- err
			return
		}
		go m.sniff(c)
	}
}

func (m *muxListener) sniff(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(sniffTimeout))
	r := bufio.NewReader(c)
	first, err := r.Peek(1)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	var out net.Conn = &peekedConn{Conn: c, r: r}
	if first[0] == 0x16 {
		out = tls.Server(out, m.tlsConfig)
	}
	select {
	case m.conns <- out:
	case <-m.done:
		c.Close()
	}
}

func (m *muxListener) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case err := <-m.errs:
		return nil, err
	case <-m.done:
		return nil, net.ErrClosed
	}
}

func (m *muxListener) Close() error {
	m.closeOnce.Do(func() { close(m.done) })
	return m.Listener.Close()
}

// peekedConn reads first what sniffing buffered.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }
