package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// The files of a CA in its directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// CALifetime is how long a CA created here is valid, as kubeadm's.
const CALifetime = 10 * 365 * 24 * time.Hour

// clockSkew is how far back NotBefore is set, so that a peer whose clock
// is a little behind accepts a certificate issued a moment ago.
const clockSkew = 5 * time.Minute

// CA is a certificate authority: its certificate and its private key.
type CA struct {
	// Cert is the CA's certificate; CertPEM the same, PEM-encoded.
	Cert    *x509.Certificate
	CertPEM []byte
	key     crypto.Signer
}

// NewCA creates a CA in memory.
func NewCA(commonName string, lifetime time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA %q: %w", commonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, CertPEM: encodeCert(der), key: key}, nil
}

// LoadOrCreateCA loads the CA kept in dir (ca.crt, ca.key), creating one
// named commonName when dir holds neither. Half a CA (a certificate
// without its key or the reverse) is an error, not a reason to replace it:
// everything the old CA signed would stop working.
func LoadOrCreateCA(dir, commonName string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	if errors.Is(certErr, os.ErrNotExist) && errors.Is(keyErr, os.ErrNotExist) {
		ca, err := NewCA(commonName, CALifetime)
		if err != nil {
			return nil, err
		}
		if err := ca.Write(dir); err != nil {
			return nil, err
		}
		return ca, nil
	}
	return LoadCA(dir)
}

// LoadCA loads the CA kept in dir.
func LoadCA(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate %q: %w", certPath, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("CA certificate %q is not a CA's", certPath)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	key, err := ParseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CA key %q: %w", keyPath, err)
	}
	if !samePublicKey(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("CA key %q does not belong to the certificate %q", keyPath, certPath)
	}
	return &CA{Cert: cert, CertPEM: certPEM, key: key}, nil
}

// Write saves the CA in dir: the certificate 0644, the key 0600, dir 0700.
func (ca *CA) Write(dir string) error {
	keyPEM, err := encodeKey(ca.key)
	if err != nil {
		return err
	}
	if err := WriteFile(filepath.Join(dir, CAKeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	return WriteFile(filepath.Join(dir, CACertFile), ca.CertPEM, 0o644)
}

// Pool is a certificate pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

// Signed reports whether cert was issued by this CA (its signature, not
// its validity period).
func (ca *CA) Signed(cert *x509.Certificate) bool {
	return cert.CheckSignatureFrom(ca.Cert) == nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

type publicKey interface{ Equal(crypto.PublicKey) bool }

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(publicKey)
	return ok && k.Equal(b)
}
