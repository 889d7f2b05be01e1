package core

import (
	"strings"

	v1 "k8s.io/api/core/v1"
)

// Defaults Kubernetes gives a pod spec; kept identical so manifests and
// kubectl diffs read the same against Berth as against a Kubernetes cluster.
const (
	defaultSchedulerName                 = v1.DefaultSchedulerName
	defaultTerminationGracePeriodSeconds = int64(v1.DefaultTerminationGracePeriodSeconds)
	defaultProbeTimeoutSeconds           = 1
	defaultProbePeriodSeconds            = 10
	defaultProbeSuccessThreshold         = 1
	defaultProbeFailureThreshold         = 3
)

// setPodSpecDefaults fills the fields of a pod spec, of a pod or of a
// template, that a client may leave empty.
func setPodSpecDefaults(spec *v1.PodSpec) {
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = v1.RestartPolicyAlways
	}
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = v1.DNSClusterFirst
	}
	if spec.TerminationGracePeriodSeconds == nil {
		seconds := defaultTerminationGracePeriodSeconds
		spec.TerminationGracePeriodSeconds = &seconds
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = defaultSchedulerName
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &v1.PodSecurityContext{}
	}
	if spec.EnableServiceLinks == nil {
		enable := v1.DefaultEnableServiceLinks
		spec.EnableServiceLinks = &enable
	}
	if spec.HostNetwork {
		setHostNetworkPorts(spec.InitContainers)
		setHostNetworkPorts(spec.Containers)
	}
	for i := range spec.InitContainers {
		setContainerDefaults(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		setContainerDefaults(&spec.Containers[i])
	}
	for i := range spec.Volumes {
		setVolumeDefaults(&spec.Volumes[i])
	}
}

// setHostNetworkPorts makes a host-network container's ports host ports:
// on the host's network, a container port is one.
func setHostNetworkPorts(containers []v1.Container) {
	for i := range containers {
		for j := range containers[i].Ports {
			if p := &containers[i].Ports[j]; p.HostPort == 0 {
				p.HostPort = p.ContainerPort
			}
		}
	}
}

func setContainerDefaults(c *v1.Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = defaultImagePullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = v1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = v1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = v1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if ref := c.Env[i].ValueFrom; ref != nil && ref.FieldRef != nil && ref.FieldRef.APIVersion == "" {
			ref.FieldRef.APIVersion = "v1"
		}
	}
	for _, p := range []*v1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		setProbeDefaults(p)
	}
}

// defaultImagePullPolicy pulls images that may move (":latest" or no tag)
// every time, and pinned ones (another tag, or a digest) only when missing.
func defaultImagePullPolicy(image string) v1.PullPolicy {
	if strings.Contains(image, "@") {
		return v1.PullIfNotPresent
	}
	name := image[strings.LastIndex(image, "/")+1:]
	colon := strings.LastIndex(name, ":")
	if colon < 0 || name[colon+1:] == "latest" {
		return v1.PullAlways
	}
	return v1.PullIfNotPresent
}

func setProbeDefaults(p *v1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = defaultProbeTimeoutSeconds
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = defaultProbePeriodSeconds
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = defaultProbeSuccessThreshold
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = defaultProbeFailureThreshold
	}
	if get := p.HTTPGet; get != nil {
		if get.Path == "" {
			get.Path = "/"
		}
		if get.Scheme == "" {
			get.Scheme = v1.URISchemeHTTP
		}
	}
}

// setVolumeDefaults makes a volume that names no source an emptyDir, as
// Kubernetes does.
func setVolumeDefaults(vol *v1.Volume) {
	if len(volumeSources(&vol.VolumeSource)) == 0 {
		vol.EmptyDir = &v1.EmptyDirVolumeSource{}
	}
	setDataVolumeDefaults(vol)
}

// setRequestsFromLimits gives every container a request equal to its limit
// for each resource it limits without requesting, so that the scheduler
// counts what the container may use.
func setRequestsFromLimits(spec *v1.PodSpec) {
	for _, containers := range [][]v1.Container{spec.InitContainers, spec.Containers} {
		for i := range containers {
			res := &containers[i].Resources
			for name, limit := range res.Limits {
				if _, ok := res.Requests[name]; ok {
					continue
				}
				if res.Requests == nil {
					res.Requests = v1.ResourceList{}
				}
				res.Requests[name] = limit.DeepCopy()
			}
		}
	}
}
