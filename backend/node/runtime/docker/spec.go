package docker

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"
	v1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// droppedCaps are taken from Docker's default set: none of them is needed
// by an ordinary service, and each helps an attacker (raw packets, device
// nodes, chroot escapes, file capabilities, audit spoofing).
var droppedCaps = []string{"NET_RAW", "MKNOD", "SYS_CHROOT", "SETFCAP", "AUDIT_WRITE"}

// configError is a pod spec the runtime cannot run; it shows as a waiting
// container with reason CreateContainerConfigError.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func configErrorf(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}

// containerName is the Docker name of one instance of a pod's container.
func containerName(pod *v1.Pod, container string, restarts int) string {
	uid := string(pod.UID)
	if len(uid) > 8 {
		uid = uid[:8]
	}
	return fmt.Sprintf("berth_%s_%s_%s_%s_%d", pod.Namespace, pod.Name, container, uid, restarts)
}

// podLabels are the ownership labels of one instance of a pod's container.
func podLabels(pod *v1.Pod, container string, restarts int) map[string]string {
	return map[string]string{
		runtime.LabelPodUID:       string(pod.UID),
		runtime.LabelPodNamespace: pod.Namespace,
		runtime.LabelPodName:      pod.Name,
		runtime.LabelContainer:    container,
		runtime.LabelRestartCount: strconv.Itoa(restarts),
	}
}

// infraConfig is the configuration of a pod's infra container: it holds
// the network namespace, so the hostname, host aliases and host ports of
// every container of the pod are set on it. Its network is the runtime's
// to choose (podNetworking).
func infraConfig(pod *v1.Pod, image string, restarts int) (*container.Config, *container.HostConfig) {
	exposed, bindings := portBindings(pod)
	hostname := pod.Spec.Hostname
	if hostname == "" {
		hostname = pod.Name
	}
	if len(hostname) > 63 {
		hostname = hostname[:63]
	}
	var extraHosts []string
	for _, alias := range pod.Spec.HostAliases {
		for _, name := range alias.Hostnames {
			extraHosts = append(extraHosts, name+":"+alias.IP)
		}
	}
	cfg := &container.Config{
		Image:        image,
		Hostname:     hostname,
		Labels:       podLabels(pod, runtime.InfraContainerName, restarts),
		ExposedPorts: exposed,
	}
	host := &container.HostConfig{
		PortBindings: bindings,
		ExtraHosts:   extraHosts,
		CapDrop:      droppedCaps,
		SecurityOpt:  []string{"no-new-privileges"},
	}
	// The agent resolves dnsPolicy ClusterFirst into a dnsConfig that names
	// its DNS server (node.DNSConfig); Docker writes it to resolv.conf,
	// which the pod's containers share with the infra.
	if dc := pod.Spec.DNSConfig; pod.Spec.DNSPolicy == v1.DNSNone && dc != nil {
		host.DNS, host.DNSSearch = dc.Nameservers, dc.Searches
		for _, o := range dc.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			host.DNSOptions = append(host.DNSOptions, opt)
		}
	}
	return cfg, host
}

// portBindings publishes every container port that asks for a host port.
func portBindings(pod *v1.Pod) (nat.PortSet, nat.PortMap) {
	exposed := nat.PortSet{}
	bindings := nat.PortMap{}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			proto := strings.ToLower(string(p.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			port := nat.Port(fmt.Sprintf("%d/%s", p.ContainerPort, proto))
			exposed[port] = struct{}{}
			bindings[port] = append(bindings[port], nat.PortBinding{
				HostIP:   p.HostIP,
				HostPort: strconv.Itoa(int(p.HostPort)),
			})
		}
	}
	return exposed, bindings
}

// appSpec is what the runtime needs, besides the pod, to configure an app
// container.
type appSpec struct {
	infraID  string
	podIP    string
	stateDir string // the runtime's
	// data are the secrets and config maps the pod uses.
	data runtime.PodData
	// hostPath is nil when the pod may not mount host paths.
	hostPath *hostPathPolicy
	// subPath resolves a volume mount's subPath beneath the volume's
	// root on the host and returns a path that Docker may bind: see
	// bindSubPath. check, when not nil, vets the host path it resolves
	// to. The mount is the index-th of the container.
	subPath  func(volume, root, subPath string, index int, check func(string) error) (string, error)
	restarts int
}

