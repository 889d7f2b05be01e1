package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Identities the cluster CA writes into certificates, as Kubernetes
// names its nodes and its API server's kubelet client.
const (
	nodeNamePrefix = "system:node:"
	NodesGroup     = "system:nodes"
	// MasterClientName is the subject of the masters' client certificate,
	// the only identity a node agent answers.
	MasterClientName = "berth:master"
	MastersGroup     = "system:masters"
)

// NodeCommonName is the subject of a node's serving certificate.
func NodeCommonName(node string) string { return nodeNamePrefix + node }

// NodeServing is the template of a node's serving certificate: its name
// and addresses, for serving only.
func NodeServing(node string, addrs []net.IP, lifetime time.Duration) Template {
	return Template{
		CommonName:   NodeCommonName(node),
		Organization: []string{NodesGroup},
		DNSNames:     []string{node},
		IPAddresses:  addrs,
		Usages:       []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		Lifetime:     lifetime,
	}
}

// MasterClient is the template of the masters' client certificate.
func MasterClient(lifetime time.Duration) Template {
	return Template{
		CommonName:   MasterClientName,
		Organization: []string{MastersGroup},
		Usages:       []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		Lifetime:     lifetime,
	}
}

// RequirePeer returns a tls.Config.VerifyConnection that accepts only a
// peer whose (already chain-verified) certificate has the subject
// commonName: a certificate of the same CA issued to someone else is
// refused.
func RequirePeer(commonName string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("no peer certificate")
		}
		if got := cs.PeerCertificates[0].Subject.CommonName; got != commonName {
			return fmt.Errorf("peer certificate is for %q, not %q", got, commonName)
		}
		return nil
	}
}

// Renewing holds a certificate issued in memory and issues a fresh one
// once two thirds of its lifetime have passed; its Get fits
// tls.Config.GetClientCertificate and GetCertificate.
type Renewing struct {
	ca *CA
	t  Template

	mu  sync.Mutex
	cur *tls.Certificate // guarded by mu
}

// Renewing returns a source of certificates for t.
func (ca *CA) Renewing(t Template) *Renewing { return &Renewing{ca: ca, t: t} }

// Get returns the current certificate, issuing one when due.
func (r *Renewing) Get() (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil && !RenewalDue(r.cur.Leaf.NotBefore, r.cur.Leaf.NotAfter, time.Now()) {
		return r.cur, nil
	}
	pair, err := r.ca.Issue(r.t)
	if err != nil {
		return nil, err
	}
	cert, err := pair.TLSCertificate()
	if err != nil {
		return nil, err
	}
	r.cur = &cert
	return r.cur, nil
}
