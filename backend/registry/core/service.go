package core

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/berthpaas/berth/backend/registry/generic"
)

// Range of node ports, Kubernetes' default --service-node-port-range.
const (
	MinNodePort = 30000
	MaxNodePort = 32767
)

// defaultSessionAffinityTimeoutSeconds is Kubernetes' default: three hours.
const defaultSessionAffinityTimeoutSeconds = int32(v1.DefaultClientIPServiceAffinitySeconds)

var (
	supportedServiceTypes      = []v1.ServiceType{v1.ServiceTypeClusterIP, v1.ServiceTypeNodePort, v1.ServiceTypeLoadBalancer, v1.ServiceTypeExternalName}
	supportedSessionAffinities = []v1.ServiceAffinity{v1.ServiceAffinityNone, v1.ServiceAffinityClientIP}
	supportedTrafficPolicies   = []v1.ServiceExternalTrafficPolicy{v1.ServiceExternalTrafficPolicyCluster, v1.ServiceExternalTrafficPolicyLocal}
)

// ServiceStrategy holds the rules of services. The registry's allocator
// (serviceallocator.go) gives a service its cluster IP and node ports
// after validation; once set, spec.clusterIP does not change.
type ServiceStrategy struct{}

var _ generic.Strategy = ServiceStrategy{}

// New returns an empty service.
func (ServiceStrategy) New() runtime.Object { return &v1.Service{} }

// NewList returns an empty service list.
func (ServiceStrategy) NewList() runtime.Object { return &v1.ServiceList{} }

// NamespaceScoped reports true: services live in a namespace.
func (ServiceStrategy) NamespaceScoped() bool { return true }

// HasStatus reports true: services/status holds load balancer ingress.
func (ServiceStrategy) HasStatus() bool { return true }

// PrepareForCreate drops any status the client sent and defaults the spec.
func (ServiceStrategy) PrepareForCreate(obj runtime.Object) {
	svc := obj.(*v1.Service)
	svc.Status = v1.ServiceStatus{}
	setServiceDefaults(svc)
}

// Validate checks a new service.
func (ServiceStrategy) Validate(obj runtime.Object) field.ErrorList {
	svc := obj.(*v1.Service)
	allErrs := apivalidation.ValidateObjectMeta(&svc.ObjectMeta, true, apivalidation.NameIsDNS1035Label, field.NewPath("metadata"))
	return append(allErrs, validateServiceSpec(&svc.Spec, field.NewPath("spec"))...)
}

// PrepareForUpdate keeps the old status and system metadata, defaults the
// spec, and carries over the clusterIP and node ports a client left out
// (kubectl replace with the original manifest).
func (ServiceStrategy) PrepareForUpdate(obj, old runtime.Object) {
	svc, oldSvc := obj.(*v1.Service), old.(*v1.Service)
	svc.Status = *oldSvc.Status.DeepCopy()
	keepSystemMeta(&svc.ObjectMeta, &oldSvc.ObjectMeta)
	setServiceDefaults(svc)
	dropTypeDependentFields(&svc.Spec, &oldSvc.Spec)
	keepAllocatedValues(&svc.Spec, &oldSvc.Spec)
}

// ValidateUpdate checks svc as a replacement of old.
func (ServiceStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	svc, oldSvc := obj.(*v1.Service), old.(*v1.Service)
	specPath := field.NewPath("spec")
	allErrs := apivalidation.ValidateObjectMetaUpdate(&svc.ObjectMeta, &oldSvc.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateServiceSpec(&svc.Spec, specPath)...)
	releasing := svc.Spec.Type == v1.ServiceTypeExternalName && svc.Spec.ClusterIP == ""
	if oldSvc.Spec.ClusterIP != "" && !releasing {
		allErrs = append(allErrs, apivalidation.ValidateImmutableField(svc.Spec.ClusterIP, oldSvc.Spec.ClusterIP, specPath.Child("clusterIP"))...)
	}
	return allErrs
}

// PrepareForStatusUpdate keeps the old spec and metadata.
func (ServiceStrategy) PrepareForStatusUpdate(obj, old runtime.Object) {
	svc, oldSvc := obj.(*v1.Service), old.(*v1.Service)
	svc.Spec = *oldSvc.Spec.DeepCopy()
	keepMetaForStatus(&svc.ObjectMeta, &oldSvc.ObjectMeta)
}

