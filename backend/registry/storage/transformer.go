package storage

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
)

// Transformer changes the stored bytes of one resource's objects on their
// way to and from etcd: encryption at rest, as kube-apiserver's
// value.Transformer. The object's etcd key is authenticated with it, so
// a value copied under another key does not read.
type Transformer interface {
	// TransformToStorage returns what etcd keeps for data at key.
	TransformToStorage(key string, data []byte) ([]byte, error)
	// TransformFromStorage returns the object's bytes kept at key. stale
	// says the value was not written as TransformToStorage now would (an
	// older key): rewriting the object brings it up to date.
	TransformFromStorage(key string, stored []byte) (data []byte, stale bool, err error)
}

// WithTransformer returns a Store on the same etcd client, continue key
// and leases that passes every value it writes and reads through t: the
// store of one resource (secrets) whose values are encrypted, while the
// other resources keep theirs as they are.
func (s *Store) WithTransformer(t Transformer) *Store {
	c := *s
	c.transformer = t
	return &c
}

// toStorage transforms an encoded object for etcd, when the store has a
// transformer.
func (s *Store) toStorage(key string, data []byte) ([]byte, error) {
	if s.transformer == nil {
		return data, nil
	}
	out, err := s.transformer.TransformToStorage(key, data)
	if err != nil {
		return nil, fmt.Errorf("transform %q for storage: %w", key, err)
	}
	return out, nil
}

// fromStorage is the inverse of toStorage.
func (s *Store) fromStorage(key string, stored []byte) ([]byte, error) {
	if s.transformer == nil {
		return stored, nil
	}
	out, _, err := s.transformer.TransformFromStorage(key, stored)
	if err != nil {
		return nil, fmt.Errorf("transform %q from storage: %w", key, err)
	}
	return out, nil
}

// AESGCMPrefix begins every value an AES-GCM key wrote, followed by the
// key's name and a colon: kube-apiserver's aesgcm provider format
// (k8s:enc:aesgcm:v1:NAME:nonce+ciphertext).
const AESGCMPrefix = "k8s:enc:aesgcm:v1:"

// NamedKey is one key of an AES-GCM provider.
type NamedKey struct {
	Name   string
	Secret []byte // 16, 24 or 32 bytes
}

type gcmKey struct {
	prefix []byte
	aead   cipher.AEAD
}

// AESGCM encrypts with its first key and decrypts with any of its keys,
// found by the name in a value's prefix. Identity, when set, also reads
// values that carry no prefix of its keys (stored before encryption was
// configured) and, if it is first, writes values in clear.
type AESGCM struct {
	keys []gcmKey
	// identityFirst writes in clear; identity reads in clear what no key
	// claims.
	identity, identityFirst bool
}

// NewAESGCM builds the transformer of keys, the first of which encrypts.
func NewAESGCM(keys []NamedKey) (*AESGCM, error) {
	t := &AESGCM{}
	for _, k := range keys {
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k.Name, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k.Name, err)
		}
		t.keys = append(t.keys, gcmKey{prefix: []byte(AESGCMPrefix + k.Name + ":"), aead: aead})
	}
	return t, nil
}

// TransformToStorage seals data with the first key, the etcd key as
// additional data, under a random nonce.
func (t *AESGCM) TransformToStorage(key string, data []byte) ([]byte, error) {
	if t.identityFirst || len(t.keys) == 0 {
		return data, nil
	}
	k := t.keys[0]
	size := k.aead.NonceSize()
	out := make([]byte, len(k.prefix)+size, len(k.prefix)+size+len(data)+k.aead.Overhead())
	copy(out, k.prefix)
	nonce := out[len(k.prefix):]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return k.aead.Seal(out, nonce, data, []byte(key)), nil
}

// TransformFromStorage opens a value with the key its prefix names.
func (t *AESGCM) TransformFromStorage(key string, stored []byte) ([]byte, bool, error) {
	for i, k := range t.keys {
		rest, ok := bytes.CutPrefix(stored, k.prefix)
		if !ok {
			continue
		}
		size := k.aead.NonceSize()
		if len(rest) < size {
			return nil, false, fmt.Errorf("the value is too short to have been encrypted by key %q", k.prefix)
		}
		data, err := k.aead.Open(nil, rest[:size], rest[size:], []byte(key))
		if err != nil {
			return nil, false, fmt.Errorf("decrypting with %q: %w", k.prefix, err)
		}
		return data, i != 0 || t.identityFirst, nil
	}
	if t.identity && !bytes.HasPrefix(stored, []byte("k8s:enc:")) {
		return stored, !t.identityFirst, nil
	}
	if p, ok := encryptedBy(stored); ok {
		return nil, false, fmt.Errorf("no key named in the encryption configuration decrypts a value encrypted by %q", p)
	}
	return nil, false, fmt.Errorf("the value is not encrypted, and the encryption configuration does not allow identity")
}

// encryptedBy returns the provider and key prefix of an encrypted value.
func encryptedBy(stored []byte) (string, bool) {
	rest, ok := bytes.CutPrefix(stored, []byte("k8s:enc:"))
	if !ok {
		return "", false
	}
	// provider:version:name:
	n := 0
	for i, b := range rest {
		if b == ':' {
			if n++; n == 3 {
				return "k8s:enc:" + string(rest[:i+1]), true
			}
		}
	}
	return "", false
}