// appConfig is the configuration of one instance of an app container.
// Command and args have Kubernetes' meaning: command replaces the image's
// entrypoint (and drops its cmd), args replace its cmd.
func appConfig(pod *v1.Pod, c *v1.Container, s appSpec) (*container.Config, *container.HostConfig, error) {
	if sc := c.SecurityContext; sc != nil {
		if sc.Privileged != nil && *sc.Privileged {
			return nil, nil, configErrorf("container %q: privileged containers are not allowed", c.Name)
		}
	}
	env, err := containerEnv(pod, c, s.podIP, s.data)
	if err != nil {
		return nil, nil, err
	}
	mounts, err := volumeMounts(pod, c, s)
	if err != nil {
		return nil, nil, err
	}
	lookup := envLookup(env)
	cfg := &container.Config{
		Image:      c.Image,
		Env:        env,
		WorkingDir: c.WorkingDir,
		Labels:     podLabels(pod, c.Name, s.restarts),
		Tty:        c.TTY,
		OpenStdin:  c.Stdin,
		StdinOnce:  c.StdinOnce,
		StopSignal: "SIGTERM",
	}
	if len(c.Command) > 0 {
		cfg.Entrypoint = expandAll(c.Command, lookup)
	}
	if len(c.Args) > 0 {
		cfg.Cmd = expandAll(c.Args, lookup)
	}
	if sc := c.SecurityContext; sc != nil && sc.RunAsUser != nil {
		cfg.User = strconv.FormatInt(*sc.RunAsUser, 10)
		if sc.RunAsGroup != nil {
			cfg.User += ":" + strconv.FormatInt(*sc.RunAsGroup, 10)
		}
	}
	if grace := pod.Spec.TerminationGracePeriodSeconds; grace != nil {
		t := int(*grace)
		cfg.StopTimeout = &t
	}
	capDrop := append([]string(nil), droppedCaps...)
	if sc := c.SecurityContext; sc != nil && sc.Capabilities != nil {
		for _, capability := range sc.Capabilities.Drop {
			capDrop = append(capDrop, string(capability))
		}
	}
	host := &container.HostConfig{
		NetworkMode: container.NetworkMode("container:" + s.infraID),
		Mounts:      mounts,
		CapDrop:     capDrop,
		SecurityOpt: []string{"no-new-privileges"},
		Privileged:  false,
	}
	if sc := c.SecurityContext; sc != nil && sc.ReadOnlyRootFilesystem != nil {
		host.ReadonlyRootfs = *sc.ReadOnlyRootFilesystem
	}
	if mem, ok := c.Resources.Limits[v1.ResourceMemory]; ok {
		host.Memory = mem.Value()
	}
	if cpu, ok := c.Resources.Limits[v1.ResourceCPU]; ok {
		host.NanoCPUs = cpu.MilliValue() * 1_000_000
	}
	return cfg, host, nil
}

// containerEnv is the environment of an app container: POD_NAME,
// POD_NAMESPACE and POD_IP, then those of envFrom, then the spec's
// variables, which may refer to earlier ones as $(NAME). A variable from
// a missing optional key is left out, as Kubernetes leaves it.
func containerEnv(pod *v1.Pod, c *v1.Container, podIP string, data runtime.PodData) ([]string, error) {
	env := []string{
		"POD_NAME=" + pod.Name,
		"POD_NAMESPACE=" + pod.Namespace,
		"POD_IP=" + podIP,
	}
	from, err := envFromSources(pod.Namespace, c, data)
	if err != nil {
		return nil, configErrorf("container %q: envFrom: %v", c.Name, err)
	}
	env = append(env, from...)
	for _, e := range c.Env {
		value := e.Value
		if from := e.ValueFrom; from != nil && (from.SecretKeyRef != nil || from.ConfigMapKeyRef != nil) {
			v, ok, err := keyRefValue(pod.Namespace, from, data)
			if err != nil {
				return nil, configErrorf("container %q: env %q: %v", c.Name, e.Name, err)
			}
			if !ok {
				continue
			}
			value = v
		} else if e.ValueFrom != nil {
			v, err := envFrom(pod, e, podIP)
			if err != nil {
				return nil, configErrorf("container %q: env %q: %v", c.Name, e.Name, err)
			}
			value = v
		} else {
			value = expand(value, envLookup(env))
		}
		env = append(env, e.Name+"="+value)
	}
	return env, nil
}

// envFrom resolves what the runtime can know by itself: fields of the pod.
func envFrom(pod *v1.Pod, e v1.EnvVar, podIP string) (string, error) {
	ref := e.ValueFrom.FieldRef
	if ref == nil {
		return "", fmt.Errorf("only value and valueFrom.fieldRef, secretKeyRef and configMapKeyRef can be resolved on the node")
	}
	switch path := ref.FieldPath; {
	case path == "metadata.name":
		return pod.Name, nil
	case path == "metadata.namespace":
		return pod.Namespace, nil
	case path == "metadata.uid":
		return string(pod.UID), nil
	case path == "spec.nodeName":
		return pod.Spec.NodeName, nil
	case path == "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case path == "status.podIP":
		return podIP, nil
	case path == "status.hostIP":
		return pod.Status.HostIP, nil
	case strings.HasPrefix(path, "metadata.labels['") && strings.HasSuffix(path, "']"):
		return pod.Labels[strings.TrimSuffix(strings.TrimPrefix(path, "metadata.labels['"), "']")], nil
	case strings.HasPrefix(path, "metadata.annotations['") && strings.HasSuffix(path, "']"):
		return pod.Annotations[strings.TrimSuffix(strings.TrimPrefix(path, "metadata.annotations['"), "']")], nil
	default:
		return "", fmt.Errorf("unsupported fieldRef %q", path)
	}
}

