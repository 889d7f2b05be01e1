package cli_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/client"
)

func writeDataFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func created[T any](t *testing.T, f *fixture, res client.Resource, name string) T {
	t.Helper()
	data, _ := json.Marshal(f.srv.Object(res, "dev", name))
	var out T
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCreateSecretAndConfigMap(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	file := writeDataFile(t, filepath.Join(dir, "app.conf"), "listen 80\n")
	envFile := writeDataFile(t, filepath.Join(dir, "app.env"), "# comment\n\nMODE=blue\nFROM_ENV\n")
	t.Setenv("FROM_ENV", "inherited")

	if out := mustRun(t, "", "create", "secret", "generic", "db", "--from-literal", "password=s3cr3t=x", "--from-file", "conf="+file); out != "secret/db created\n" {
		t.Errorf("output %q", out)
	}
	s := created[corev1.Secret](t, f, client.Secrets, "db")
	if string(s.Data["password"]) != "s3cr3t=x" || string(s.Data["conf"]) != "listen 80\n" || len(s.Data) != 2 {
		t.Errorf("secret data %q", s.Data)
	}

	if out := mustRun(t, "", "create", "configmap", "settings", "--from-env-file", envFile, "--from-file", file); out != "configmap/settings created\n" {
		t.Errorf("output %q", out)
	}
	cm := created[corev1.ConfigMap](t, f, client.ConfigMaps, "settings")
	if cm.Data["MODE"] != "blue" || cm.Data["FROM_ENV"] != "inherited" || cm.Data["app.conf"] != "listen 80\n" || len(cm.Data) != 3 {
		t.Errorf("config map data %q", cm.Data)
	}

	binDir := t.TempDir()
	writeDataFile(t, filepath.Join(binDir, "logo.bin"), "\xff\xfe\x00")
	writeDataFile(t, filepath.Join(binDir, "text"), "hi")
	mustRun(t, "", "create", "cm", "files", "--from-file", binDir)
	files := created[corev1.ConfigMap](t, f, client.ConfigMaps, "files")
	if files.Data["text"] != "hi" || string(files.BinaryData["logo.bin"]) != "\xff\xfe\x00" {
		t.Errorf("a directory: data %q binaryData %q", files.Data, files.BinaryData)
	}

	mustRun(t, "", "create", "secret", "docker-registry", "ghcr", "--docker-server", "ghcr.io", "--docker-username", "ada", "--docker-password", "tok")
	reg := created[corev1.Secret](t, f, client.Secrets, "ghcr")
	var cfg struct {
		Auths map[string]struct{ Username, Password, Auth string } `json:"auths"`
	}
	if err := json.Unmarshal(reg.Data[corev1.DockerConfigJsonKey], &cfg); err != nil {
		t.Fatal(err)
	}
	if a := cfg.Auths["ghcr.io"]; reg.Type != corev1.SecretTypeDockerConfigJson || a.Username != "ada" || a.Password != "tok" ||
		a.Auth != base64.StdEncoding.EncodeToString([]byte("ada:tok")) {
		t.Errorf("docker-registry secret: type %q %+v", reg.Type, cfg)
	}

	certFile, keyFile := selfSigned(t, dir)
	mustRun(t, "", "create", "secret", "tls", "web-tls", "--cert", certFile, "--key", keyFile)
	tlsSecret := created[corev1.Secret](t, f, client.Secrets, "web-tls")
	if tlsSecret.Type != corev1.SecretTypeTLS || !strings.Contains(string(tlsSecret.Data["tls.crt"]), "CERTIFICATE") || len(tlsSecret.Data["tls.key"]) == 0 {
		t.Errorf("tls secret: %q %v", tlsSecret.Type, tlsSecret.Data)
	}

	for _, bad := range [][]string{
		{"create", "secret", "generic", "dup", "--from-literal", "a=1", "--from-literal", "a=2"},
		{"create", "secret", "generic", "badkey", "--from-literal", "a/b=1"},
		{"create", "secret", "generic", "nolit", "--from-literal", "novalue"},
		{"create", "configmap", "nofile", "--from-file", filepath.Join(dir, "missing")},
		{"create", "secret", "tls", "mismatch", "--cert", certFile, "--key", file},
		{"create", "secret", "docker-registry", "nouser", "--docker-password", "x"},
	} {
		if _, _, err := run(t, "", bad...); err == nil {
			t.Errorf("berth %s: no error", strings.Join(bad, " "))
		}
	}
}

// selfSigned writes a certificate and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "web"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeDataFile(t, filepath.Join(dir, "tls.crt"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeDataFile(t, filepath.Join(dir, "tls.key"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return certFile, keyFile
}
