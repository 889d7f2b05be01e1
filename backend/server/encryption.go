package server

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/berthpaas/berth/backend/registry/core"
	"github.com/berthpaas/berth/backend/registry/storage"
)

// EncryptionConfigFile is the name of the encryption configuration that a
// master creates on first start, in its data dir (or, for berth master,
// its TLS dir, which masters of one cluster share).
const EncryptionConfigFile = "encryption-config.yaml"

// encryptionConfigPath is where the master's encryption configuration is:
// cfg.EncryptionConfig, else in the data dir, else in the TLS dir.
func encryptionConfigPath(cfg Config) (path string, made bool) {
	switch {
	case cfg.EncryptionConfig != "":
		return cfg.EncryptionConfig, false
	case cfg.DataDir != "":
		return filepath.Join(cfg.DataDir, EncryptionConfigFile), true
	case cfg.TLSDir != "":
		return filepath.Join(cfg.TLSDir, EncryptionConfigFile), true
	}
	return "", false
}

// loadEncryption reads the transformers that encrypt resources at rest,
// creating the default configuration (secrets with a fresh AES-GCM key)
// on first start.
func loadEncryption(cfg Config) (map[string]storage.Transformer, error) {
	path, made := encryptionConfigPath(cfg)
	if path == "" {
		return nil, errors.New("secrets are encrypted at rest: give --encryption-provider-config (the same file to every master) or a data or TLS dir to keep a key in")
	}
	if made {
		if err := storage.EnsureEncryptionConfig(path); err != nil {
			return nil, err
		}
	}
	transformers, err := storage.LoadEncryptionConfig(path)
	if err != nil {
		return nil, err
	}
	return transformers, nil
}

// checkEncrypted refuses an encryption configuration that names a
// resource the registries do not store: its objects would be stored in
// clear while the operator believes them encrypted.
func checkEncrypted(regs *core.Registries, transformers map[string]storage.Transformer) error {
	stored := map[string]bool{}
	for _, g := range regs.All() {
		stored[g.Resource] = true
	}
	for name := range transformers {
		if !stored[name] {
			return fmt.Errorf("encryption configuration: Berth stores no resource %q in etcd", name)
		}
	}
	return nil
}
