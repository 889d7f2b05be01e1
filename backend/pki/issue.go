package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Template is what the CA writes into a certificate. Everything in it is
// the issuer's choice: nothing comes from the requester but a public key.
type Template struct {
	CommonName   string
	Organization []string
	DNSNames     []string
	IPAddresses  []net.IP
	// Usages are the extended key usages; at least one is required.
	Usages []x509.ExtKeyUsage
	// Lifetime counts from now.
	Lifetime time.Duration
}

func (t Template) certificate(now time.Time) (*x509.Certificate, error) {
	if len(t.Usages) == 0 {
		return nil, errors.New("certificate template: no extended key usage")
	}
	if t.Lifetime <= 0 {
		return nil, fmt.Errorf("certificate template: lifetime %v is not positive", t.Lifetime)
	}
	return &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: t.CommonName, Organization: t.Organization},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(t.Lifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           t.Usages,
		BasicConstraintsValid: true,
		DNSNames:              t.DNSNames,
		IPAddresses:           t.IPAddresses,
	}, nil
}

// KeyPair is a certificate and its private key, PEM-encoded.
type KeyPair struct {
	CertPEM, KeyPEM []byte
}

// TLSCertificate is the pair as crypto/tls wants it, with Leaf set.
func (k KeyPair) TLSCertificate() (tls.Certificate, error) {
	return tls.X509KeyPair(k.CertPEM, k.KeyPEM)
}

// Issue makes a key and a certificate for it.
func (ca *CA) Issue(t Template) (KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, err
	}
	certPEM, err := ca.sign(t, &key.PublicKey)
	if err != nil {
		return KeyPair{}, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return KeyPair{}, err
	}
	return KeyPair{CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// SignCSR issues a certificate for the public key of a PEM certificate
// request whose signature proves the requester holds the private key. The
// request's subject, names and extensions are ignored: t says what the
// certificate holds.
func (ca *CA) SignCSR(csrPEM []byte, t Template) ([]byte, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request: %w", err)
	}
	if err := acceptableKey(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("certificate request: %w", err)
	}
	return ca.sign(t, csr.PublicKey)
}

func (ca *CA) sign(t Template, pub crypto.PublicKey) ([]byte, error) {
	tmpl, err := t.certificate(time.Now())
	if err != nil {
		return nil, err
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate for %q: %w", t.CommonName, err)
	}
	return encodeCert(der), nil
}

// acceptableKey refuses keys too weak to sign for.
func acceptableKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve.Params().BitSize < 256 {
			return fmt.Errorf("ECDSA key of %d bits: at least 256 needed", k.Curve.Params().BitSize)
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits: at least 2048 needed", k.N.BitLen())
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("unsupported public key type %T", pub)
	}
	return nil
}

// NewCSR makes a P-256 key and a certificate request for it (the agent's
// side of SignCSR). The request carries commonName only as a hint: the
// CA sets the subject.
func NewCSR(commonName string) (keyPEM, csrPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: commonName}}, key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return keyPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// EnsureFiles keeps name.crt and name.key in dir issued by ca for t: it
// issues them anew when they are missing or unreadable, were signed by
// another CA, name other hosts than t, or have used two thirds of their
// lifetime. It returns the two paths.
func (ca *CA) EnsureFiles(dir, name string, t Template) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && ca.current(pair.Leaf, t, time.Now()) {
		return certFile, keyFile, nil
	}
	pair, err := ca.Issue(t)
	if err != nil {
		return "", "", err
	}
	if err := WriteFile(keyFile, pair.KeyPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := WriteFile(certFile, pair.CertPEM, 0o644); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// current reports whether cert still serves for t.
func (ca *CA) current(cert *x509.Certificate, t Template, now time.Time) bool {
	return ca.Signed(cert) && !RenewalDue(cert.NotBefore, cert.NotAfter, now) &&
		cert.Subject.CommonName == t.CommonName &&
		slices.Equal(cert.ExtKeyUsage, t.Usages) &&
		slices.Equal(cert.DNSNames, t.DNSNames) &&
		slices.EqualFunc(cert.IPAddresses, t.IPAddresses, net.IP.Equal)
}

// RenewalDue reports whether two thirds of the period from notBefore to
// notAfter have passed at now.
func RenewalDue(notBefore, notAfter, now time.Time) bool {
	return !now.Before(notBefore.Add(notAfter.Sub(notBefore) * 2 / 3))
}

// ParseCertificate reads the first certificate of a PEM block.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// ParseKey reads a PEM private key (SEC 1 or PKCS #8).
func ParseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM private key")
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", k)
	}
	return signer, nil
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	if k, ok := key.(*ecdsa.PrivateKey); ok {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// WriteFile replaces path atomically with data, with mode; it creates the
// directory (0700) if missing.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
