package core

import (
	"path"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The rules of what a pod takes from secrets and config maps, with
// Kubernetes' messages (pkg/apis/core/validation): the keys named in env,
// the envFrom sources and the files of secret and configMap volumes. The
// node checks the file paths again before it writes them.

// fileModeErrorMsg is Kubernetes' message for a file mode out of range.
const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

// defaultVolumeFileMode is the mode of a secret's or config map's files
// when the volume says none, as Kubernetes defaults it.
const defaultVolumeFileMode int32 = 0o644

// setDataVolumeDefaults gives secret and configMap volumes Kubernetes'
// defaultMode.
func setDataVolumeDefaults(vol *v1.Volume) {
	switch {
	case vol.Secret != nil && vol.Secret.DefaultMode == nil:
		mode := defaultVolumeFileMode
		vol.Secret.DefaultMode = &mode
	case vol.ConfigMap != nil && vol.ConfigMap.DefaultMode == nil:
		mode := defaultVolumeFileMode
		vol.ConfigMap.DefaultMode = &mode
	}
}

// validateKeyRef checks the secret or config map key an env var names.
func validateKeyRef(name, key string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	}
	if key == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("key"), ""))
	} else {
		allErrs = append(allErrs, invalidEach(fldPath.Child("key"), key, validation.IsConfigMapKey(key))...)
	}
	return allErrs
}

// validateEnvFrom checks a container's envFrom sources.
func validateEnvFrom(sources []v1.EnvFromSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, src := range sources {
		idxPath := fldPath.Index(i)
		if src.Prefix != "" {
			allErrs = append(allErrs, invalidEach(idxPath.Child("prefix"), src.Prefix, validation.IsEnvVarName(src.Prefix))...)
		}
		switch {
		case src.ConfigMapRef != nil && src.SecretRef != nil:
			allErrs = append(allErrs, field.Invalid(idxPath, "", "may not have more than one field specified at a time"))
		case src.ConfigMapRef != nil:
			allErrs = append(allErrs, validateRefName(src.ConfigMapRef.Name, idxPath.Child("configMapRef", "name"))...)
		case src.SecretRef != nil:
			allErrs = append(allErrs, validateRefName(src.SecretRef.Name, idxPath.Child("secretRef", "name"))...)
		default:
			allErrs = append(allErrs, field.Invalid(idxPath, "", "must specify one of: `configMapRef` or `secretRef`"))
		}
	}
	return allErrs
}

func validateRefName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return invalidEach(fldPath, name, validation.IsDNS1123Subdomain(name))
}

// validateDataVolume checks a secret or configMap volume: its defaultMode
// and the key, path and mode of each item.
func validateDataVolume(items []v1.KeyToPath, defaultMode *int32, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if defaultMode != nil && (*defaultMode < 0 || *defaultMode > 0o777) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("defaultMode"), *defaultMode, fileModeErrorMsg))
	}
	for i, it := range items {
		idxPath := fldPath.Child("items").Index(i)
		if it.Key == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("key"), ""))
		} else {
			allErrs = append(allErrs, invalidEach(idxPath.Child("key"), it.Key, validation.IsConfigMapKey(it.Key))...)
		}
		if it.Path == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("path"), ""))
		} else {
			allErrs = append(allErrs, validateLocalDescendingPath(it.Path, idxPath.Child("path"))...)
		}
		if it.Mode != nil && (*it.Mode < 0 || *it.Mode > 0o777) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("mode"), *it.Mode, fileModeErrorMsg))
		}
	}
	return allErrs
}

// validateLocalDescendingPath is Kubernetes' rule for a file inside a
// volume: relative, with no '..' element, not starting with '..'.
func validateLocalDescendingPath(p string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if path.IsAbs(p) {
		allErrs = append(allErrs, field.Invalid(fldPath, p, "must be a relative path"))
	}
	for _, part := range strings.Split(strings.ReplaceAll(p, `\`, "/"), "/") {
		if part == ".." {
			allErrs = append(allErrs, field.Invalid(fldPath, p, "must not contain '..'"))
			break
		}
	}
	if strings.HasPrefix(p, "..") {
		allErrs = append(allErrs, field.Invalid(fldPath, p, "must not start with '..'"))
	}
	return allErrs
}
