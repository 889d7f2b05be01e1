package core

import (
	"encoding/json"
	"reflect"

	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MaxSecretSize bounds the data of a secret or a config map, as
// Kubernetes' core.MaxSecretSize (1 MiB).
const MaxSecretSize = 1 << 20

// redactedValue stands for secret content in an error, as kube-apiserver
// writes it: an error message is logged and shown, a secret never.
const redactedValue = "<secret contents redacted>"

// SecretStrategy holds the rules of secrets.
type SecretStrategy struct{}

var (
	_ generic.Strategy       = SecretStrategy{}
	_ generic.TableConvertor = SecretStrategy{}
)

// New returns an empty secret.
func (SecretStrategy) New() runtime.Object { return &v1.Secret{} }

// NewList returns an empty secret list.
func (SecretStrategy) NewList() runtime.Object { return &v1.SecretList{} }

// NamespaceScoped reports true.
func (SecretStrategy) NamespaceScoped() bool { return true }

// HasStatus reports false: a secret has no status.
func (SecretStrategy) HasStatus() bool { return false }

// PrepareForCreate folds stringData into data and defaults the type.
func (SecretStrategy) PrepareForCreate(obj runtime.Object) {
	prepareSecret(obj.(*v1.Secret))
}

// PrepareForUpdate keeps the old system metadata, folds stringData into
// data and defaults the type.
func (SecretStrategy) PrepareForUpdate(obj, old runtime.Object) {
	s := obj.(*v1.Secret)
	keepSystemMeta(&s.ObjectMeta, &old.(*v1.Secret).ObjectMeta)
	prepareSecret(s)
}

// prepareSecret does what Kubernetes' conversion and defaults do: the
// write-only stringData is merged into data (its values win) and dropped,
// and a secret without a type is Opaque.
func prepareSecret(s *v1.Secret) {
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = make(map[string][]byte, len(s.StringData))
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	s.StringData = nil
	if s.Type == "" {
		s.Type = v1.SecretTypeOpaque
	}
}

// PrepareForStatusUpdate does nothing: secrets have no status.
func (SecretStrategy) PrepareForStatusUpdate(obj, old runtime.Object) {}

// Validate checks a new secret: Kubernetes' ValidateSecret.
func (SecretStrategy) Validate(obj runtime.Object) field.ErrorList {
	return validateSecret(obj.(*v1.Secret))
}

// ValidateUpdate checks secret as a replacement of old: the type never
// changes, and an immutable secret's data neither.
func (SecretStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	s, o := obj.(*v1.Secret), old.(*v1.Secret)
	allErrs := apivalidation.ValidateObjectMetaUpdate(&s.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))
	if s.Type != o.Type {
		allErrs = append(allErrs, field.Invalid(field.NewPath("type"), s.Type, apivalidation.FieldImmutableErrorMsg))
	}
	if isImmutable(o.Immutable) {
		if !isImmutable(s.Immutable) {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !reflect.DeepEqual(s.Data, o.Data) {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
	}
	return append(allErrs, validateSecret(s)...)
}

func isImmutable(b *bool) bool { return b != nil && *b }

func validateSecret(s *v1.Secret) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(&s.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	dataPath := field.NewPath("data")
	total := 0
	for _, key := range sortedKeys(s.Data) {
		for _, msg := range validation.IsConfigMapKey(key) {
			allErrs = append(allErrs, field.Invalid(dataPath.Key(key), key, msg))
		}
		total += len(s.Data[key])
	}
	if total > MaxSecretSize {
		allErrs = append(allErrs, field.TooLong(dataPath, "", MaxSecretSize))
	}
	required := func(keys ...string) {
		for _, k := range keys {
			if _, ok := s.Data[k]; !ok {
				allErrs = append(allErrs, field.Required(dataPath.Key(k), ""))
			}
		}
	}
	wellFormedJSON := func(key string) {
		data, ok := s.Data[key]
		if !ok {
			required(key)
			return
		}
		if err := json.Unmarshal(data, &map[string]any{}); err != nil {
			allErrs = append(allErrs, field.Invalid(dataPath.Key(key), redactedValue, err.Error()))
		}
	}
	switch s.Type {
	case v1.SecretTypeServiceAccountToken:
		if s.Annotations[v1.ServiceAccountNameKey] == "" {
			allErrs = append(allErrs, field.Required(field.NewPath("metadata", "annotations").Key(v1.ServiceAccountNameKey), ""))
		}
	case v1.SecretTypeDockercfg:
		wellFormedJSON(v1.DockerConfigKey)
	case v1.SecretTypeDockerConfigJson:
		wellFormedJSON(v1.DockerConfigJsonKey)
	case v1.SecretTypeBasicAuth:
		_, user := s.Data[v1.BasicAuthUsernameKey]
		_, password := s.Data[v1.BasicAuthPasswordKey]
		if !user && !password {
			required(v1.BasicAuthUsernameKey, v1.BasicAuthPasswordKey)
		}
	case v1.SecretTypeSSHAuth:
		if len(s.Data[v1.SSHAuthPrivateKey]) == 0 {
			allErrs = append(allErrs, field.Required(dataPath.Key(v1.SSHAuthPrivateKey), ""))
		}
	case v1.SecretTypeTLS:
		required(v1.TLSCertKey, v1.TLSPrivateKeyKey)
	}
	return allErrs
}

// Fields returns the secret fields selectors match: its name, namespace
// and type (kubectl get secrets --field-selector type=...).
func (SecretStrategy) Fields(obj runtime.Object) fields.Set {
	s := obj.(*v1.Secret)
	return fields.Set{"metadata.name": s.Name, "metadata.namespace": s.Namespace, "type": string(s.Type)}
}

// TableColumns of secrets, as kubectl shows them.
func (SecretStrategy) TableColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameCol,
		col("Type", "string", 0, "The type of the secret"),
		col("Data", "string", 0, "The number of entries in the secret"), ageCol}
}

// TableRow of a secret: its number of keys, never a value.
func (SecretStrategy) TableRow(obj runtime.Object) []any {
	s := obj.(*v1.Secret)
	return []any{s.Name, string(s.Type), int64(len(s.Data)), age(s.CreationTimestamp)}
}

// RedactSecret strips from a secret all that is not its name and
// metadata: its data, and the last-applied configuration kubectl apply
// leaves in an annotation (which holds the data too). It is what a
// project's viewers see of a secret, as OpenShift shows them.
func RedactSecret(obj runtime.Object) {
	s, ok := obj.(*v1.Secret)
	if !ok {
		return
	}
	s.Data, s.StringData = nil, nil
	if _, ok := s.Annotations[v1.LastAppliedConfigAnnotation]; ok {
		annotations := make(map[string]string, len(s.Annotations))
		for k, v := range s.Annotations {
			if k != v1.LastAppliedConfigAnnotation {
				annotations[k] = v
			}
		}
		s.Annotations = annotations
	}
	s.ManagedFields = nil
}
