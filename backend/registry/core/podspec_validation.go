package core

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedRestartPolicies = []v1.RestartPolicy{v1.RestartPolicyAlways, v1.RestartPolicyOnFailure, v1.RestartPolicyNever}
	supportedDNSPolicies     = []v1.DNSPolicy{v1.DNSClusterFirst, v1.DNSClusterFirstWithHostNet, v1.DNSDefault, v1.DNSNone}
	supportedTaintEffects    = []v1.TaintEffect{v1.TaintEffectNoSchedule, v1.TaintEffectPreferNoSchedule, v1.TaintEffectNoExecute}
)

// validatePodSpec checks a pod spec, of a pod or of a template, that
// defaults have already been applied to.
func validatePodSpec(spec *v1.PodSpec, fldPath *field.Path) field.ErrorList {
	volumes, allErrs := validateVolumes(spec.Volumes, fldPath.Child("volumes"))

	if len(spec.Containers) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("containers"), ""))
	}
	names := map[string]bool{}
	allErrs = append(allErrs, validateContainers(spec.InitContainers, volumes, names, spec.HostNetwork, fldPath.Child("initContainers"))...)
	allErrs = append(allErrs, validateContainers(spec.Containers, volumes, names, spec.HostNetwork, fldPath.Child("containers"))...)
	allErrs = append(allErrs, validateHostPortsUnique(spec.Containers, fldPath.Child("containers"))...)

	allErrs = append(allErrs, validateEnum(spec.RestartPolicy, supportedRestartPolicies, fldPath.Child("restartPolicy"))...)
	allErrs = append(allErrs, validateEnum(spec.DNSPolicy, supportedDNSPolicies, fldPath.Child("dnsPolicy"))...)
	allErrs = append(allErrs, metav1validation.ValidateLabels(spec.NodeSelector, fldPath.Child("nodeSelector"))...)
	allErrs = append(allErrs, validateOptionalName(spec.NodeName, validation.IsDNS1123Subdomain, fldPath.Child("nodeName"))...)
	allErrs = append(allErrs, validateOptionalName(spec.SchedulerName, validation.IsDNS1123Subdomain, fldPath.Child("schedulerName"))...)
	allErrs = append(allErrs, validateOptionalName(spec.ServiceAccountName, validation.IsDNS1123Subdomain, fldPath.Child("serviceAccountName"))...)
	allErrs = append(allErrs, validateOptionalName(spec.Hostname, validation.IsDNS1123Label, fldPath.Child("hostname"))...)
	allErrs = append(allErrs, validateOptionalName(spec.Subdomain, validation.IsDNS1123Label, fldPath.Child("subdomain"))...)
	if spec.TerminationGracePeriodSeconds != nil {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(*spec.TerminationGracePeriodSeconds, fldPath.Child("terminationGracePeriodSeconds"))...)
	}
	if ads := spec.ActiveDeadlineSeconds; ads != nil && (*ads < 1 || *ads > math.MaxInt32) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), *ads, validation.InclusiveRangeError(1, math.MaxInt32)))
	}
	allErrs = append(allErrs, validateTolerations(spec.Tolerations, fldPath.Child("tolerations"))...)
	return allErrs
}

// validateEnum requires value to be one of supported.
func validateEnum[T ~string](value T, supported []T, fldPath *field.Path) field.ErrorList {
	if value == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	for _, s := range supported {
		if value == s {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(fldPath, value, supported)}
}

// validateOptionalEnum is validateEnum for a field that may stay empty.
func validateOptionalEnum[T ~string](value T, supported []T, fldPath *field.Path) field.ErrorList {
	if value == "" {
		return nil
	}
	return validateEnum(value, supported, fldPath)
}

// validateOptionalName checks name with isValid when it is set.
func validateOptionalName(name string, isValid func(string) []string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return nil
	}
	return invalidEach(fldPath, name, isValid(name))
}

