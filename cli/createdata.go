package cli

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/berthpaas/berth/client"
)

// The kubectl create secret|configmap generators: the same flags, keys
// and errors, so that what works with kubectl works with berth.

// dataSources are the flags that fill a secret or config map.
type dataSources struct {
	literals, files, envFiles []string
}

func (s *dataSources) register(cmd *cobra.Command) {
	flags := cmd.Flags()
	flags.StringArrayVar(&s.literals, "from-literal", nil, "a key and its value, KEY=VALUE (repeatable)")
	flags.StringArrayVar(&s.files, "from-file", nil, "a file (its name is the key), KEY=PATH, or a directory (each regular file in it) (repeatable)")
	flags.StringArrayVar(&s.envFiles, "from-env-file", nil, "a file of KEY=VALUE lines (# comments; a lone KEY takes its value from the environment) (repeatable)")
}

// read returns the key-value pairs of every source; kind names the object
// in the errors ("Secret", "ConfigMap").
func (s *dataSources) read(kind, name string) (map[string][]byte, error) {
	data := map[string][]byte{}
	add := func(key string, value []byte) error {
		if errs := validation.IsConfigMapKey(key); len(errs) > 0 {
			return fmt.Errorf("%q is not a valid key name for a %s: %s", key, kind, strings.Join(errs, ";"))
		}
		if _, dup := data[key]; dup {
			return fmt.Errorf("cannot add key %s, another key by that name already exists in Data for %s %q", key, kind, name)
		}
		data[key] = value
		return nil
	}
	for _, file := range s.files {
		key, path, named := strings.Cut(file, "=")
		if !named {
			path = file
		}
		info, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("--from-file: %w", err)
		}
		if info.IsDir() {
			if named {
				return nil, fmt.Errorf("--from-file %s: a key cannot be given with a directory", file)
			}
			entries, err := os.ReadDir(path)
			if err != nil {
				return nil, fmt.Errorf("--from-file: %w", err)
			}
			for _, e := range entries {
				if !e.Type().IsRegular() {
					continue
				}
				b, err := os.ReadFile(filepath.Join(path, e.Name()))
				if err != nil {
					return nil, fmt.Errorf("--from-file: %w", err)
				}
				if err := add(e.Name(), b); err != nil {
					return nil, err
				}
			}
			continue
		}
		if !named {
			key = filepath.Base(path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--from-file: %w", err)
		}
		if err := add(key, b); err != nil {
			return nil, err
		}
	}
	for _, lit := range s.literals {
		key, value, ok := strings.Cut(lit, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("--from-literal %q: want KEY=VALUE", lit)
		}
		if err := add(key, []byte(value)); err != nil {
			return nil, err
		}
	}
	for _, path := range s.envFiles {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--from-env-file: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimLeft(sc.Text(), " \t")
			if n == 1 {
				line = strings.TrimPrefix(line, "\ufeff")
			}
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			key, value, ok := strings.Cut(line, "=")
			if !ok {
				value = os.Getenv(key)
			}
			if errs := validation.IsEnvVarName(key); len(errs) > 0 {
				return nil, fmt.Errorf("--from-env-file %s, line %d: %q is not a valid key name: %s", path, n, key, strings.Join(errs, ";"))
			}
			if err := add(key, []byte(value)); err != nil {
				return nil, err
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("--from-env-file %s: %w", path, err)
		}
	}
	return data, nil
}

func newCreateSecretCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret (generic|tls|docker-registry) NAME [flags]",
		Short: "Create a secret from literals, files, a TLS pair or registry credentials",
		Long: `Create a secret, as kubectl create secret does. Only members with edit
or admin read a secret's values; viewers see its name only. Secrets are
encrypted in etcd.`,
		Args: cobra.NoArgs,
	}
	var src dataSources
	var secretType string
	generic := &cobra.Command{
		Use:   "generic NAME [--from-literal KEY=VALUE] [--from-file [KEY=]PATH] [--from-env-file PATH] [--type TYPE]",
		Short: "Create a secret from literals, files or an env file",
		Example: `  berth create secret generic db --from-literal password=s3cr3t
  berth create secret generic ssh --from-file id_ed25519=$HOME/.ssh/id_ed25519`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := src.read("Secret", args[0])
			if err != nil {
				return err
			}
			return createSecret(cmd, g, args[0], corev1.SecretType(secretType), data)
		},
	}
	src.register(generic)
	generic.Flags().StringVar(&secretType, "type", "", "type of the secret (default Opaque)")

	var certFile, keyFile string
	tlsCmd := &cobra.Command{
		Use:     "tls NAME --cert PATH --key PATH",
		Short:   "Create a TLS secret (tls.crt, tls.key) from a certificate and its key",
		Example: `  berth create secret tls web-tls --cert web.crt --key web.key`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if certFile == "" || keyFile == "" {
				return fmt.Errorf("create secret tls: --cert and --key are required")
			}
			cert, err := os.ReadFile(certFile)
			if err != nil {
				return err
			}
			key, err := os.ReadFile(keyFile)
			if err != nil {
				return err
			}
			if _, err := tls.X509KeyPair(cert, key); err != nil {
				return fmt.Errorf("create secret tls: %w", err)
			}
			return createSecret(cmd, g, args[0], corev1.SecretTypeTLS, map[string][]byte{
				corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key,
			})
		},
	}
	tlsCmd.Flags().StringVar(&certFile, "cert", "", "PEM certificate (chain)")
	tlsCmd.Flags().StringVar(&keyFile, "key", "", "PEM private key of the certificate")

	var server, user, password, email string
	registry := &cobra.Command{
		Use:     "docker-registry NAME --docker-server SERVER --docker-username USER --docker-password PASSWORD [--docker-email EMAIL]",
		Short:   "Create a secret for pulling images from a registry (.dockerconfigjson)",
		Example: `  berth create secret docker-registry ghcr --docker-server ghcr.io --docker-username ada --docker-password "$TOKEN"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if user == "" || password == "" {
				return fmt.Errorf("create secret docker-registry: --docker-username and --docker-password are required")
			}
			cfg, err := dockerConfigJSON(server, user, password, email)
			if err != nil {
				return err
			}
			return createSecret(cmd, g, args[0], corev1.SecretTypeDockerConfigJson, map[string][]byte{corev1.DockerConfigJsonKey: cfg})
		},
	}
	registry.Flags().StringVar(&server, "docker-server", "https://index.docker.io/v1/", "registry server")
	registry.Flags().StringVar(&user, "docker-username", "", "user name at the registry")
	registry.Flags().StringVar(&password, "docker-password", "", "password or token at the registry")
	registry.Flags().StringVar(&email, "docker-email", "", "e-mail address at the registry")

	cmd.AddCommand(generic, tlsCmd, registry)
	return cmd
}

// dockerConfigJSON is the .dockerconfigjson of one registry's credentials,
// as kubectl writes it.
func dockerConfigJSON(server, user, password, email string) ([]byte, error) {
	type entry struct {
		Username string `json:"username,omitempty"`
		Password string `json:"password,omitempty"`
		Email    string `json:"email,omitempty"`
		Auth     string `json:"auth,omitempty"`
	}
	return json.Marshal(map[string]map[string]entry{"auths": {server: {
		Username: user, Password: password, Email: email,
		Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + password)),
	}}})
}

func createSecret(cmd *cobra.Command, g *globals, name string, typ corev1.SecretType, data map[string][]byte) error {
	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Type:       typ,
		Data:       data,
	}
	return createObject(cmd, g, client.Secrets, secret, "secret/"+name)
}

func newCreateConfigMapCommand(g *globals) *cobra.Command {
	var src dataSources
	cmd := &cobra.Command{
		Use:     "configmap NAME [--from-literal KEY=VALUE] [--from-file [KEY=]PATH] [--from-env-file PATH]",
		Aliases: []string{"cm"},
		Short:   "Create a config map from literals, files or an env file",
		Long: `Create a config map, as kubectl create configmap does: a file that is not
UTF-8 goes to binaryData.`,
		Example: `  berth create configmap settings --from-literal mode=blue --from-file nginx.conf`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := src.read("ConfigMap", args[0])
			if err != nil {
				return err
			}
			cm := &corev1.ConfigMap{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
				ObjectMeta: metav1.ObjectMeta{Name: args[0]},
			}
			for k, v := range data {
				if utf8.Valid(v) {
					if cm.Data == nil {
						cm.Data = map[string]string{}
					}
					cm.Data[k] = string(v)
					continue
				}
				if cm.BinaryData == nil {
					cm.BinaryData = map[string][]byte{}
				}
				cm.BinaryData[k] = v
			}
			return createObject(cmd, g, client.ConfigMaps, cm, "configmap/"+args[0])
		},
	}
	src.register(cmd)
	return cmd
}

// createObject creates obj in the current namespace and says so.
func createObject(cmd *cobra.Command, g *globals, res client.Resource, obj any, id string) error {
	namespace, c, err := g.target()
	if err != nil {
		return err
	}
	if err := c.Create(cmd.Context(), res, namespace, obj, nil); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s created\n", id)
	return nil
}
