package core

import (
	"fmt"
	"maps"
	"path"
	"reflect"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedProtocols                  = []v1.Protocol{v1.ProtocolTCP, v1.ProtocolUDP, v1.ProtocolSCTP}
	supportedPullPolicies               = []v1.PullPolicy{v1.PullAlways, v1.PullIfNotPresent, v1.PullNever}
	supportedTerminationMessagePolicies = []v1.TerminationMessagePolicy{v1.TerminationMessageReadFile, v1.TerminationMessageFallbackToLogsOnError}
	supportedURISchemes                 = []v1.URIScheme{v1.URISchemeHTTP, v1.URISchemeHTTPS}
	standardContainerResources          = []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory, v1.ResourceEphemeralStorage}
)

// supportedEnvFieldPaths are the pod fields an env var may read through
// valueFrom.fieldRef, besides single labels and annotations.
var supportedEnvFieldPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid",
	"spec.nodeName", "spec.serviceAccountName",
	"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
}

// validateContainers checks containers of one list; names holds the names
// seen so far in the pod, as they must be unique across all its lists.
func validateContainers(containers []v1.Container, volumes, names map[string]bool, hostNetwork bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i := range containers {
		c := &containers[i]
		idxPath := fldPath.Index(i)
		namePath := idxPath.Child("name")
		switch {
		case c.Name == "":
			allErrs = append(allErrs, field.Required(namePath, ""))
		case names[c.Name]:
			allErrs = append(allErrs, field.Duplicate(namePath, c.Name))
		default:
			allErrs = append(allErrs, invalidEach(namePath, c.Name, validation.IsDNS1123Label(c.Name))...)
		}
		names[c.Name] = true

		switch {
		case c.Image == "":
			allErrs = append(allErrs, field.Required(idxPath.Child("image"), ""))
		case strings.TrimSpace(c.Image) != c.Image:
			allErrs = append(allErrs, field.Invalid(idxPath.Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}
		allErrs = append(allErrs, validateEnum(c.ImagePullPolicy, supportedPullPolicies, idxPath.Child("imagePullPolicy"))...)
		allErrs = append(allErrs, validateEnum(c.TerminationMessagePolicy, supportedTerminationMessagePolicies, idxPath.Child("terminationMessagePolicy"))...)
		allErrs = append(allErrs, validateContainerPorts(c.Ports, hostNetwork, idxPath.Child("ports"))...)
		allErrs = append(allErrs, validateEnv(c.Env, idxPath.Child("env"))...)
		allErrs = append(allErrs, validateEnvFrom(c.EnvFrom, idxPath.Child("envFrom"))...)
		allErrs = append(allErrs, validateResources(&c.Resources, idxPath.Child("resources"))...)
		allErrs = append(allErrs, validateVolumeMounts(c.VolumeMounts, volumes, idxPath.Child("volumeMounts"))...)
		allErrs = append(allErrs, validateProbe(c.LivenessProbe, idxPath.Child("livenessProbe"))...)
		allErrs = append(allErrs, validateProbe(c.ReadinessProbe, idxPath.Child("readinessProbe"))...)
		allErrs = append(allErrs, validateProbe(c.StartupProbe, idxPath.Child("startupProbe"))...)
	}
	return allErrs
}

func validateContainerPorts(ports []v1.ContainerPort, hostNetwork bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := map[string]bool{}
	for i, p := range ports {
		idxPath := fldPath.Index(i)
		if p.Name != "" {
			namePath := idxPath.Child("name")
			allErrs = append(allErrs, invalidEach(namePath, p.Name, validation.IsValidPortName(p.Name))...)
			if names[p.Name] {
				allErrs = append(allErrs, field.Duplicate(namePath, p.Name))
			}
			names[p.Name] = true
		}
		if p.ContainerPort == 0 {
			allErrs = append(allErrs, field.Required(idxPath.Child("containerPort"), ""))
		} else {
			allErrs = append(allErrs, invalidEach(idxPath.Child("containerPort"), p.ContainerPort, validation.IsValidPortNum(int(p.ContainerPort)))...)
		}
		if p.HostPort != 0 {
			allErrs = append(allErrs, invalidEach(idxPath.Child("hostPort"), p.HostPort, validation.IsValidPortNum(int(p.HostPort)))...)
		}
		if hostNetwork && p.HostPort != p.ContainerPort {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("hostPort"), p.HostPort, "must match `containerPort` when `hostNetwork` is true"))
		}
		allErrs = append(allErrs, validateEnum(p.Protocol, supportedProtocols, idxPath.Child("protocol"))...)
	}
	return allErrs
}

