package core

import (
	"fmt"
	"sort"
	"strings"

	"github.com/berthpaas/berth/backend/quota"
	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ResourceQuotaStrategy holds the rules of resource quotas: spec.hard is
// the project's cluster admins' to set, status.used the master's to keep
// (the ResourceQuota admission and the resource quota controller).
type ResourceQuotaStrategy struct{}

var (
	_ generic.Strategy       = ResourceQuotaStrategy{}
	_ generic.TableConvertor = ResourceQuotaStrategy{}
)

// New returns an empty quota.
func (ResourceQuotaStrategy) New() runtime.Object { return &v1.ResourceQuota{} }

// NewList returns an empty quota list.
func (ResourceQuotaStrategy) NewList() runtime.Object { return &v1.ResourceQuotaList{} }

// NamespaceScoped reports true.
func (ResourceQuotaStrategy) NamespaceScoped() bool { return true }

// HasStatus reports true: status.used is written through status.
func (ResourceQuotaStrategy) HasStatus() bool { return true }

// PrepareForCreate clears what the writer may not set: the use is the
// master's to count.
func (ResourceQuotaStrategy) PrepareForCreate(obj runtime.Object) {
	q := obj.(*v1.ResourceQuota)
	q.Status = v1.ResourceQuotaStatus{}
}

// PrepareForUpdate keeps the old status and system metadata.
func (ResourceQuotaStrategy) PrepareForUpdate(obj, old runtime.Object) {
	q, o := obj.(*v1.ResourceQuota), old.(*v1.ResourceQuota)
	q.Status = *o.Status.DeepCopy()
	keepSystemMeta(&q.ObjectMeta, &o.ObjectMeta)
}

// PrepareForStatusUpdate keeps the old spec and metadata.
func (ResourceQuotaStrategy) PrepareForStatusUpdate(obj, old runtime.Object) {
	q, o := obj.(*v1.ResourceQuota), old.(*v1.ResourceQuota)
	q.Spec = *o.Spec.DeepCopy()
	keepMetaForStatus(&q.ObjectMeta, &o.ObjectMeta)
}

// Validate checks a new quota.
func (ResourceQuotaStrategy) Validate(obj runtime.Object) field.ErrorList {
	q := obj.(*v1.ResourceQuota)
	allErrs := apivalidation.ValidateObjectMeta(&q.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateQuota(q)...)
}

// ValidateUpdate checks q as a replacement of old.
func (ResourceQuotaStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	q, o := obj.(*v1.ResourceQuota), old.(*v1.ResourceQuota)
	allErrs := apivalidation.ValidateObjectMetaUpdate(&q.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateQuota(q)...)
}

func validateQuota(q *v1.ResourceQuota) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, validateQuotaResources(q.Spec.Hard, field.NewPath("spec", "hard"))...)
	allErrs = append(allErrs, validateQuotaResources(q.Status.Hard, field.NewPath("status", "hard"))...)
	allErrs = append(allErrs, validateQuotaResources(q.Status.Used, field.NewPath("status", "used"))...)
	if len(q.Spec.Scopes) > 0 || q.Spec.ScopeSelector != nil {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "scopes"), "quota scopes are not supported by this server"))
	}
	return allErrs
}

// quotaResources are the names a quota may limit besides count/<resource>.
var quotaResources = map[v1.ResourceName]bool{
	v1.ResourceCPU: true, v1.ResourceMemory: true,
	v1.ResourceRequestsCPU: true, v1.ResourceRequestsMemory: true, v1.ResourceLimitsCPU: true, v1.ResourceLimitsMemory: true,
	quota.Pods: true, quota.Services: true, quota.ServicesNodePorts: true, quota.ServicesLoadBalancers: true,
	quota.ReplicationControllers: true, quota.Secrets: true, quota.ConfigMaps: true,
}

