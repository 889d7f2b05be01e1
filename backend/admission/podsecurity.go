package admission

import (
	"context"
	"fmt"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/generic"
)

// podSecurityLevel names the policy in refusals, as Pod Security
// Admission names the level it enforces.
const podSecurityLevel = `"baseline:latest"`

// baselineCapabilities are the capabilities Kubernetes' baseline level lets
// a container add: Docker's defaults. Berth drops some of them
// (droppedCaps in the Docker runtime); adding one back is allowed here and
// not honoured there.
var baselineCapabilities = []string{
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
	"SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

// PodSecurity enforces the part of Kubernetes' baseline Pod Security
// Standard that reaches past a pod's own sandbox: the host's network, PID
// and IPC namespaces, privileged containers and added capabilities. Berth
// runs no pod that way, for anyone: its hosts are shared by strangers, and
// a node agent that silently ran such a pod in its sandbox instead would
// lie. So the API refuses them, for pods and for replication controllers'
// templates alike (Kubernetes only warns on templates and lets their pods
// fail; a refusal at once is plainer), with Pod Security Admission's
// words: `pods "x" is forbidden: violates PodSecurity "baseline:latest":
// host namespaces (hostNetwork=true), ...`.
func PodSecurity() generic.Admission {
	return generic.AdmissionFunc(func(_ context.Context, a *generic.Attributes) error {
		if a.Operation == generic.Delete || a.Subresource != "" {
			return nil
		}
		_, spec, _ := podSpecOf(a.Object)
		if spec == nil {
			return nil
		}
		if reasons := baselineViolations(spec); len(reasons) > 0 {
			return errdefs.Forbidden("violates PodSecurity %s: %s", podSecurityLevel, strings.Join(reasons, ", "))
		}
		return nil
	})
}

// baselineViolations lists what spec asks beyond the baseline level, each
// as Pod Security Admission words it: a reason, then its details.
func baselineViolations(spec *v1.PodSpec) []string {
	var reasons []string
	var hostNS []string
	for _, ns := range []struct {
		name string
		set  bool
	}{{"hostNetwork", spec.HostNetwork}, {"hostPID", spec.HostPID}, {"hostIPC", spec.HostIPC}} {
		if ns.set {
			hostNS = append(hostNS, ns.name+"=true")
		}
	}
	if len(hostNS) > 0 {
		reasons = append(reasons, fmt.Sprintf("host namespaces (%s)", strings.Join(hostNS, ", ")))
	}
	var privileged, capabilities []string
	each := func(c *v1.Container) {
		sc := c.SecurityContext
		if sc == nil {
			return
		}
		if sc.Privileged != nil && *sc.Privileged {
			privileged = append(privileged, fmt.Sprintf("%q", c.Name))
		}
		if sc.Capabilities == nil {
			return
		}
		var added []string
		for _, capability := range sc.Capabilities.Add {
			if !slices.Contains(baselineCapabilities, strings.TrimPrefix(string(capability), "CAP_")) {
				added = append(added, fmt.Sprintf("%q", capability))
			}
		}
		if len(added) > 0 {
			capabilities = append(capabilities, fmt.Sprintf("container %q must not include %s in securityContext.capabilities.add", c.Name, strings.Join(added, ", ")))
		}
	}
	for i := range spec.InitContainers {
		each(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		each(&spec.Containers[i])
	}
	if len(privileged) > 0 {
		reasons = append(reasons, fmt.Sprintf("privileged (%s %s must not set securityContext.privileged=true)", pluralize("container", len(privileged)), strings.Join(privileged, ", ")))
	}
	if len(capabilities) > 0 {
		reasons = append(reasons, fmt.Sprintf("non-default capabilities (%s)", strings.Join(capabilities, "; ")))
	}
	return reasons
}

func pluralize(word string, n int) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