// invalidEach turns the messages of a util/validation check into errors.
func invalidEach(fldPath *field.Path, value any, msgs []string) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range msgs {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

// validateVolumes checks the pod's volumes and returns the set of their
// names, which volume mounts must refer to.
func validateVolumes(volumes []v1.Volume, fldPath *field.Path) (map[string]bool, field.ErrorList) {
	var allErrs field.ErrorList
	names := map[string]bool{}
	for i := range volumes {
		vol := &volumes[i]
		idxPath := fldPath.Index(i)
		namePath := idxPath.Child("name")
		switch {
		case vol.Name == "":
			allErrs = append(allErrs, field.Required(namePath, ""))
		case names[vol.Name]:
			allErrs = append(allErrs, field.Duplicate(namePath, vol.Name))
		default:
			allErrs = append(allErrs, invalidEach(namePath, vol.Name, validation.IsDNS1123Label(vol.Name))...)
		}
		if vol.Name != "" {
			names[vol.Name] = true
		}
		allErrs = append(allErrs, validateVolumeSource(&vol.VolumeSource, idxPath)...)
	}
	return names, allErrs
}

func validateVolumeSource(src *v1.VolumeSource, fldPath *field.Path) field.ErrorList {
	sources := volumeSources(src)
	switch {
	case len(sources) == 0:
		return field.ErrorList{field.Required(fldPath, "must specify a volume type")}
	case len(sources) > 1:
		return field.ErrorList{field.Forbidden(fldPath, "may not specify more than 1 volume type, found "+strings.Join(sources, ", "))}
	}
	var allErrs field.ErrorList
	switch {
	case src.HostPath != nil && src.HostPath.Path == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("hostPath", "path"), ""))
	case src.PersistentVolumeClaim != nil && src.PersistentVolumeClaim.ClaimName == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("persistentVolumeClaim", "claimName"), ""))
	case src.Secret != nil && src.Secret.SecretName == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("secret", "secretName"), ""))
	case src.Secret != nil:
		allErrs = append(allErrs, validateDataVolume(src.Secret.Items, src.Secret.DefaultMode, fldPath.Child("secret"))...)
	case src.ConfigMap != nil && src.ConfigMap.Name == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("configMap", "name"), ""))
	case src.ConfigMap != nil:
		allErrs = append(allErrs, validateDataVolume(src.ConfigMap.Items, src.ConfigMap.DefaultMode, fldPath.Child("configMap"))...)
	case src.EmptyDir != nil && src.EmptyDir.SizeLimit != nil && src.EmptyDir.SizeLimit.Sign() < 0:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("emptyDir", "sizeLimit"), src.EmptyDir.SizeLimit.String(), apivalidation.IsNegativeErrorMsg))
	}
	return allErrs
}

// volumeSources returns the JSON names of the sources a volume sets. Every
// source is a pointer field, so new kinds of volume are counted too.
func volumeSources(src *v1.VolumeSource) []string {
	return setPointerFields(reflect.ValueOf(src).Elem())
}

// setPointerFields returns the JSON names of the non-nil pointer fields of
// the struct v.
func setPointerFields(v reflect.Value) []string {
	var names []string
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			names = append(names, jsonName(v.Type().Field(i)))
		}
	}
	return names
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

func validateTolerations(tolerations []v1.Toleration, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, t := range tolerations {
		idxPath := fldPath.Index(i)
		if t.Key != "" {
			allErrs = append(allErrs, invalidEach(idxPath.Child("key"), t.Key, content.IsLabelKey(t.Key))...)
		}
		switch t.Operator {
		case v1.TolerationOpEqual, "":
			if t.Key == "" {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
			}
			allErrs = append(allErrs, invalidEach(idxPath.Child("value"), t.Value, content.IsLabelValue(t.Value))...)
		case v1.TolerationOpExists:
			if t.Value != "" {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("value"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("operator"), t.Operator, []v1.TolerationOperator{v1.TolerationOpEqual, v1.TolerationOpExists}))
		}
		if t.TolerationSeconds != nil && t.Effect != v1.TaintEffectNoExecute {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("effect"), t.Effect, fmt.Sprintf("effect must be '%s' when `tolerationSeconds` is set", v1.TaintEffectNoExecute)))
		}
		allErrs = append(allErrs, validateOptionalEnum(t.Effect, supportedTaintEffects, idxPath.Child("effect"))...)
	}
	return allErrs
}
