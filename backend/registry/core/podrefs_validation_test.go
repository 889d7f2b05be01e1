package core

import (
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestPodDataValidation(t *testing.T) {
	mode := func(m int32) *int32 { return &m }
	secretVol := func(items []v1.KeyToPath, defaultMode *int32) v1.VolumeSource {
		return v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "db", Items: items, DefaultMode: defaultMode}}
	}
	tests := []struct {
		name   string
		mutate func(*v1.Pod)
		want   []string
	}{
		{"keyRefs, envFrom and data volumes", func(p *v1.Pod) {
			c := &p.Spec.Containers[0]
			c.Env = append(c.Env,
				v1.EnvVar{Name: "P", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "db"}, Key: "password"}}},
				v1.EnvVar{Name: "M", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Key: "mode"}}})
			c.EnvFrom = []v1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}}}}
			p.Spec.Volumes[0].VolumeSource = secretVol([]v1.KeyToPath{{Key: "password", Path: "conf/pw", Mode: mode(0o400)}}, mode(0o640))
		}, nil},
		{"secretKeyRef without key", func(p *v1.Pod) {
			p.Spec.Containers[0].Env = []v1.EnvVar{{Name: "P", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "db"}}}}}
		}, []string{"spec.containers[0].env[0].valueFrom.secretKeyRef.key"}},
		{"configMapKeyRef without name, bad key", func(p *v1.Pod) {
			p.Spec.Containers[0].Env = []v1.EnvVar{{Name: "P", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{Key: "a/b"}}}}
		}, []string{"spec.containers[0].env[0].valueFrom.configMapKeyRef.name", "spec.containers[0].env[0].valueFrom.configMapKeyRef.key"}},
		{"envFrom with both and a bad prefix", func(p *v1.Pod) {
			p.Spec.Containers[0].EnvFrom = []v1.EnvFromSource{
				{Prefix: "1-", ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "c"}}, SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "s"}}},
				{},
			}
		}, []string{"spec.containers[0].envFrom[0].prefix", "spec.containers[0].envFrom[0]", "spec.containers[0].envFrom[1]"}},
		{"item escaping the volume", func(p *v1.Pod) {
			p.Spec.Volumes[0].VolumeSource = secretVol([]v1.KeyToPath{{Key: "k", Path: "../../etc/passwd"}, {Key: "k", Path: "/abs"}, {Key: "", Path: "..data"}}, nil)
		}, []string{"spec.volumes[0].secret.items[0].path", "spec.volumes[0].secret.items[1].path", "spec.volumes[0].secret.items[2].key", "spec.volumes[0].secret.items[2].path"}},
		{"modes out of range", func(p *v1.Pod) {
			p.Spec.Volumes[0].VolumeSource = v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"},
				DefaultMode: mode(0o1777), Items: []v1.KeyToPath{{Key: "k", Path: "k", Mode: mode(-1)}}}}
		}, []string{"spec.volumes[0].configMap.defaultMode", "spec.volumes[0].configMap.items[0].mode"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := validPod()
			tt.mutate(pod)
			var got []string
			for _, e := range (PodStrategy{}).Validate(pod) {
				if !slices.Contains(got, e.Field) {
					got = append(got, e.Field)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors on %q, want %q", got, tt.want)
			}
		})
	}
}

// A secret or configMap volume without a defaultMode gets 0644, as in
// Kubernetes.
func TestDataVolumeDefaultMode(t *testing.T) {
	pod := validPod()
	pod.Spec.Volumes = append(pod.Spec.Volumes,
		v1.Volume{Name: "s", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "db"}}},
		v1.Volume{Name: "c", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}}}})
	PodStrategy{}.PrepareForCreate(pod)
	if m := pod.Spec.Volumes[1].Secret.DefaultMode; m == nil || *m != 0o644 {
		t.Errorf("secret volume defaultMode %v", m)
	}
	if m := pod.Spec.Volumes[2].ConfigMap.DefaultMode; m == nil || *m != 0o644 {
		t.Errorf("configMap volume defaultMode %v", m)
	}
}
