package node_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/backend/node"
	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/fake"
	"github.com/berthpaas/berth/backend/testenv"
)

// dataRecorder is the fake runtime, remembering the data each pod was
// last synced with.
type dataRecorder struct {
	*fake.Runtime
	mu   sync.Mutex
	last map[string]runtime.PodData // by pod name
}

func (r *dataRecorder) SyncPod(ctx context.Context, pod *v1.Pod, data runtime.PodData) (runtime.PodStatus, error) {
	r.mu.Lock()
	r.last[pod.Name] = data
	r.mu.Unlock()
	return r.Runtime.SyncPod(ctx, pod, data)
}

func (r *dataRecorder) data(name string) (runtime.PodData, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.last[name]
	return d, ok
}

// The agent reads the secrets and config maps its pods use, with the
// node's credential, hands them to the runtime, and reads them again once
// they are older than DataRefreshInterval, so that a change reaches the
// pod; one that does not exist is left out.
func TestAgentHandsPodsTheirData(t *testing.T) {
	env := testenv.Start(t)
	rt := &dataRecorder{Runtime: fake.New(fake.Options{}), last: map[string]runtime.PodData{}}
	startAgent(t, node.Config{
		Master: env.URL, BootstrapTokenFile: bootstrapToken(t, env, "n1"), Name: "n1",
		StateDir: t.TempDir(), Runtime: rt, DataRefreshInterval: 300 * time.Millisecond,
	})
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces", env.AdminToken, map[string]any{"metadata": map[string]string{"name": "demo"}}), http.StatusCreated)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/secrets", env.AdminToken, map[string]any{
		"metadata": map[string]string{"name": "creds"}, "stringData": map[string]string{"password": "s3cr3t"}}), http.StatusCreated)
	configMap := func(mode string) map[string]any {
		return map[string]any{"metadata": map[string]string{"name": "settings"}, "data": map[string]string{"mode": mode}}
	}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/configmaps", env.AdminToken, configMap("blue")), http.StatusCreated)

	pod := boundPod("web", "n1", v1.EnvVar{Name: "P", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{
		LocalObjectReference: v1.LocalObjectReference{Name: "creds"}, Key: "password"}}})
	pod.Spec.Containers[0].EnvFrom = []v1.EnvFromSource{{SecretRef: &v1.SecretEnvSource{
		LocalObjectReference: v1.LocalObjectReference{Name: "absent"}, Optional: new(true)}}}
	pod.Spec.Volumes = []v1.Volume{{Name: "config", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{
		LocalObjectReference: v1.LocalObjectReference{Name: "settings"}}}}}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", env.AdminToken, pod), http.StatusCreated)

	mode := func() (string, string) {
		d, ok := rt.data("web")
		if !ok {
			return "", "not synced"
		}
		cm := d.ConfigMaps["settings"]
		if cm == nil {
			return "", "no config map"
		}
		return cm.Data["mode"], "mode " + cm.Data["mode"]
	}
	eventually(t, 10*time.Second, "pod synced with its data", func() (bool, string) {
		m, detail := mode()
		return m == "blue", detail
	})
	d, _ := rt.data("web")
	if s := d.Secrets["creds"]; s == nil || string(s.Data["password"]) != "s3cr3t" {
		t.Errorf("secret handed to the runtime: %+v", s)
	}
	if _, ok := d.Secrets["absent"]; ok || len(d.Secrets) != 1 {
		t.Errorf("secrets handed to the runtime: %v", d.Secrets)
	}

	mustCode(t, env.Do(t, "PUT", "/api/v1/namespaces/demo/configmaps/settings", env.AdminToken, configMap("green")), http.StatusOK)
	eventually(t, 10*time.Second, "the changed config map handed to the runtime", func() (bool, string) {
		m, detail := mode()
		return m == "green", detail
	})
}
