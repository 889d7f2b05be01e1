package core

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func validSecret() *v1.Secret {
	return &v1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"},
		Data:       map[string][]byte{"password": []byte("hunter2")},
	}
}

func TestSecretValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*v1.Secret)
		want   []string
	}{
		{"valid", func(*v1.Secret) {}, nil},
		{"stringData only", func(s *v1.Secret) { s.Data = nil; s.StringData = map[string]string{"user": "ada"} }, nil},
		{"dotted key", func(s *v1.Secret) { s.Data[".env.prod"] = nil }, nil},
		{"key with a slash", func(s *v1.Secret) { s.Data["a/b"] = nil }, []string{"data[a/b]"}},
		{"key of dots", func(s *v1.Secret) { s.Data[".."] = nil }, []string{"data[..]"}},
		{"bad name", func(s *v1.Secret) { s.Name = "DB" }, []string{"metadata.name"}},
		{"too large", func(s *v1.Secret) { s.Data["big"] = make([]byte, MaxSecretSize) }, []string{"data"}},
		{"tls without key", func(s *v1.Secret) { s.Type = v1.SecretTypeTLS; s.Data = map[string][]byte{"tls.crt": []byte("c")} }, []string{"data[tls.key]"}},
		{"tls", func(s *v1.Secret) {
			s.Type = v1.SecretTypeTLS
			s.Data = map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")}
		}, nil},
		{"docker config json missing", func(s *v1.Secret) { s.Type = v1.SecretTypeDockerConfigJson }, []string{"data[.dockerconfigjson]"}},
		{"docker config json not JSON", func(s *v1.Secret) {
			s.Type = v1.SecretTypeDockerConfigJson
			s.Data = map[string][]byte{".dockerconfigjson": []byte("hunter2-not-json")}
		}, []string{"data[.dockerconfigjson]"}},
		{"docker config json", func(s *v1.Secret) {
			s.Type = v1.SecretTypeDockerConfigJson
			s.Data = map[string][]byte{".dockerconfigjson": []byte(`{"auths":{}}`)}
		}, nil},
		{"basic auth without either key", func(s *v1.Secret) { s.Type = v1.SecretTypeBasicAuth; s.Data = nil }, []string{"data[username]", "data[password]"}},
		{"ssh auth without key", func(s *v1.Secret) { s.Type = v1.SecretTypeSSHAuth }, []string{"data[ssh-privatekey]"}},
		{"service account token without its account", func(s *v1.Secret) { s.Type = v1.SecretTypeServiceAccountToken },
			[]string{"metadata.annotations[kubernetes.io/service-account.name]"}},
		{"a type of one's own", func(s *v1.Secret) { s.Type = "example.com/thing" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSecret()
			tt.mutate(s)
			SecretStrategy{}.PrepareForCreate(s)
			errs := SecretStrategy{}.Validate(s)
			assertPaths(t, errs, tt.want...)
			if agg := errs.ToAggregate(); agg != nil && strings.Contains(agg.Error(), "hunter2") {
				t.Errorf("an error shows the secret's value: %v", errs)
			}
		})
	}
}

// stringData is write-only: it is merged into data (winning) and never
// stored; a secret without a type is Opaque.
func TestSecretPrepareForCreate(t *testing.T) {
	s := validSecret()
	s.StringData = map[string]string{"password": "new", "user": "ada"}
	SecretStrategy{}.PrepareForCreate(s)
	if s.StringData != nil || string(s.Data["password"]) != "new" || string(s.Data["user"]) != "ada" || s.Type != v1.SecretTypeOpaque {
		t.Fatalf("prepared: %+v", s)
	}
}

func TestSecretValidateUpdate(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name        string
		old, mutate func(*v1.Secret)
		want        []string
	}{
		{"new data", nil, func(s *v1.Secret) { s.Data["password"] = []byte("x") }, nil},
		{"new type", nil, func(s *v1.Secret) { s.Type = "example.com/other" }, []string{"type"}},
		{"immutable data", func(s *v1.Secret) { s.Immutable = &yes }, func(s *v1.Secret) { s.Data["password"] = []byte("x") }, []string{"data"}},
		{"immutable by stringData", func(s *v1.Secret) { s.Immutable = &yes }, func(s *v1.Secret) { s.StringData = map[string]string{"password": "x"} }, []string{"data"}},
		{"immutable made mutable", func(s *v1.Secret) { s.Immutable = &yes }, func(s *v1.Secret) { s.Immutable = &no }, []string{"immutable"}},
		{"immutable, labels change", func(s *v1.Secret) { s.Immutable = &yes }, func(s *v1.Secret) { s.Labels = map[string]string{"a": "b"} }, nil},
		{"made immutable", nil, func(s *v1.Secret) { s.Immutable = &yes }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := validSecret()
			if tt.old != nil {
				tt.old(old)
			}
			SecretStrategy{}.PrepareForCreate(old)
			old.ResourceVersion = "3"
			s := old.DeepCopy()
			tt.mutate(s)
			SecretStrategy{}.PrepareForUpdate(s, old)
			assertPaths(t, SecretStrategy{}.ValidateUpdate(s, old), tt.want...)
		})
	}
}

