package storage

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// EncryptionConfiguration is kube-apiserver's file format for encryption
// at rest (apiserver.config.k8s.io/v1), of which Berth reads the aesgcm
// and identity providers:
//
//	apiVersion: apiserver.config.k8s.io/v1
//	kind: EncryptionConfiguration
//	resources:
//	- resources: [secrets]
//	  providers:
//	  - aesgcm:
//	      keys:
//	      - name: key2          # the first key encrypts
//	        secret: <base64 of 32 random bytes>
//	      - name: key1          # the others still decrypt
//	        secret: <base64>
//	  - identity: {}            # optional: read values stored in clear
type EncryptionConfiguration struct {
	APIVersion string                  `json:"apiVersion"`
	Kind       string                  `json:"kind"`
	Resources  []ResourceConfiguration `json:"resources"`
}

// ResourceConfiguration names resources and the providers of their values,
// the first of which writes.
type ResourceConfiguration struct {
	Resources []string                `json:"resources"`
	Providers []ProviderConfiguration `json:"providers"`
}

// ProviderConfiguration is one provider; exactly one field is set.
type ProviderConfiguration struct {
	AESGCM    *KeysConfiguration `json:"aesgcm,omitempty"`
	Identity  *struct{}          `json:"identity,omitempty"`
	AESCBC    *KeysConfiguration `json:"aescbc,omitempty"`
	KMS       *struct{}          `json:"kms,omitempty"`
	Secretbox *KeysConfiguration `json:"secretbox,omitempty"`
}

// KeysConfiguration lists a provider's keys.
type KeysConfiguration struct {
	Keys []EncryptionKey `json:"keys"`
}

// EncryptionKey is a named key, its secret base64-encoded.
type EncryptionKey struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

const encryptionConfigVersion = "apiserver.config.k8s.io/v1"

// LoadEncryptionConfig reads an EncryptionConfiguration and returns the
// transformer of each resource it names. Errors name the file and the
// entry at fault.
func LoadEncryptionConfig(path string) (map[string]Transformer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encryption configuration: %w", err)
	}
	var cfg EncryptionConfiguration
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return nil, fmt.Errorf("encryption configuration %s: %w", path, err)
	}
	out, err := cfg.transformers()
	if err != nil {
		return nil, fmt.Errorf("encryption configuration %s: %w", path, err)
	}
	return out, nil
}

func (cfg *EncryptionConfiguration) transformers() (map[string]Transformer, error) {
	if cfg.APIVersion != encryptionConfigVersion || cfg.Kind != "EncryptionConfiguration" {
		return nil, fmt.Errorf("apiVersion %q, kind %q: want %s, EncryptionConfiguration", cfg.APIVersion, cfg.Kind, encryptionConfigVersion)
	}
	out := map[string]Transformer{}
	for i, rc := range cfg.Resources {
		where := fmt.Sprintf("resources[%d]", i)
		t, err := rc.transformer(where)
		if err != nil {
			return nil, err
		}
		if len(rc.Resources) == 0 {
			return nil, fmt.Errorf("%s.resources: name at least one resource", where)
		}
		for j, r := range rc.Resources {
			if msgs := validation.IsDNS1123Label(r); len(msgs) > 0 {
				return nil, fmt.Errorf("%s.resources[%d] %q: a resource of the core group, lowercase and plural (secrets): %s", where, j, r, msgs[0])
			}
			if _, dup := out[r]; dup {
				return nil, fmt.Errorf("%s.resources[%d]: %q is configured twice", where, j, r)
			}
			out[r] = t
		}
	}
	return out, nil
}

func (rc *ResourceConfiguration) transformer(where string) (*AESGCM, error) {
	var keys []NamedKey
	identity, identityFirst := false, false
	names := map[string]bool{}
	for i, p := range rc.Providers {
		at := fmt.Sprintf("%s.providers[%d]", where, i)
		switch {
		case p.AESGCM != nil && p.Identity == nil:
			if len(p.AESGCM.Keys) == 0 {
				return nil, fmt.Errorf("%s.aesgcm.keys: at least one key", at)
			}
			for j, k := range p.AESGCM.Keys {
				kat := fmt.Sprintf("%s.aesgcm.keys[%d]", at, j)
				if k.Name == "" || names[k.Name] {
					return nil, fmt.Errorf("%s.name: a name of its own is required", kat)
				}
				names[k.Name] = true
				secret, err := base64.StdEncoding.DecodeString(k.Secret)
				if err != nil {
					return nil, fmt.Errorf("%s.secret: not base64: %w", kat, err)
				}
				if n := len(secret); n != 16 && n != 24 && n != 32 {
					return nil, fmt.Errorf("%s.secret: %d bytes; an AES key has 16, 24 or 32", kat, n)
				}
				keys = append(keys, NamedKey{Name: k.Name, Secret: secret})
			}
		case p.Identity != nil && p.AESGCM == nil:
			identity = true
			identityFirst = i == 0
		default:
			return nil, fmt.Errorf("%s: Berth supports the aesgcm and identity providers, one per entry", at)
		}
	}
	if len(rc.Providers) == 0 {
		return nil, fmt.Errorf("%s.providers: at least one provider", where)
	}
	t, err := NewAESGCM(keys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	t.identity, t.identityFirst = identity, identityFirst
	return t, nil
}

// EnsureEncryptionConfig creates, if there is none at path, an
// EncryptionConfiguration that encrypts secrets with a fresh AES-256 key
// ("key1"), mode 0600. An existing file is left alone.
func EnsureEncryptionConfig(path string) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // never fails; see crypto/rand.Read
	cfg := EncryptionConfiguration{
		APIVersion: encryptionConfigVersion, Kind: "EncryptionConfiguration",
		Resources: []ResourceConfiguration{{
			Resources: []string{"secrets"},
			Providers: []ProviderConfiguration{{AESGCM: &KeysConfiguration{Keys: []EncryptionKey{{Name: "key1", Secret: base64.StdEncoding.EncodeToString(secret)}}}}},
		}},
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create the encryption configuration: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