// validateHostPortsUnique rejects two ports of a pod that claim the same
// host port, address and protocol: the node could not bind both.
func validateHostPortsUnique(containers []v1.Container, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[string]bool{}
	for i, c := range containers {
		for j, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			key := fmt.Sprintf("%s/%d/%s", p.HostIP, p.HostPort, p.Protocol)
			if seen[key] {
				allErrs = append(allErrs, field.Duplicate(fldPath.Index(i).Child("ports").Index(j).Child("hostPort"), fmt.Sprintf("%d/%s", p.HostPort, p.Protocol)))
			}
			seen[key] = true
		}
	}
	return allErrs
}

func validateEnv(env []v1.EnvVar, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, ev := range env {
		idxPath := fldPath.Index(i)
		if ev.Name == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		} else {
			allErrs = append(allErrs, invalidEach(idxPath.Child("name"), ev.Name, validation.IsEnvVarName(ev.Name))...)
		}
		if ev.ValueFrom == nil {
			continue
		}
		fromPath := idxPath.Child("valueFrom")
		if ev.Value != "" {
			allErrs = append(allErrs, field.Invalid(fromPath, "", "may not be specified when `value` is not empty"))
		}
		sources := setPointerFields(reflect.ValueOf(ev.ValueFrom).Elem())
		switch {
		case len(sources) == 0:
			allErrs = append(allErrs, field.Invalid(fromPath, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
		case len(sources) > 1:
			allErrs = append(allErrs, field.Invalid(fromPath, "", "may not have more than one field specified at a time"))
		case ev.ValueFrom.FieldRef != nil:
			allErrs = append(allErrs, validateEnvFieldPath(ev.ValueFrom.FieldRef.FieldPath, fromPath.Child("fieldRef", "fieldPath"))...)
		case ev.ValueFrom.SecretKeyRef != nil:
			ref := ev.ValueFrom.SecretKeyRef
			allErrs = append(allErrs, validateKeyRef(ref.Name, ref.Key, fromPath.Child("secretKeyRef"))...)
		case ev.ValueFrom.ConfigMapKeyRef != nil:
			ref := ev.ValueFrom.ConfigMapKeyRef
			allErrs = append(allErrs, validateKeyRef(ref.Name, ref.Key, fromPath.Child("configMapKeyRef"))...)
		}
	}
	return allErrs
}

func validateEnvFieldPath(fieldPath string, fldPath *field.Path) field.ErrorList {
	if fieldPath == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if slices.Contains(supportedEnvFieldPaths, fieldPath) ||
		strings.HasPrefix(fieldPath, "metadata.labels['") && strings.HasSuffix(fieldPath, "']") ||
		strings.HasPrefix(fieldPath, "metadata.annotations['") && strings.HasSuffix(fieldPath, "']") {
		return nil
	}
	return field.ErrorList{field.NotSupported(fldPath, fieldPath, supportedEnvFieldPaths)}
}

func validateResources(res *v1.ResourceRequirements, fldPath *field.Path) field.ErrorList {
	limitsPath, requestsPath := fldPath.Child("limits"), fldPath.Child("requests")
	allErrs := validateResourceList(res.Limits, limitsPath)
	allErrs = append(allErrs, validateResourceList(res.Requests, requestsPath)...)
	for _, name := range sortedResourceNames(res.Requests) {
		request := res.Requests[name]
		limit, ok := res.Limits[name]
		if ok && request.Cmp(limit) > 0 {
			allErrs = append(allErrs, field.Invalid(requestsPath.Key(string(name)), request.String(),
				fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
		}
	}
	return allErrs
}

func validateResourceList(list v1.ResourceList, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, name := range sortedResourceNames(list) {
		keyPath := fldPath.Key(string(name))
		allErrs = append(allErrs, validateContainerResourceName(name, keyPath)...)
		if q := list[name]; q.Sign() < 0 {
			allErrs = append(allErrs, field.Invalid(keyPath, q.String(), apivalidation.IsNegativeErrorMsg))
		}
	}
	return allErrs
}

// sortedResourceNames returns the names of list in order, so that errors
// come out the same on every call.
func sortedResourceNames(list v1.ResourceList) []v1.ResourceName {
	return slices.Sorted(maps.Keys(list))
}

// validateContainerResourceName accepts the standard resources and
// extended ones, which must carry a domain ("example.com/gpu").
func validateContainerResourceName(name v1.ResourceName, fldPath *field.Path) field.ErrorList {
	if strings.Contains(string(name), "/") {
		return invalidEach(fldPath, name, content.IsLabelKey(string(name)))
	}
	if slices.Contains(standardContainerResources, name) || strings.HasPrefix(string(name), v1.ResourceHugePagesPrefix) {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, name, "must be a standard resource for containers or a fully qualified name")}
}

func validateVolumeMounts(mounts []v1.VolumeMount, volumes map[string]bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	mountPaths := map[string]bool{}
	for i, m := range mounts {
		idxPath := fldPath.Index(i)
		switch {
		case m.Name == "":
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		case !volumes[m.Name]:
			allErrs = append(allErrs, field.NotFound(idxPath.Child("name"), m.Name))
		}
		switch {
		case m.MountPath == "":
			allErrs = append(allErrs, field.Required(idxPath.Child("mountPath"), ""))
		case mountPaths[m.MountPath]:
			allErrs = append(allErrs, field.Invalid(idxPath.Child("mountPath"), m.MountPath, "must be unique"))
		}
		mountPaths[m.MountPath] = true
		allErrs = append(allErrs, validateSubPath(m.SubPath, idxPath.Child("subPath"))...)
	}
	return allErrs
}

// validateSubPath keeps a mount inside its volume: a subPath that is
// absolute or climbs with ".." could reach any file of the host.
func validateSubPath(subPath string, fldPath *field.Path) field.ErrorList {
	if subPath == "" {
		return nil
	}
	if path.IsAbs(subPath) {
		return field.ErrorList{field.Invalid(fldPath, subPath, "must be a relative path")}
	}
	if slices.Contains(strings.Split(subPath, "/"), "..") {
		return field.ErrorList{field.Invalid(fldPath, subPath, "must not contain '..'")}
	}
	return nil
}

func validateProbe(p *v1.Probe, fldPath *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	var allErrs field.ErrorList
	switch handlers := setPointerFields(reflect.ValueOf(&p.ProbeHandler).Elem()); {
	case len(handlers) == 0:
		allErrs = append(allErrs, field.Required(fldPath, "must specify a handler type"))
	case len(handlers) > 1:
		allErrs = append(allErrs, field.Forbidden(fldPath, "may not specify more than 1 handler type, found "+strings.Join(handlers, ", ")))
	case p.HTTPGet != nil:
		allErrs = append(allErrs, validatePortNumOrName(p.HTTPGet.Port, fldPath.Child("httpGet", "port"))...)
		allErrs = append(allErrs, validateEnum(p.HTTPGet.Scheme, supportedURISchemes, fldPath.Child("httpGet", "scheme"))...)
	case p.TCPSocket != nil:
		allErrs = append(allErrs, validatePortNumOrName(p.TCPSocket.Port, fldPath.Child("tcpSocket", "port"))...)
	case p.GRPC != nil:
		allErrs = append(allErrs, invalidEach(fldPath.Child("grpc", "port"), p.GRPC.Port, validation.IsValidPortNum(int(p.GRPC.Port)))...)
	case p.Exec != nil && len(p.Exec.Command) == 0:
		allErrs = append(allErrs, field.Required(fldPath.Child("exec", "command"), ""))
	}
	for _, f := range []struct {
		name  string
		value int32
	}{
		{"initialDelaySeconds", p.InitialDelaySeconds},
		{"timeoutSeconds", p.TimeoutSeconds},
		{"periodSeconds", p.PeriodSeconds},
		{"successThreshold", p.SuccessThreshold},
		{"failureThreshold", p.FailureThreshold},
	} {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(f.value), fldPath.Child(f.name))...)
	}
	return allErrs
}

// validatePortNumOrName checks a port given by number or by the name of a
// container port.
func validatePortNumOrName(port intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if port.Type == intstr.String {
		return invalidEach(fldPath, port.StrVal, validation.IsValidPortName(port.StrVal))
	}
	return invalidEach(fldPath, port.IntVal, validation.IsValidPortNum(int(port.IntVal)))
}