func validateQuotaResources(l v1.ResourceList, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := make([]string, 0, len(l))
	for name := range l {
		names = append(names, string(name))
	}
	sort.Strings(names)
	for _, name := range names {
		q := l[v1.ResourceName(name)]
		p := path.Key(name)
		if !quotaResources[v1.ResourceName(name)] && !strings.HasPrefix(name, "count/") {
			allErrs = append(allErrs, field.NotSupported(p, name, []string{"pods", "services", "replicationcontrollers", "secrets", "configmaps",
				"services.nodeports", "services.loadbalancers", "cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "count/<resource>[.<group>]"}))
			continue
		}
		if q.Sign() < 0 {
			allErrs = append(allErrs, field.Invalid(p, q.String(), "must be greater than or equal to 0"))
		}
		if !isComputeResource(name) && q.MilliValue()%1000 != 0 {
			allErrs = append(allErrs, field.Invalid(p, q.String(), "must be an integer"))
		}
	}
	return allErrs
}

func isComputeResource(name string) bool {
	switch v1.ResourceName(name) {
	case v1.ResourceCPU, v1.ResourceMemory, v1.ResourceRequestsCPU, v1.ResourceRequestsMemory, v1.ResourceLimitsCPU, v1.ResourceLimitsMemory:
		return true
	}
	return false
}

// Fields returns the quota fields selectors match.
func (ResourceQuotaStrategy) Fields(obj runtime.Object) fields.Set {
	q := obj.(*v1.ResourceQuota)
	return fields.Set{"metadata.name": q.Name, "metadata.namespace": q.Namespace}
}

// TableColumns of quotas, as kubectl shows them: use against limits,
// requests and limits apart.
func (ResourceQuotaStrategy) TableColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameCol, ageCol,
		col("Request", "string", 0, "Used against hard, of what is not a limit"),
		col("Limit", "string", 0, "Used against hard, of limits.*")}
}

// TableRow of a quota.
func (ResourceQuotaStrategy) TableRow(obj runtime.Object) []any {
	q := obj.(*v1.ResourceQuota)
	var requests, limits []string
	names := make([]string, 0, len(q.Spec.Hard))
	for name := range q.Spec.Hard {
		names = append(names, string(name))
	}
	sort.Strings(names)
	for _, name := range names {
		hard, used := q.Spec.Hard[v1.ResourceName(name)], q.Status.Used[v1.ResourceName(name)]
		cell := fmt.Sprintf("%s: %s/%s", name, used.String(), hard.String())
		if strings.HasPrefix(name, "limits.") {
			limits = append(limits, cell)
		} else {
			requests = append(requests, cell)
		}
	}
	return []any{q.Name, age(q.CreationTimestamp), strings.Join(requests, ", "), strings.Join(limits, ", ")}
}

// LimitRangeStrategy holds the rules of limit ranges: the defaults and
// bounds of a project's containers, applied by the LimitRanger admission.
type LimitRangeStrategy struct{}

var (
	_ generic.Strategy       = LimitRangeStrategy{}
	_ generic.TableConvertor = LimitRangeStrategy{}
)

// New returns an empty limit range.
func (LimitRangeStrategy) New() runtime.Object { return &v1.LimitRange{} }

// NewList returns an empty limit range list.
func (LimitRangeStrategy) NewList() runtime.Object { return &v1.LimitRangeList{} }

// NamespaceScoped reports true.
func (LimitRangeStrategy) NamespaceScoped() bool { return true }

// HasStatus reports false.
func (LimitRangeStrategy) HasStatus() bool { return false }

// PrepareForCreate does nothing.
func (LimitRangeStrategy) PrepareForCreate(runtime.Object) {}

// PrepareForUpdate keeps the old system metadata.
func (LimitRangeStrategy) PrepareForUpdate(obj, old runtime.Object) {
	keepSystemMeta(&obj.(*v1.LimitRange).ObjectMeta, &old.(*v1.LimitRange).ObjectMeta)
}

// PrepareForStatusUpdate does nothing: limit ranges have no status.
func (LimitRangeStrategy) PrepareForStatusUpdate(obj, old runtime.Object) {}

// Validate checks a new limit range.
func (LimitRangeStrategy) Validate(obj runtime.Object) field.ErrorList {
	lr := obj.(*v1.LimitRange)
	allErrs := apivalidation.ValidateObjectMeta(&lr.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateLimitRange(lr)...)
}

// ValidateUpdate checks lr as a replacement of old.
func (LimitRangeStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	lr, o := obj.(*v1.LimitRange), old.(*v1.LimitRange)
	allErrs := apivalidation.ValidateObjectMetaUpdate(&lr.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateLimitRange(lr)...)
}

// validateLimitRange checks what Kubernetes' ValidateLimitRange checks
// of the container and pod limits Berth applies: known types, no
// negative amount, min ≤ defaultRequest ≤ default ≤ max.
func validateLimitRange(lr *v1.LimitRange) field.ErrorList {
	var allErrs field.ErrorList
	for i, item := range lr.Spec.Limits {
		p := field.NewPath("spec", "limits").Index(i)
		switch item.Type {
		case v1.LimitTypeContainer:
		case v1.LimitTypePod:
			if len(item.Default) > 0 || len(item.DefaultRequest) > 0 {
				allErrs = append(allErrs, field.Forbidden(p.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
		default:
			allErrs = append(allErrs, field.NotSupported(p.Child("type"), item.Type, []string{string(v1.LimitTypeContainer), string(v1.LimitTypePod)}))
			continue
		}
		for _, l := range []struct {
			name string
			list v1.ResourceList
		}{{"max", item.Max}, {"min", item.Min}, {"default", item.Default}, {"defaultRequest", item.DefaultRequest}, {"maxLimitRequestRatio", item.MaxLimitRequestRatio}} {
			for name, q := range l.list {
				if q.Sign() < 0 {
					allErrs = append(allErrs, field.Invalid(p.Child(l.name).Key(string(name)), q.String(), "must be greater than or equal to 0"))
				}
			}
		}
		for name, min := range item.Min {
			if max, ok := item.Max[name]; ok && min.Cmp(max) > 0 {
				allErrs = append(allErrs, field.Invalid(p.Child("min").Key(string(name)), min.String(), fmt.Sprintf("min value %s is greater than max value %s", min.String(), max.String())))
			}
		}
		for _, d := range []struct {
			name string
			list v1.ResourceList
		}{{"default", item.Default}, {"defaultRequest", item.DefaultRequest}} {
			for name, q := range d.list {
				if min, ok := item.Min[name]; ok && min.Cmp(q) > 0 {
					allErrs = append(allErrs, field.Invalid(p.Child(d.name).Key(string(name)), q.String(), fmt.Sprintf("min value %s is greater than %s value %s", min.String(), d.name, q.String())))
				}
				if max, ok := item.Max[name]; ok && q.Cmp(max) > 0 {
					allErrs = append(allErrs, field.Invalid(p.Child(d.name).Key(string(name)), q.String(), fmt.Sprintf("%s value %s is greater than max value %s", d.name, q.String(), max.String())))
				}
			}
		}
		for name, ratio := range item.MaxLimitRequestRatio {
			if ratio.Cmp(*resource.NewQuantity(1, resource.DecimalSI)) < 0 {
				allErrs = append(allErrs, field.Invalid(p.Child("maxLimitRequestRatio").Key(string(name)), ratio.String(), "ratio must be greater than or equal to 1"))
			}
		}
	}
	return allErrs
}

// Fields returns the limit range fields selectors match.
func (LimitRangeStrategy) Fields(obj runtime.Object) fields.Set {
	lr := obj.(*v1.LimitRange)
	return fields.Set{"metadata.name": lr.Name, "metadata.namespace": lr.Namespace}
}

// TableColumns of limit ranges.
func (LimitRangeStrategy) TableColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameCol, col("Created At", "date", 0, "When the limit range was created")}
}

// TableRow of a limit range.
func (LimitRangeStrategy) TableRow(obj runtime.Object) []any {
	lr := obj.(*v1.LimitRange)
	return []any{lr.Name, lr.CreationTimestamp.UTC().Format("2006-01-02T15:04:05Z")}
}