// Fields returns the service fields selectors match.
func (ServiceStrategy) Fields(obj runtime.Object) fields.Set {
	svc := obj.(*v1.Service)
	return fields.Set{
		"metadata.name":      svc.Name,
		"metadata.namespace": svc.Namespace,
		"spec.clusterIP":     svc.Spec.ClusterIP,
		"spec.type":          string(svc.Spec.Type),
	}
}

func setServiceDefaults(svc *v1.Service) {
	spec := &svc.Spec
	if spec.Type == "" {
		spec.Type = v1.ServiceTypeClusterIP
	}
	if spec.ClusterIP == "" && len(spec.ClusterIPs) > 0 {
		spec.ClusterIP = spec.ClusterIPs[0]
	}
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = v1.ServiceAffinityNone
	}
	if spec.SessionAffinity == v1.ServiceAffinityClientIP && spec.SessionAffinityConfig == nil {
		timeout := defaultSessionAffinityTimeoutSeconds
		spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: &timeout}}
	}
	if (spec.Type == v1.ServiceTypeNodePort || spec.Type == v1.ServiceTypeLoadBalancer) && spec.ExternalTrafficPolicy == "" {
		spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyCluster
	}
	if spec.Type != v1.ServiceTypeExternalName && spec.InternalTrafficPolicy == nil {
		policy := v1.ServiceInternalTrafficPolicyCluster
		spec.InternalTrafficPolicy = &policy
	}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = v1.ProtocolTCP
		}
		if p.TargetPort == (intstr.IntOrString{}) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
}

// keepAllocatedValues copies the clusterIP and node ports of old into spec
// where spec leaves them empty and still needs them.
func keepAllocatedValues(spec, old *v1.ServiceSpec) {
	if spec.Type != v1.ServiceTypeExternalName && spec.ClusterIP == "" && len(spec.ClusterIPs) == 0 {
		spec.ClusterIP = old.ClusterIP
		spec.ClusterIPs = append([]string(nil), old.ClusterIPs...)
	}
	if !needsNodePorts(spec) || !needsNodePorts(old) {
		return
	}
	inUse := map[int32]bool{}
	for _, p := range spec.Ports {
		inUse[p.NodePort] = true
	}
	byName := map[string]int32{}
	for _, p := range old.Ports {
		byName[p.Name] = p.NodePort
	}
	for i := range spec.Ports {
		if p := &spec.Ports[i]; p.NodePort == 0 && !inUse[byName[p.Name]] {
			p.NodePort = byName[p.Name]
			inUse[p.NodePort] = true
		}
	}
}

// dropTypeDependentFields clears what a service of its old type held and
// one of its new type may not, where the client left it as it was (kubectl
// edit of the type alone), as kube-apiserver does: node ports when it is
// no longer NodePort, the cluster IP when it becomes ExternalName.
func dropTypeDependentFields(spec, old *v1.ServiceSpec) {
	if needsNodePorts(old) && !needsNodePorts(spec) {
		byName := map[string]int32{}
		for _, p := range old.Ports {
			byName[p.Name] = p.NodePort
		}
		for i := range spec.Ports {
			if p := &spec.Ports[i]; p.NodePort != 0 && p.NodePort == byName[p.Name] {
				p.NodePort = 0
			}
		}
	}
	if spec.Type == v1.ServiceTypeExternalName && old.Type != v1.ServiceTypeExternalName && spec.ClusterIP == old.ClusterIP {
		spec.ClusterIP, spec.ClusterIPs = "", nil
		spec.IPFamilies, spec.IPFamilyPolicy = nil, nil
	}
	if spec.Type == v1.ServiceTypeExternalName || !needsNodePorts(spec) {
		if old.ExternalTrafficPolicy != "" && spec.ExternalTrafficPolicy == old.ExternalTrafficPolicy {
			spec.ExternalTrafficPolicy = ""
		}
	}
}

func needsNodePorts(spec *v1.ServiceSpec) bool {
	return spec.Type == v1.ServiceTypeNodePort || spec.Type == v1.ServiceTypeLoadBalancer
}

