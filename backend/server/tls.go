package server

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// kubectl sends a bearer token only over TLS, so the master serves TLS as
// well as plain HTTP on one port: the first byte of a connection tells a
// TLS ClientHello (0x16) from an HTTP request. The certificate comes from
// a CA that `berth up` creates in DIR/tls on first start; clients trust
// it with --certificate-authority DIR/tls/ca.crt.

// tlsFiles are the paths of the CA and serving certificate.
type tlsFiles struct {
	dir string
}

func (f tlsFiles) caCert() string     { return filepath.Join(f.dir, "ca.crt") }
func (f tlsFiles) caKey() string      { return filepath.Join(f.dir, "ca.key") }
func (f tlsFiles) serverCert() string { return filepath.Join(f.dir, "server.crt") }
func (f tlsFiles) serverKey() string  { return filepath.Join(f.dir, "server.key") }

// loadOrCreateTLS returns the serving certificate in dir, creating a CA and
// a certificate for the loopback names and this host's name if missing.
func loadOrCreateTLS(dir string) (*tls.Config, error) {
	files := tlsFiles{dir: dir}
	if _, err := os.Stat(files.serverCert()); errors.Is(err, os.ErrNotExist) {
		if err := createTLS(files); err != nil {
			return nil, fmt.Errorf("create TLS certificates in %q: %w", dir, err)
		}
	}
	cert, err := tls.LoadX509KeyPair(files.serverCert(), files.serverKey())
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate from %q: %w", dir, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}, nil
}

func createTLS(files tlsFiles) error {
	if err := os.MkdirAll(files.dir, 0o700); err != nil {
		return err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Berth local CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "berth"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	if err := writePEM(files.caCert(), "CERTIFICATE", caDER, 0o644); err != nil {
		return err
	}
	if err := writeKey(files.caKey(), caKey); err != nil {
		return err
	}
	if err := writeKey(files.serverKey(), key); err != nil {
		return err
	}
	return writePEM(files.serverCert(), "CERTIFICATE", der, 0o644)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
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
