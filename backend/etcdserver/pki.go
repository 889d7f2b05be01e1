package etcdserver

import (
	"crypto/x509"
	"net"
	"path/filepath"

	"github.com/berthpaas/berth/backend/pki"
	"go.etcd.io/etcd/client/pkg/v3/transport"
)

// Names in the etcd CA's certificates.
const (
	caName = "Berth etcd CA"
	// MasterClientName is the subject of the master's etcd client
	// certificate, as kubeadm's apiserver-etcd-client.
	MasterClientName = "berth-master-etcd-client"
)

// pkiFiles are the TLS settings of the member's listeners and the master's
// client.
type pkiFiles struct {
	server, peer transport.TLSInfo
	client       ClientTLS
}

// ensurePKI creates the etcd CA in dir if missing, and the certificates
// that are missing or due.
func ensurePKI(dir string) (pkiFiles, error) {
	ca, err := pki.LoadOrCreateCA(dir, caName)
	if err != nil {
		return pkiFiles{}, err
	}
	caFile := filepath.Join(dir, pki.CACertFile)
	loopback := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	member := func(name string) (transport.TLSInfo, error) {
		certFile, keyFile, err := ca.EnsureFiles(dir, name, pki.Template{
			CommonName: "berth-etcd-" + name, DNSNames: []string{"localhost"}, IPAddresses: loopback,
			// etcd's gRPC gateway dials the member with the server's
			// own certificate: it must also be a client's.
			Usages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			Lifetime: certLifetime,
		})
		if err != nil {
			return transport.TLSInfo{}, err
		}
		return transport.TLSInfo{CertFile: certFile, KeyFile: keyFile, TrustedCAFile: caFile, ClientCertAuth: true}, nil
	}
	var files pkiFiles
	if files.server, err = member("server"); err != nil {
		return pkiFiles{}, err
	}
	if files.peer, err = member("peer"); err != nil {
		return pkiFiles{}, err
	}
	certFile, keyFile, err := ca.EnsureFiles(dir, "client", pki.Template{
		CommonName: MasterClientName,
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		Lifetime:   certLifetime,
	})
	if err != nil {
		return pkiFiles{}, err
	}
	files.client = ClientTLS{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}
	return files, nil
}