func validateServiceSpec(spec *v1.ServiceSpec, fldPath *field.Path) field.ErrorList {
	allErrs := validateEnum(spec.Type, supportedServiceTypes, fldPath.Child("type"))
	allErrs = append(allErrs, validateEnum(spec.SessionAffinity, supportedSessionAffinities, fldPath.Child("sessionAffinity"))...)
	allErrs = append(allErrs, metav1validation.ValidateLabels(spec.Selector, fldPath.Child("selector"))...)
	allErrs = append(allErrs, validateClusterIP(spec, fldPath)...)

	headless := spec.ClusterIP == v1.ClusterIPNone
	if len(spec.Ports) == 0 && spec.Type != v1.ServiceTypeExternalName && !headless {
		allErrs = append(allErrs, field.Required(fldPath.Child("ports"), ""))
	}
	allErrs = append(allErrs, validateServicePorts(spec, fldPath.Child("ports"))...)

	if spec.Type == v1.ServiceTypeExternalName {
		namePath := fldPath.Child("externalName")
		if spec.ExternalName == "" {
			allErrs = append(allErrs, field.Required(namePath, ""))
		} else {
			allErrs = append(allErrs, validation.IsFullyQualifiedDomainName(namePath, spec.ExternalName)...)
		}
	}
	if spec.ExternalTrafficPolicy != "" {
		policyPath := fldPath.Child("externalTrafficPolicy")
		if !needsNodePorts(spec) {
			allErrs = append(allErrs, field.Forbidden(policyPath, fmt.Sprintf("may only be set when `type` is '%s' or '%s'", v1.ServiceTypeNodePort, v1.ServiceTypeLoadBalancer)))
		} else {
			allErrs = append(allErrs, validateEnum(spec.ExternalTrafficPolicy, supportedTrafficPolicies, policyPath)...)
		}
	}
	return allErrs
}

// validateClusterIP accepts an empty clusterIP (to be allocated), "None"
// (headless) or an IP address, and none at all for ExternalName services.
func validateClusterIP(spec *v1.ServiceSpec, fldPath *field.Path) field.ErrorList {
	ipPath := fldPath.Child("clusterIP")
	if spec.Type == v1.ServiceTypeExternalName {
		if spec.ClusterIP != "" {
			return field.ErrorList{field.Forbidden(ipPath, "may not be set for ExternalName services")}
		}
		return nil
	}
	var allErrs field.ErrorList
	if spec.ClusterIP != "" && spec.ClusterIP != v1.ClusterIPNone {
		allErrs = append(allErrs, validation.IsValidIP(ipPath, spec.ClusterIP)...)
	}
	if spec.ClusterIP == v1.ClusterIPNone && needsNodePorts(spec) {
		allErrs = append(allErrs, field.Invalid(ipPath, spec.ClusterIP, fmt.Sprintf("may not be set to 'None' for %s services", spec.Type)))
	}
	if len(spec.ClusterIPs) > 0 && spec.ClusterIPs[0] != spec.ClusterIP {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("clusterIPs").Index(0), spec.ClusterIPs[0], "must match `clusterIP`"))
	}
	return allErrs
}

func validateServicePorts(spec *v1.ServiceSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := map[string]bool{}
	ports := map[string]bool{}
	nodePorts := map[string]bool{}
	for i, p := range spec.Ports {
		idxPath := fldPath.Index(i)
		namePath := idxPath.Child("name")
		switch {
		case p.Name == "" && len(spec.Ports) > 1:
			allErrs = append(allErrs, field.Required(namePath, "must be specified when there is more than one port"))
		case p.Name == "":
		case names[p.Name]:
			allErrs = append(allErrs, field.Duplicate(namePath, p.Name))
		default:
			allErrs = append(allErrs, invalidEach(namePath, p.Name, validation.IsDNS1123Label(p.Name))...)
		}
		names[p.Name] = true

		allErrs = append(allErrs, invalidEach(idxPath.Child("port"), p.Port, validation.IsValidPortNum(int(p.Port)))...)
		allErrs = append(allErrs, validateEnum(p.Protocol, supportedProtocols, idxPath.Child("protocol"))...)
		allErrs = append(allErrs, validatePortNumOrName(p.TargetPort, idxPath.Child("targetPort"))...)

		key := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if ports[key] {
			allErrs = append(allErrs, field.Duplicate(idxPath, key))
		}
		ports[key] = true

		if p.NodePort == 0 {
			continue
		}
		nodePortPath := idxPath.Child("nodePort")
		if !needsNodePorts(spec) {
			allErrs = append(allErrs, field.Forbidden(nodePortPath, fmt.Sprintf("may not be used when `type` is '%s'", spec.Type)))
			continue
		}
		allErrs = append(allErrs, invalidEach(nodePortPath, p.NodePort, validation.IsInRange(int(p.NodePort), MinNodePort, MaxNodePort))...)
		key = fmt.Sprintf("%d/%s", p.NodePort, p.Protocol)
		if nodePorts[key] {
			allErrs = append(allErrs, field.Duplicate(nodePortPath, key))
		}
		nodePorts[key] = true
	}
	return allErrs
}
