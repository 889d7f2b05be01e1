package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/berthpaas/berth/client"
)

// TestKubectlSecretsAndConfigMaps: secrets and config maps made with
// kubectl's generators reach a pod that runs on the local Docker engine,
// as environment variables and as files (the secret's on a tmpfs); a
// config map changed with kubectl reaches the running pod's volume within
// a minute; a viewer lists secrets by name and cannot read one.
func TestKubectlSecretsAndConfigMaps(t *testing.T) {
	t.Parallel()
	c := startPodCluster(t, "e2e-secrets")
	k := newKubectl(t, c.env, c.env.AdminToken)
	k.mustRun("-n", c.ns, "create", "secret", "generic", "db", "--from-literal", "password=s3cr3t")
	k.mustRun("-n", c.ns, "create", "configmap", "settings", "--from-literal", "mode=blue")
	if out := k.mustRun("-n", c.ns, "get", "secrets"); !strings.Contains(out, "db") || !strings.Contains(out, "Opaque") {
		t.Errorf("kubectl get secrets:\n%s", out)
	}
	// kubectl's typed generators: the server checks each type's keys.
	certFile, keyFile := writeCertPair(t)
	k.mustRun("-n", c.ns, "create", "secret", "tls", "web-tls", "--cert", certFile, "--key", keyFile)
	k.mustRun("-n", c.ns, "create", "secret", "docker-registry", "pull", "--docker-server", "registry.example", "--docker-username", "u", "--docker-password", "p")
	for name, want := range map[string]string{"web-tls": "kubernetes.io/tls", "pull": "kubernetes.io/dockerconfigjson"} {
		if out := k.mustRun("-n", c.ns, "get", "secret", name, "-o", "jsonpath={.type}"); out != want {
			t.Errorf("kubectl get secret %s: type %q, want %s", name, out, want)
		}
	}

	pod := c.shellPod("app", v1.RestartPolicyAlways, "sleep 3600 & wait")
	ct := &pod.Spec.Containers[0]
	ct.Env = []v1.EnvVar{{Name: "PASSWORD", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{
		LocalObjectReference: v1.LocalObjectReference{Name: "db"}, Key: "password"}}}}
	ct.EnvFrom = []v1.EnvFromSource{{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "settings"}}}}
	ct.VolumeMounts = []v1.VolumeMount{{Name: "secret", MountPath: "/etc/secret"}, {Name: "config", MountPath: "/etc/config"}}
	pod.Spec.Volumes = []v1.Volume{
		{Name: "secret", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "db"}}},
		{Name: "config", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "settings"}}}},
	}
	c.create(pod)
	// Deleted before the master stops: the node then kills the pod and
	// unmounts its secret's tmpfs, which would outlive the test otherwise.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.api.Delete(ctx, client.Pods, c.ns, "app"); err != nil {
			t.Errorf("delete pod app: %v", err)
			return
		}
		if !waitFor(time.Minute, func() bool {
			return apierrors.IsNotFound(c.api.Get(ctx, client.Pods, c.ns, "app", &v1.Pod{}))
		}) {
			t.Error("pod app not gone within a minute")
		}
	})
	c.waitPod("app", podStartTimeout, "running", isRunning)

	exec := func(script string) string {
		t.Helper()
		return k.mustRun("-n", c.ns, "exec", "app", "--", "sh", "-c", script)
	}
	if out := exec(`echo "$PASSWORD $mode"; cat /etc/secret/password; echo; cat /etc/config/mode; echo; grep ' /etc/secret ' /proc/mounts | cut -d' ' -f1`); out != "s3cr3t blue\ns3cr3t\nblue\ntmpfs\n" {
		t.Errorf("the pod sees %q", out)
	}

	changed := k.mustRun("-n", c.ns, "create", "configmap", "settings", "--from-literal", "mode=green", "--dry-run=client", "-o", "yaml")
	replace := k.command(t.Context(), "-n", c.ns, "replace", "-f", "-")
	replace.Stdin = strings.NewReader(changed)
	if out, err := replace.CombinedOutput(); err != nil {
		t.Fatalf("kubectl replace: %v\n%s", err, out)
	}
	start := time.Now()
	if !waitFor(70*time.Second, func() bool { return exec("cat /etc/config/mode") == "green" }) {
		t.Fatalf("the changed config map did not reach the pod's volume within 70s: %q", exec("cat /etc/config/mode"))
	}
	t.Logf("the changed config map reached the pod's volume after %v", time.Since(start).Round(time.Second))

	viewerToken := c.env.CreateUser(t, "sviewer", false)
	mustCode(t, c.env.Do(t, http.MethodPost, "/apis/berth.dev/v1/namespaces/"+c.ns+"/members", c.env.AdminToken, map[string]any{
		"metadata": map[string]string{"name": "sviewer"}, "spec": map[string]string{"role": "view"},
	}), http.StatusCreated)
	viewer := newKubectl(t, c.env, viewerToken)
	if out := viewer.mustRun("-n", c.ns, "get", "secrets", "-o", "name"); out != "secret/db\nsecret/pull\nsecret/web-tls\n" {
		t.Errorf("viewer: kubectl get secrets -o name: %q", out)
	}
	if out := viewer.mustRun("-n", c.ns, "get", "secrets", "-o", "yaml"); strings.Contains(out, "password") || strings.Contains(out, "tls.key") || strings.Contains(out, ".dockerconfigjson:") {
		t.Errorf("viewer: the list shows the secret's keys or data:\n%s", out)
	}
	if errOut := viewer.mustFail("-n", c.ns, "get", "secret", "db", "-o", "yaml"); !strings.Contains(strings.ToLower(errOut), "forbidden") {
		t.Errorf("viewer: kubectl get secret db: %s", errOut)
	}
}

// writeCertPair writes a self-signed certificate and its key, PEM, for
// kubectl create secret tls.
func writeCertPair(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "web.example"}, DNSNames: []string{"web.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
