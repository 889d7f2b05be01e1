package etcdserver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/etcdserver"
	"github.com/berthpaas/berth/backend/pki"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func start(t *testing.T) (*etcdserver.Server, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: starts an embedded etcd; skipped in -short mode")
	}
	dataDir := t.TempDir()
	srv, err := etcdserver.Start(t.Context(), filepath.Join(dataDir, "etcd"), slog.New(slog.DiscardHandler), etcdserver.Options{
		PKIDir: filepath.Join(dataDir, "etcd-pki"), UnsafeNoFsync: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv, dataDir
}

// TestClientsWithoutTheEtcdCAsCertificateAreRefused performs what a local
// user without root tries: reading and writing etcd's keys through its
// loopback port, without a certificate or with one of the cluster CA
// (which nodes and the master's serving certificate come from).
func TestClientsWithoutTheEtcdCAsCertificateAreRefused(t *testing.T) {
	srv, dataDir := start(t)
	const key, secret = "/registry/pods/demo/web", `{"env":"PASSWORD=hunter2"}`
	master, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	if _, err := master.Put(t.Context(), key, secret); err != nil {
		t.Fatalf("the master's own client: %v", err)
	}
	if !strings.HasPrefix(srv.Endpoint(), "https://") {
		t.Errorf("endpoint %q is not TLS", srv.Endpoint())
	}

	etcdCA := filepath.Join(dataDir, "etcd-pki", pki.CACertFile)
	clusterCA, err := pki.NewCA("Berth cluster CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clusterClient := writePair(t, clusterCA, pki.MasterClient(time.Hour))
	clusterNode := writePair(t, clusterCA, pki.Template{CommonName: "system:node:n1",
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}, Lifetime: time.Hour})
	tests := []struct {
		name     string
		endpoint string
		tls      etcdserver.ClientTLS
	}{
		{"plain HTTP", strings.Replace(srv.Endpoint(), "https://", "http://", 1), etcdserver.ClientTLS{}},
		{"TLS without a certificate", srv.Endpoint(), etcdserver.ClientTLS{CAFile: etcdCA}},
		{"the master's client certificate of the cluster CA", srv.Endpoint(), etcdserver.ClientTLS{CAFile: etcdCA, CertFile: clusterClient[0], KeyFile: clusterClient[1]}},
		{"a node certificate of the cluster CA", srv.Endpoint(), etcdserver.ClientTLS{CAFile: etcdCA, CertFile: clusterNode[0], KeyFile: clusterNode[1]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := clientv3.Config{Endpoints: []string{tt.endpoint}}
			if !tt.tls.Empty() {
				if cfg.TLS, err = tt.tls.Config(); err != nil {
					t.Fatal(err)
				}
			}
			c, err := clientv3.New(cfg)
			if err != nil {
				return // refused at once
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			if resp, err := c.Get(ctx, key); err == nil {
				t.Errorf("read %d keys", len(resp.Kvs))
			}
			ctx, cancel = context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			if _, err := c.Put(ctx, key, "forged"); err == nil {
				t.Error("wrote a key")
			}
		})
	}
	// etcd's JSON gateway, on the same port, asks for the same certificate.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(mustRead(t, etcdCA))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	if resp, err := hc.Post(srv.Endpoint()+"/v3/kv/range", "application/json", strings.NewReader(`{"key":"L3JlZ2lzdHJ5"}`)); err == nil {
		resp.Body.Close()
		t.Errorf("the JSON gateway answered %s without a client certificate", resp.Status)
	}

	resp, err := master.Get(t.Context(), key)
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != secret {
		t.Fatalf("the key changed: %v %v", resp, err)
	}
}

func TestFileModes(t *testing.T) {
	_, dataDir := start(t)
	pkiDir := filepath.Join(dataDir, "etcd-pki")
	want := map[string]os.FileMode{pkiDir: 0o700, filepath.Join(dataDir, "etcd"): 0o700, filepath.Join(dataDir, "etcd.log"): 0o600}
	for _, name := range []string{"ca", "server", "peer", "client"} {
		want[filepath.Join(pkiDir, name+".key")] = 0o600
		want[filepath.Join(pkiDir, name+".crt")] = 0o644
	}
	for path, mode := range want {
		fi, err := os.Stat(path)
		if err != nil {
			t.Error(err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %o, want %o", path, fi.Mode().Perm(), mode)
		}
	}
}

// writePair issues a certificate and writes it and its key, returning
// their paths.
func writePair(t *testing.T, ca *pki.CA, tmpl pki.Template) [2]string {
	t.Helper()
	pair, err := ca.Issue(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths := [2]string{filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")}
	if err := os.WriteFile(paths[0], pair.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths[1], pair.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return paths
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestPortTakenInBetween: etcd takes explicit ports, found free a moment
// before it binds them; when another process takes one in between (CI saw
// "bind: address already in use"), Start tries other ports.
func TestPortTakenInBetween(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts an embedded etcd; skipped in -short mode")
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	picks := 0
	defer etcdserver.SetPickURL(func() (*url.URL, error) {
		picks++
		if picks == 1 {
			return &url.URL{Scheme: "https", Host: taken.Addr().String()}, nil
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		return &url.URL{Scheme: "https", Host: l.Addr().String()}, nil
	})()
	dataDir := t.TempDir()
	srv, err := etcdserver.Start(t.Context(), filepath.Join(dataDir, "etcd"), slog.New(slog.DiscardHandler), etcdserver.Options{UnsafeNoFsync: true})
	if err != nil {
		t.Fatalf("with its first port taken: %v", err)
	}
	defer srv.Stop()
	if strings.Contains(srv.Endpoint(), taken.Addr().String()) {
		t.Errorf("serves at the taken port: %s", srv.Endpoint())
	}
	if picks < 4 {
		t.Errorf("picked %d ports, want a second pair after the taken one", picks)
	}
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Put(t.Context(), "/k", "v"); err != nil {
		t.Fatal(err)
	}
}
