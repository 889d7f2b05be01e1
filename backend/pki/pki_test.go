package pki_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/pki"
)

func newCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestLoadOrCreateCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	ca, err := pki.LoadOrCreateCA(dir, "Berth cluster CA")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		dir: 0o700, filepath.Join(dir, pki.CAKeyFile): 0o600, filepath.Join(dir, pki.CACertFile): 0o644,
	} {
		if got := mode(t, path); got != want {
			t.Errorf("%s: mode %o, want %o", path, got, want)
		}
	}
	again, err := pki.LoadOrCreateCA(dir, "ignored")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cert.Equal(ca.Cert) || again.Cert.Subject.CommonName != "Berth cluster CA" {
		t.Fatalf("reloaded another CA: %v", again.Cert.Subject)
	}
	// The reloaded key signs for the same CA.
	pair, err := again.Issue(pki.MasterClient(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := pair.TLSCertificate()
	if !ca.Signed(cert.Leaf) {
		t.Fatal("the reloaded key does not sign for the CA")
	}
}

func TestLoadCARefusesHalfACA(t *testing.T) {
	other := newCA(t)
	tests := []struct {
		name  string
		alter func(dir string)
	}{
		{"key missing", func(dir string) { os.Remove(filepath.Join(dir, pki.CAKeyFile)) }},
		{"certificate missing", func(dir string) { os.Remove(filepath.Join(dir, pki.CACertFile)) }},
		{"another CA's key", func(dir string) {
			tmp := t.TempDir()
			if err := other.Write(tmp); err != nil {
				t.Fatal(err)
			}
			key, _ := os.ReadFile(filepath.Join(tmp, pki.CAKeyFile))
			os.WriteFile(filepath.Join(dir, pki.CAKeyFile), key, 0o600)
		}},
		{"garbage certificate", func(dir string) { os.WriteFile(filepath.Join(dir, pki.CACertFile), []byte("x"), 0o644) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := pki.LoadOrCreateCA(dir, "CA"); err != nil {
				t.Fatal(err)
			}
			tt.alter(dir)
			if _, err := pki.LoadOrCreateCA(dir, "CA"); err == nil {
				t.Fatal("loaded a broken CA (or replaced it)")
			}
		})
	}
}

func TestNodeServingCertificate(t *testing.T) {
	ca := newCA(t)
	pair, err := ca.Issue(pki.NodeServing("n1", []net.IP{net.ParseIP("10.0.0.7")}, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pair.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	if leaf.Subject.CommonName != "system:node:n1" || len(leaf.Subject.Organization) != 1 || leaf.Subject.Organization[0] != pki.NodesGroup {
		t.Errorf("subject %v", leaf.Subject)
	}
	tests := []struct {
		name  string
		opts  x509.VerifyOptions
		valid bool
	}{
		{"serves its address", x509.VerifyOptions{DNSName: "10.0.0.7", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, true},
		{"serves its name", x509.VerifyOptions{DNSName: "n1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, true},
		{"not another address", x509.VerifyOptions{DNSName: "10.0.0.8", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, false},
		{"not a client", x509.VerifyOptions{KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Roots = ca.Pool()
			_, err := leaf.Verify(tt.opts)
			if (err == nil) != tt.valid {
				t.Fatalf("verify: %v, want valid=%v", err, tt.valid)
			}
		})
	}
	if leaf.IsCA {
		t.Error("a node certificate is a CA")
	}
}

func TestSignCSRIgnoresTheRequestedSubject(t *testing.T) {
	ca := newCA(t)
	keyPEM, csrPEM, err := pki.NewCSR("system:node:victim")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignCSR(csrPEM, pki.NodeServing("n1", []net.IP{net.ParseIP("127.0.0.1")}, 10*365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("the certificate is not for the request's key: %v", err)
	}
	if cert.Leaf.Subject.CommonName != "system:node:n1" {
		t.Errorf("subject %q came from the request", cert.Leaf.Subject.CommonName)
	}
	if cert.Leaf.NotAfter.After(ca.Cert.NotAfter) {
		t.Errorf("the certificate outlives its CA: %v > %v", cert.Leaf.NotAfter, ca.Cert.NotAfter)
	}

	tampered := []byte(string(csrPEM))
	tampered[len(tampered)/2] ^= 1
	for name, csr := range map[string][]byte{"not PEM": []byte("hello"), "tampered": tampered, "a certificate": certPEM} {
		t.Run(name, func(t *testing.T) {
			if _, err := ca.SignCSR(csr, pki.NodeServing("n1", nil, time.Hour)); err == nil {
				t.Fatal("signed")
			}
		})
	}
}

func TestEnsureFiles(t *testing.T) {
	ca := newCA(t)
	dir := filepath.Join(t.TempDir(), "pki")
	tmpl := pki.Template{CommonName: "etcd", DNSNames: []string{"localhost"}, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, Lifetime: time.Hour}
	load := func() *x509.Certificate {
		t.Helper()
		certFile, keyFile, err := ca.EnsureFiles(dir, "server", tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if m := mode(t, keyFile); m != 0o600 {
			t.Errorf("key mode %o", m)
		}
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		return pair.Leaf
	}
	first := load()
	if again := load(); !again.Equal(first) {
		t.Error("a current certificate was issued again")
	}
	tmpl.DNSNames = []string{"localhost", "etcd.example"}
	if renamed := load(); renamed.Equal(first) || len(renamed.DNSNames) != 2 {
		t.Error("a certificate for other names was kept")
	}
	ca = newCA(t)
	if other := load(); !ca.Signed(other) {
		t.Error("a certificate of another CA was kept")
	}
}

func TestRenewing(t *testing.T) {
	ca := newCA(t)
	long := ca.Renewing(pki.MasterClient(time.Hour))
	a, _ := long.Get()
	b, err := long.Get()
	if err != nil || a != b {
		t.Errorf("a fresh certificate was replaced: %v", err)
	}
	// Issued with NotBefore five minutes back, a one-second certificate is
	// past two thirds of its life at once.
	short := ca.Renewing(pki.MasterClient(time.Second))
	a, _ = short.Get()
	b, _ = short.Get()
	if a == b {
		t.Error("a certificate due for renewal was kept")
	}
}

// TestRequirePeer performs the handshakes an agent sees: only the master's
// certificate from the cluster CA gets through.
func TestRequirePeer(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	serving, err := ca.Issue(pki.NodeServing("n1", []net.IP{net.ParseIP("127.0.0.1")}, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	servingCert, _ := serving.TLSCertificate()
	issue := func(ca *pki.CA, tmpl pki.Template) []tls.Certificate {
		pair, err := ca.Issue(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := pair.TLSCertificate()
		return []tls.Certificate{c}
	}
	otherClient := pki.MasterClient(time.Hour)
	otherClient.CommonName = "someone"
	tests := []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{"the master", issue(ca, pki.MasterClient(time.Hour)), true},
		{"no certificate", nil, false},
		{"a node's serving certificate", []tls.Certificate{servingCert}, false},
		{"another CA's master", issue(other, pki.MasterClient(time.Hour)), false},
		{"another client of the CA", issue(ca, otherClient), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := net.Pipe()
			defer c.Close()
			defer s.Close()
			server := tls.Server(s, &tls.Config{
				Certificates: []tls.Certificate{servingCert}, ClientAuth: tls.RequireAndVerifyClientCert,
				ClientCAs: ca.Pool(), VerifyConnection: pki.RequirePeer(pki.MasterClientName),
			})
			client := tls.Client(c, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", Certificates: tt.certs,
				VerifyConnection: pki.RequirePeer(pki.NodeCommonName("n1"))})
			errs := make(chan error, 1)
			go func() {
				err := server.Handshake()
				if err == nil {
					_, err = server.Write([]byte("x"))
				}
				server.Close()
				errs <- err
			}()
			clientErr := client.Handshake()
			if clientErr == nil {
				// TLS 1.3 reports the server's refusal on the first read.
				_, clientErr = client.Read(make([]byte, 1))
			}
			serverErr := <-errs
			if got := serverErr == nil && clientErr == nil; got != tt.ok {
				t.Fatalf("server: %v, client: %v; want ok=%v", serverErr, clientErr, tt.ok)
			}
			if !tt.ok && serverErr == nil {
				t.Fatal("the agent's side accepted the handshake")
			}
		})
	}
}
