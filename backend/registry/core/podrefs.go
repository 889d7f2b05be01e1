package core

import v1 "k8s.io/api/core/v1"

// PodReferencesSecret reports whether pod uses the secret name of its
// namespace: in an env or envFrom of any container, a secret or projected
// volume, or its image pull secrets. A node may read the secrets of the
// pods bound to it, and those only (Kubernetes' Node authorizer).
func PodReferencesSecret(pod *v1.Pod, name string) bool {
	for _, ref := range pod.Spec.ImagePullSecrets {
		if ref.Name == name {
			return true
		}
	}
	for _, vol := range pod.Spec.Volumes {
		if vol.Secret != nil && vol.Secret.SecretName == name {
			return true
		}
		if p := vol.Projected; p != nil {
			for _, src := range p.Sources {
				if src.Secret != nil && src.Secret.Name == name {
					return true
				}
			}
		}
	}
	return anyContainer(pod, func(env []v1.EnvVar, envFrom []v1.EnvFromSource) bool {
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == name {
				return true
			}
		}
		for _, e := range envFrom {
			if e.SecretRef != nil && e.SecretRef.Name == name {
				return true
			}
		}
		return false
	})
}

// PodReferencesConfigMap reports whether pod uses the config map name of
// its namespace: in an env or envFrom of any container, or a configMap or
// projected volume.
func PodReferencesConfigMap(pod *v1.Pod, name string) bool {
	for _, vol := range pod.Spec.Volumes {
		if vol.ConfigMap != nil && vol.ConfigMap.Name == name {
			return true
		}
		if p := vol.Projected; p != nil {
			for _, src := range p.Sources {
				if src.ConfigMap != nil && src.ConfigMap.Name == name {
					return true
				}
			}
		}
	}
	return anyContainer(pod, func(env []v1.EnvVar, envFrom []v1.EnvFromSource) bool {
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == name {
				return true
			}
		}
		for _, e := range envFrom {
			if e.ConfigMapRef != nil && e.ConfigMapRef.Name == name {
				return true
			}
		}
		return false
	})
}

// anyContainer reports whether uses holds for the environment of any
// container of pod: init, app or ephemeral.
func anyContainer(pod *v1.Pod, uses func([]v1.EnvVar, []v1.EnvFromSource) bool) bool {
	for _, c := range pod.Spec.InitContainers {
		if uses(c.Env, c.EnvFrom) {
			return true
		}
	}
	for _, c := range pod.Spec.Containers {
		if uses(c.Env, c.EnvFrom) {
			return true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if uses(c.Env, c.EnvFrom) {
			return true
		}
	}
	return false
}
