package core

import (
	"maps"
	"reflect"
	"slices"

	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ConfigMapStrategy holds the rules of config maps.
type ConfigMapStrategy struct{}

var (
	_ generic.Strategy       = ConfigMapStrategy{}
	_ generic.TableConvertor = ConfigMapStrategy{}
)

// New returns an empty config map.
func (ConfigMapStrategy) New() runtime.Object { return &v1.ConfigMap{} }

// NewList returns an empty config map list.
func (ConfigMapStrategy) NewList() runtime.Object { return &v1.ConfigMapList{} }

// NamespaceScoped reports true.
func (ConfigMapStrategy) NamespaceScoped() bool { return true }

// HasStatus reports false: a config map has no status.
func (ConfigMapStrategy) HasStatus() bool { return false }

// PrepareForCreate does nothing: a config map is stored as written.
func (ConfigMapStrategy) PrepareForCreate(runtime.Object) {}

// PrepareForUpdate keeps the old system metadata.
func (ConfigMapStrategy) PrepareForUpdate(obj, old runtime.Object) {
	keepSystemMeta(&obj.(*v1.ConfigMap).ObjectMeta, &old.(*v1.ConfigMap).ObjectMeta)
}

// PrepareForStatusUpdate does nothing: config maps have no status.
func (ConfigMapStrategy) PrepareForStatusUpdate(obj, old runtime.Object) {}

// Validate checks a new config map: Kubernetes' ValidateConfigMap.
func (ConfigMapStrategy) Validate(obj runtime.Object) field.ErrorList {
	return validateConfigMap(obj.(*v1.ConfigMap))
}

// ValidateUpdate checks cm as a replacement of old: an immutable config
// map's data never changes.
func (ConfigMapStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	cm, o := obj.(*v1.ConfigMap), old.(*v1.ConfigMap)
	allErrs := apivalidation.ValidateObjectMetaUpdate(&cm.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))
	if isImmutable(o.Immutable) {
		if !isImmutable(cm.Immutable) {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !reflect.DeepEqual(cm.Data, o.Data) {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
		if !reflect.DeepEqual(cm.BinaryData, o.BinaryData) {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("binaryData"), "field is immutable when `immutable` is set"))
		}
	}
	return append(allErrs, validateConfigMap(cm)...)
}

func validateConfigMap(cm *v1.ConfigMap) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(&cm.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	dataPath, binaryPath := field.NewPath("data"), field.NewPath("binaryData")
	total := 0
	for _, key := range sortedKeys(cm.Data) {
		for _, msg := range validation.IsConfigMapKey(key) {
			allErrs = append(allErrs, field.Invalid(dataPath.Key(key), key, msg))
		}
		if _, dup := cm.BinaryData[key]; dup {
			allErrs = append(allErrs, field.Invalid(dataPath.Key(key), key, "duplicate of key present in binaryData"))
		}
		total += len(cm.Data[key])
	}
	for _, key := range sortedKeys(cm.BinaryData) {
		for _, msg := range validation.IsConfigMapKey(key) {
			allErrs = append(allErrs, field.Invalid(binaryPath.Key(key), key, msg))
		}
		total += len(cm.BinaryData[key])
	}
	if total > MaxSecretSize {
		allErrs = append(allErrs, field.TooLong(field.NewPath(""), "", MaxSecretSize))
	}
	return allErrs
}

// sortedKeys returns the keys of m in order, so that errors come out the
// same on every call.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// Fields returns the config map fields selectors match.
func (ConfigMapStrategy) Fields(obj runtime.Object) fields.Set {
	cm := obj.(*v1.ConfigMap)
	return fields.Set{"metadata.name": cm.Name, "metadata.namespace": cm.Namespace}
}

// TableColumns of config maps, as kubectl shows them.
func (ConfigMapStrategy) TableColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameCol,
		col("Data", "string", 0, "The number of entries in the config map"), ageCol}
}

// TableRow of a config map.
func (ConfigMapStrategy) TableRow(obj runtime.Object) []any {
	cm := obj.(*v1.ConfigMap)
	return []any{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), age(cm.CreationTimestamp)}
}
