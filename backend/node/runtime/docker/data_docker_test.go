package docker_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// testPodData: a pod takes a secret and a config map as environment
// variables and as volumes; the secret's volume is a tmpfs on the host,
// both are read-only, and a changed config map reaches the running pod's
// files at the next sync. A pod that needs a missing secret does not start.
func testPodData(t *testing.T, e *env) {
	ctx := t.Context()
	optional := true
	fileMode := int32(0o600)
	secret := &v1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: e.namespace},
		Data: map[string][]byte{"password": []byte("s3cr3t $(POD_NAME)"), "user": []byte("ada")}}
	settings := func(mode string) *v1.ConfigMap {
		return &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: e.namespace},
			Data: map[string]string{"mode": mode, "bad-name": "skipped"}}
	}
	data := runtime.PodData{
		Secrets:    map[string]*v1.Secret{"creds": secret},
		ConfigMaps: map[string]*v1.ConfigMap{"settings": settings("blue")},
	}
	c := e.shellCmd("app", "sleep 3600 & wait")
	c.EnvFrom = []v1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "settings"}}}}
	c.Env = []v1.EnvVar{
		{Name: "PASSWORD", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{
			LocalObjectReference: v1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
		{Name: "MODE", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{
			LocalObjectReference: v1.LocalObjectReference{Name: "settings"}, Key: "mode"}}},
		{Name: "MISSING", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{
			LocalObjectReference: v1.LocalObjectReference{Name: "absent"}, Key: "k", Optional: &optional}}},
	}
	c.VolumeMounts = []v1.VolumeMount{{Name: "secret", MountPath: "/etc/secret"}, {Name: "config", MountPath: "/etc/config"}}
	pod := e.pod("data", v1.RestartPolicyAlways, c)
	pod.Spec.Volumes = []v1.Volume{
		{Name: "secret", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "creds"}}},
		{Name: "config", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{
			LocalObjectReference: v1.LocalObjectReference{Name: "settings"},
			Items:                []v1.KeyToPath{{Key: "mode", Path: "conf/mode.txt", Mode: &fileMode}},
		}}},
	}
	killAtEnd(t, e.rt, pod)
	syncDataUntil(t, e.rt, pod, data, 20*time.Second, "running", allRunning)

	run := func(t *testing.T, script string) (string, int) {
		t.Helper()
		var out bytes.Buffer
		code, err := e.rt.Exec(ctx, string(pod.UID), "app", []string{"sh", "-c", script}, runtime.Streams{Stdout: &out, Stderr: &out})
		if err != nil {
			t.Fatalf("exec %q: %v", script, err)
		}
		return out.String(), code
	}
	t.Run("env", func(t *testing.T) {
		// A value from a secret is not expanded; an optional missing
		// key leaves its variable out; envFrom skips invalid names.
		out, _ := run(t, `echo "$PASSWORD|$MODE|$CFG_mode|${MISSING-unset}"; env | grep -c bad-name`)
		if want := "s3cr3t $(POD_NAME)|blue|blue|unset\n0\n"; out != want {
			t.Errorf("env: %q, want %q", out, want)
		}
	})
	t.Run("files", func(t *testing.T) {
		out, _ := run(t, "cat /etc/secret/password; echo; cat /etc/secret/user; echo; cat /etc/config/conf/mode.txt; echo; stat -L -c %a /etc/config/conf/mode.txt /etc/secret/user")
		if want := "s3cr3t $(POD_NAME)\nada\nblue\n600\n644\n"; out != want {
			t.Errorf("files: %q, want %q", out, want)
		}
		if out, code := run(t, "touch /etc/secret/x /etc/config/x"); code == 0 {
			t.Errorf("the volumes are writable: %q", out)
		}
	})
	t.Run("secret in memory", func(t *testing.T) {
		out, _ := run(t, "grep ' /etc/secret ' /proc/mounts")
		if !strings.HasPrefix(out, "tmpfs ") {
			t.Errorf("/etc/secret in the container: %q, want a tmpfs", out)
		}
		var fs unix.Statfs_t
		dir := filepath.Join(e.opts.StateDir, "pods", string(pod.UID), "volumes", "secret")
		if err := unix.Statfs(dir, &fs); err != nil {
			t.Fatal(err)
		}
		if fs.Type != unix.TMPFS_MAGIC {
			t.Errorf("the secret volume on the host (%s) is of filesystem type %#x, not a tmpfs", dir, fs.Type)
		}
	})
	t.Run("update", func(t *testing.T) {
		data.ConfigMaps = map[string]*v1.ConfigMap{"settings": settings("green")}
		syncDataUntil(t, e.rt, pod, data, 10*time.Second, "running", allRunning)
		if out, _ := run(t, "cat /etc/config/conf/mode.txt"); out != "green" {
			t.Errorf("after the update: %q, want green", out)
		}
		// The environment is the container's, fixed when it started.
		if out, _ := run(t, `echo "$MODE"`); out != "blue\n" {
			t.Errorf("MODE after the update: %q", out)
		}
	})
	t.Run("missing secret", func(t *testing.T) {
		needy := e.shellCmd("needy", "sleep 3600 & wait")
		needy.Env = []v1.EnvVar{{Name: "P", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{
			LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Key: "k"}}}}
		p := e.pod("data-missing", v1.RestartPolicyAlways, needy)
		killAtEnd(t, e.rt, p)
		st := syncDataUntil(t, e.rt, p, runtime.PodData{}, 20*time.Second, "waiting for its secret", func(st runtime.PodStatus) bool {
			return len(st.Containers) == 1 && st.Containers[0].Reason == "CreateContainerConfigError"
		})
		if msg := st.Containers[0].Message; !strings.Contains(msg, `secret "nope" not found`) {
			t.Errorf("message %q", msg)
		}
	})
}
