//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

package core

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/berthpaas/berth/backend/registry/generic"
)

// EndpointsStrategy holds the rules of endpoints: the addresses of the
// pods behind a service, of the same name. The endpoints controller
// writes them; node agents read them for their proxies and DNS.
type EndpointsStrategy struct{}

var (
	_ generic.Strategy       = EndpointsStrategy{}
	_ generic.TableConvertor = EndpointsStrategy{}
)

// New returns empty endpoints.
func (EndpointsStrategy) New() runtime.Object { return &v1.Endpoints{} }

// NewList returns an empty endpoints list.
func (EndpointsStrategy) NewList() runtime.Object { return &v1.EndpointsList{} }

// NamespaceScoped reports true: endpoints live beside their service.
func (EndpointsStrategy) NamespaceScoped() bool { return true }

// HasStatus reports false: endpoints have no status.
func (EndpointsStrategy) HasStatus() bool { return false }

// PrepareForCreate defaults the ports' protocol.
func (EndpointsStrategy) PrepareForCreate(obj runtime.Object) {
	setEndpointsDefaults(obj.(*v1.Endpoints))
}

// Validate checks new endpoints.
func (EndpointsStrategy) Validate(obj runtime.Object) field.ErrorList {
	ep := obj.(*v1.Endpoints)
	allErrs := apivalidation.ValidateObjectMeta(&ep.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateEndpointSubsets(ep.Subsets, field.NewPath("subsets"))...)
}

// PrepareForUpdate keeps the old system metadata and defaults.
func (EndpointsStrategy) PrepareForUpdate(obj, old runtime.Object) {
	ep := obj.(*v1.Endpoints)
	keepSystemMeta(&ep.ObjectMeta, &old.(*v1.Endpoints).ObjectMeta)
	setEndpointsDefaults(ep)
}

// ValidateUpdate checks endpoints as a replacement of old.
func (EndpointsStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	ep, oldEp := obj.(*v1.Endpoints), old.(*v1.Endpoints)
	allErrs := apivalidation.ValidateObjectMetaUpdate(&ep.ObjectMeta, &oldEp.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateEndpointSubsets(ep.Subsets, field.NewPath("subsets"))...)
}

// PrepareForStatusUpdate does nothing: endpoints have no status.
func (EndpointsStrategy) PrepareForStatusUpdate(obj, old runtime.Object) {}

// Fields returns the endpoints fields selectors match.
func (EndpointsStrategy) Fields(obj runtime.Object) fields.Set {
	ep := obj.(*v1.Endpoints)
	return fields.Set{"metadata.name": ep.Name, "metadata.namespace": ep.Namespace}
}

// TableColumns of endpoints, as kubectl prints them.
func (EndpointsStrategy) TableColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameCol, col("Endpoints", "string", 0, "Endpoints is the list of addresses and ports of the ready pods."), ageCol}
}

// TableRow of endpoints.
func (EndpointsStrategy) TableRow(obj runtime.Object) []any {
	ep := obj.(*v1.Endpoints)
	return []any{ep.Name, FormatEndpoints(ep), age(ep.CreationTimestamp)}
}

// FormatEndpoints lists the first three ready addresses with their ports
// ("10.1.0.2:8080,10.1.0.3:8080 + 4 more..."), as kubectl does.
func FormatEndpoints(ep *v1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return "<none>"
	}
	const shown = 3
	var list []string
	count := 0
	add := func(s string) {
		count++
		if len(list) < shown {
			list = append(list, s)
		}
	}
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	out := strings.Join(list, ",")
	if count > shown {
		out = fmt.Sprintf("%s + %d more...", out, count-shown)
	}
	return out
}

func setEndpointsDefaults(ep *v1.Endpoints) {
	for i := range ep.Subsets {
		for j := range ep.Subsets[i].Ports {
			if p := &ep.Subsets[i].Ports[j]; p.Protocol == "" {
				p.Protocol = v1.ProtocolTCP
			}
		}
	}
}

func validateEndpointSubsets(subsets []v1.EndpointSubset, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, ss := range subsets {
		idxPath := fldPath.Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			allErrs = append(allErrs, field.Required(idxPath, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			allErrs = append(allErrs, validateEndpointAddress(&ss.Addresses[j], idxPath.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			allErrs = append(allErrs, validateEndpointAddress(&ss.NotReadyAddresses[j], idxPath.Child("notReadyAddresses").Index(j))...)
		}
		for j := range ss.Ports {
			allErrs = append(allErrs, validateEndpointPort(&ss.Ports[j], len(ss.Ports) > 1, idxPath.Child("ports").Index(j))...)
		}
	}
	return allErrs
}

func validateEndpointAddress(a *v1.EndpointAddress, fldPath *field.Path) field.ErrorList {
	ipPath := fldPath.Child("ip")
	allErrs := validation.IsValidIP(ipPath, a.IP)
	if a.Hostname != "" {
		allErrs = append(allErrs, invalidEach(fldPath.Child("hostname"), a.Hostname, validation.IsDNS1123Label(a.Hostname))...)
	}
	if a.NodeName != nil {
		allErrs = append(allErrs, invalidEach(fldPath.Child("nodeName"), *a.NodeName, apivalidation.NameIsDNSSubdomain(*a.NodeName, false))...)
	}
	if len(allErrs) > 0 {
		return allErrs
	}
	return append(allErrs, validateNonSpecialIP(a.IP, ipPath)...)
}

// validateNonSpecialIP refuses addresses no endpoint may have: a proxy
// forwarding to them would reach the node itself.
func validateNonSpecialIP(ip string, fldPath *field.Path) field.ErrorList {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return nil
	}
	switch {
	case addr.IsUnspecified():
		return field.ErrorList{field.Invalid(fldPath, ip, "may not be unspecified (0.0.0.0)")}
	case addr.IsLoopback():
		return field.ErrorList{field.Invalid(fldPath, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)")}
	case addr.IsLinkLocalUnicast():
		return field.ErrorList{field.Invalid(fldPath, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")}
	case addr.IsLinkLocalMulticast():
		return field.ErrorList{field.Invalid(fldPath, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")}
	}
	return nil
}

func validateEndpointPort(p *v1.EndpointPort, requireName bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case requireName && p.Name == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	case p.Name != "":
		allErrs = append(allErrs, invalidEach(fldPath.Child("name"), p.Name, validation.IsDNS1123Label(p.Name))...)
	}
	allErrs = append(allErrs, invalidEach(fldPath.Child("port"), p.Port, validation.IsValidPortNum(int(p.Port)))...)
	return append(allErrs, validateEnum(p.Protocol, supportedProtocols, fldPath.Child("protocol"))...)
}