func TestRedactSecret(t *testing.T) {
	s := validSecret()
	s.Annotations = map[string]string{v1.LastAppliedConfigAnnotation: `{"data":{"password":"aHVudGVyMg=="}}`, "team": "db"}
	RedactSecret(s)
	if s.Data != nil || s.Annotations[v1.LastAppliedConfigAnnotation] != "" || s.Annotations["team"] != "db" || s.Name != "db" {
		t.Fatalf("redacted: %+v", s)
	}
}

func TestSecretTableRow(t *testing.T) {
	s := validSecret()
	SecretStrategy{}.PrepareForCreate(s)
	row := SecretStrategy{}.TableRow(s)
	if row[0] != "db" || row[1] != "Opaque" || row[2] != int64(1) {
		t.Fatalf("row %v", row)
	}
}

func TestConfigMapValidate(t *testing.T) {
	yes := true
	tests := []struct {
		name   string
		cm     v1.ConfigMap
		update func(*v1.ConfigMap)
		want   []string
	}{
		{"valid", v1.ConfigMap{Data: map[string]string{"app.properties": "a=b"}, BinaryData: map[string][]byte{"logo.png": {1}}}, nil, nil},
		{"bad key", v1.ConfigMap{Data: map[string]string{"a b": ""}}, nil, []string{"data[a b]"}},
		{"bad binary key", v1.ConfigMap{BinaryData: map[string][]byte{"a:b": nil}}, nil, []string{"binaryData[a:b]"}},
		{"key in both", v1.ConfigMap{Data: map[string]string{"k": ""}, BinaryData: map[string][]byte{"k": nil}}, nil, []string{"data[k]"}},
		{"too large", v1.ConfigMap{Data: map[string]string{"a": strings.Repeat("x", MaxSecretSize/2+1)}, BinaryData: map[string][]byte{"b": make([]byte, MaxSecretSize/2)}}, nil, []string{"[]"}},
		{"immutable data", v1.ConfigMap{Data: map[string]string{"k": "v"}, Immutable: &yes}, func(cm *v1.ConfigMap) { cm.Data["k"] = "w" }, []string{"data"}},
		{"immutable binary data", v1.ConfigMap{BinaryData: map[string][]byte{"k": {1}}, Immutable: &yes}, func(cm *v1.ConfigMap) { cm.BinaryData["k"] = []byte{2} }, []string{"binaryData"}},
		{"immutable made mutable", v1.ConfigMap{Immutable: &yes}, func(cm *v1.ConfigMap) { cm.Immutable = nil }, []string{"immutable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cm := tt.cm.DeepCopy()
			cm.ObjectMeta = metav1.ObjectMeta{Name: "web", Namespace: "shop"}
			if tt.update == nil {
				assertPaths(t, ConfigMapStrategy{}.Validate(cm), tt.want...)
				return
			}
			cm.ResourceVersion = "3"
			updated := cm.DeepCopy()
			tt.update(updated)
			ConfigMapStrategy{}.PrepareForUpdate(updated, cm)
			assertPaths(t, ConfigMapStrategy{}.ValidateUpdate(updated, cm), tt.want...)
		})
	}
}

func TestPodReferences(t *testing.T) {
	pod := &v1.Pod{Spec: v1.PodSpec{
		ImagePullSecrets: []v1.LocalObjectReference{{Name: "pull"}},
		Volumes: []v1.Volume{
			{Name: "a", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "vol"}}},
			{Name: "b", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cmvol"}}}},
			{Name: "c", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{
				{Secret: &v1.SecretProjection{LocalObjectReference: v1.LocalObjectReference{Name: "proj"}}},
				{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "cmproj"}}},
			}}}},
		},
		InitContainers: []v1.Container{{EnvFrom: []v1.EnvFromSource{{SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "initfrom"}}}}}},
		Containers: []v1.Container{{
			Env: []v1.EnvVar{
				{Name: "A", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "env"}, Key: "k"}}},
				{Name: "B", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "cmenv"}, Key: "k"}}},
			},
			EnvFrom: []v1.EnvFromSource{{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "cmfrom"}}}},
		}},
	}}
	for _, name := range []string{"pull", "vol", "proj", "initfrom", "env"} {
		if !PodReferencesSecret(pod, name) {
			t.Errorf("secret %q not found", name)
		}
	}
	for _, name := range []string{"cmvol", "cmproj", "cmenv", "cmfrom"} {
		if !PodReferencesConfigMap(pod, name) {
			t.Errorf("config map %q not found", name)
		}
	}
	for _, name := range []string{"cmvol", "other"} {
		if PodReferencesSecret(pod, name) {
			t.Errorf("secret %q found", name)
		}
	}
	if PodReferencesConfigMap(pod, "vol") {
		t.Error("a secret's name found as a config map")
	}
}
