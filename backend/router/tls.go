package router

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/backend/pki"
	v1 "k8s.io/api/core/v1"
)

// Issuer issues certificates (the cluster CA, pki.CA).
type Issuer interface {
	Issue(t pki.Template) (pki.KeyPair, error)
}

// issuedLifetime is the life of a certificate the cluster CA issues for
// a route; it is issued again when a third of it is left.
const issuedLifetime = 90 * 24 * time.Hour

// errNoCertificate ends a handshake for a name the router serves no
// certificate for.
var errNoCertificate = errors.New("no route serves this name over TLS")

// getCertificate picks the certificate of the route the client names
// (SNI): that of its secret, read in the route's own project only, or
// one the cluster CA issues.
func (r *Router) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	host := requestHost(hello.ServerName)
	r.mu.RLock()
	list := r.hosts[host]
	r.mu.RUnlock()
	for _, rt := range list {
		if rt.Spec.TLS == nil {
			continue
		}
		if rt.Spec.TLS.SecretName == "" {
			return r.certs.issued(host)
		}
		secret, ok := r.secrets.Get(rt.Namespace + "/" + rt.Spec.TLS.SecretName)
		if !ok {
			return nil, fmt.Errorf("route %s/%s: secret %q: %w", rt.Namespace, rt.Name, rt.Spec.TLS.SecretName, errNoCertificate)
		}
		return r.certs.fromSecret(secret)
	}
	return nil, errNoCertificate
}

// certCache keeps parsed secrets' key pairs (by namespace/name and
// resourceVersion) and the certificates the issuer made (by host).
type certCache struct {
	issuer     Issuer
	appsDomain string

	mu      sync.Mutex
	secrets map[string]secretCert
	byHost  map[string]*tls.Certificate
}

type secretCert struct {
	version string
	cert    *tls.Certificate
}

func newCertCache(issuer Issuer, appsDomain string) *certCache {
	return &certCache{issuer: issuer, appsDomain: appsDomain, secrets: map[string]secretCert{}, byHost: map[string]*tls.Certificate{}}
}

func (c *certCache) fromSecret(s *v1.Secret) (*tls.Certificate, error) {
	key := s.Namespace + "/" + s.Name
	c.mu.Lock()
	defer c.mu.Unlock()
	if sc, ok := c.secrets[key]; ok && sc.version == s.ResourceVersion {
		return sc.cert, nil
	}
	cert, err := tls.X509KeyPair(s.Data[v1.TLSCertKey], s.Data[v1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", key, err)
	}
	c.secrets[key] = secretCert{version: s.ResourceVersion, cert: &cert}
	return &cert, nil
}

// issued returns a certificate of the cluster CA for host, which must be
// under the apps domain: the cluster CA is what API clients and nodes
// trust, and a tenant's route must not get a certificate for a name
// they would take for the master's.
func (c *certCache) issued(host string) (*tls.Certificate, error) {
	if c.issuer == nil || !strings.HasSuffix(host, "."+c.appsDomain) {
		return nil, errNoCertificate
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cert, ok := c.byHost[host]; ok && time.Until(cert.Leaf.NotAfter) > issuedLifetime/3 {
		return cert, nil
	}
	kp, err := c.issuer.Issue(pki.Template{
		CommonName: host, DNSNames: []string{host},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, Lifetime: issuedLifetime,
	})
	if err != nil {
		return nil, err
	}
	cert, err := kp.TLSCertificate()
	if err != nil {
		return nil, err
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, err
		}
	}
	c.byHost[host] = &cert
	return &cert, nil
}