// envLookup finds the last value of a variable in a NAME=value list.
func envLookup(env []string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if k, v, _ := strings.Cut(env[i], "="); k == name {
				return v, true
			}
		}
		return "", false
	}
}

func expandAll(in []string, lookup func(string) (string, bool)) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, lookup)
	}
	return out
}

// expand replaces $(NAME) with the variable's value as Kubernetes does:
// $$ escapes a dollar, and references to unknown variables stay as written.
func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// emptyDirPath is the host directory of an emptyDir volume.
func emptyDirPath(stateDir string, pod *v1.Pod, volume string) string {
	return filepath.Join(stateDir, "pods", string(pod.UID), "volumes", volume)
}

// volumeMounts binds the container's volume mounts: emptyDir volumes from
// the pod's state directory, hostPath volumes only where allowed, and a
// subPath of either only as s.subPath resolves it on the host.
func volumeMounts(pod *v1.Pod, c *v1.Container, s appSpec) ([]mount.Mount, error) {
	volumes := map[string]*v1.Volume{}
	for i := range pod.Spec.Volumes {
		volumes[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	var mounts []mount.Mount
	for i, vm := range c.VolumeMounts {
		vol, ok := volumes[vm.Name]
		if !ok {
			return nil, configErrorf("container %q: volume mount %q: no such volume in the pod", c.Name, vm.Name)
		}
		var source string
		var check func(string) error
		subPath, readOnly := vm.SubPath, vm.ReadOnly
		switch {
		case vol.EmptyDir != nil:
			source = emptyDirPath(s.stateDir, pod, vol.Name)
		case vol.Secret != nil || vol.ConfigMap != nil:
			// Read-only, as Kubernetes mounts them. A subPath is taken
			// from the current version of the files (the top-level names
			// are links into ..data, which a subPath may not follow), and
			// keeps it: as in Kubernetes, it sees no later update.
			source, readOnly = dataVolumePath(s.stateDir, pod, vol.Name), true
			if subPath != "" {
				version, err := os.Readlink(filepath.Join(source, dataDirName))
				if err != nil {
					return nil, configErrorf("container %q: volume %q: not written yet", c.Name, vol.Name)
				}
				subPath = filepath.Join(version, subPath)
			}
		case vol.HostPath != nil:
			if s.hostPath == nil {
				return nil, configErrorf("container %q: volume %q: hostPath volumes are not allowed for this pod", c.Name, vol.Name)
			}
			source = filepath.Clean(vol.HostPath.Path)
			check = s.hostPath.check
		default:
			return nil, configErrorf("container %q: volume %q: only emptyDir, hostPath, secret and configMap volumes are supported", c.Name, vol.Name)
		}
		switch {
		case subPath != "" && s.subPath == nil:
			return nil, configErrorf("container %q: volume mount %q: subPath cannot be resolved here", c.Name, vm.Name)
		case subPath != "":
			staged, err := s.subPath(vol.Name, source, subPath, i, check)
			if err != nil {
				return nil, configErrorf("container %q: volume mount %q: %v", c.Name, vm.Name, err)
			}
			source = staged
		case check != nil:
			if err := check(source); err != nil {
				return nil, configErrorf("container %q: volume %q: %v", c.Name, vol.Name, err)
			}
		}
		mounts = append(mounts, mount.Mount{
			Type:     mount.TypeBind,
			Source:   source,
			Target:   vm.MountPath,
			ReadOnly: readOnly,
		})
	}
	return mounts, nil
}

// hostPathPolicy refuses the host paths that would hand a container the
// Docker engine: the socket itself or a directory that contains it.
type hostPathPolicy struct {
	sockets []string
}

func (p *hostPathPolicy) check(path string) error {
	resolved := resolvePath(path)
	for _, sock := range p.sockets {
		for _, s := range []string{filepath.Clean(sock), resolvePath(sock)} {
			if resolved == s || isUnder(s, resolved) {
				return fmt.Errorf("hostPath %q exposes the Docker socket %q", path, sock)
			}
		}
	}
	return nil
}

// resolvePath follows the symbolic links of the longest existing prefix of
// path.
func resolvePath(path string) string {
	path = filepath.Clean(path)
	rest := ""
	for dir := path; ; dir = filepath.Dir(dir) {
		if resolved, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(resolved, rest)
		}
		if dir == filepath.Dir(dir) {
			return path
		}
		rest = filepath.Join(filepath.Base(dir), rest)
	}
}

// isUnder reports whether path lies inside dir.
func isUnder(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && filepath.IsLocal(rel)
}

// unixSocketPath is the path of a unix:// daemon address.
func unixSocketPath(host string) (string, bool) {
	path, ok := strings.CutPrefix(host, "unix://")
	return path, ok && path != ""
}
