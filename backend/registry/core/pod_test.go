package core

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validPod returns a pod that passes validation once defaulted.
func validPod() *v1.Pod {
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", Labels: map[string]string{"app": "web"}},
		Spec: v1.PodSpec{
			Containers: []v1.Container{{
				Name:         "web",
				Image:        "echo:1.0",
				Ports:        []v1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				Env:          []v1.EnvVar{{Name: "MODE", Value: "test"}},
				VolumeMounts: []v1.VolumeMount{{Name: "data", MountPath: "/data"}},
				Resources: v1.ResourceRequirements{
					Limits:   v1.ResourceList{v1.ResourceCPU: resource.MustParse("500m"), v1.ResourceMemory: resource.MustParse("128Mi")},
					Requests: v1.ResourceList{v1.ResourceMemory: resource.MustParse("64Mi")},
				},
			}},
			Volumes: []v1.Volume{{Name: "data", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}}},
		},
	}
	PodStrategy{}.PrepareForCreate(pod)
	return pod
}

func TestPodValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*v1.Pod)
		want   []string
	}{
		{"valid", func(*v1.Pod) {}, nil},
		{"missing name", func(p *v1.Pod) { p.Name = "" }, []string{"metadata.name"}},
		{"name not a DNS subdomain", func(p *v1.Pod) { p.Name = "Web_1" }, []string{"metadata.name"}},
		{"missing namespace", func(p *v1.Pod) { p.Namespace = "" }, []string{"metadata.namespace"}},
		{"invalid label", func(p *v1.Pod) { p.Labels["bad key!"] = "x" }, []string{"metadata.labels"}},
		{"no containers", func(p *v1.Pod) { p.Spec.Containers = nil }, []string{"spec.containers"}},
		{"container name not a DNS label", func(p *v1.Pod) { p.Spec.Containers[0].Name = "Web" }, []string{"spec.containers[0].name"}},
		{"duplicate container name", func(p *v1.Pod) {
			c := p.Spec.Containers[0]
			c.Ports = nil
			p.Spec.Containers = append(p.Spec.Containers, c)
		}, []string{"spec.containers[1].name"}},
		{"missing image", func(p *v1.Pod) { p.Spec.Containers[0].Image = "" }, []string{"spec.containers[0].image"}},
		{"container port zero", func(p *v1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 0 }, []string{"spec.containers[0].ports[0].containerPort"}},
		{"container port too high", func(p *v1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 }, []string{"spec.containers[0].ports[0].containerPort"}},
		{"host port too high", func(p *v1.Pod) { p.Spec.Containers[0].Ports[0].HostPort = 70000 }, []string{"spec.containers[0].ports[0].hostPort"}},
		{"unsupported protocol", func(p *v1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "ICMP" }, []string{"spec.containers[0].ports[0].protocol"}},
		{"port name not IANA_SVC_NAME", func(p *v1.Pod) { p.Spec.Containers[0].Ports[0].Name = "http_port" }, []string{"spec.containers[0].ports[0].name"}},
		{"duplicate port name", func(p *v1.Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, v1.ContainerPort{Name: "http", ContainerPort: 8081, Protocol: v1.ProtocolTCP})
		}, []string{"spec.containers[0].ports[1].name"}},
		{"host port taken twice", func(p *v1.Pod) {
			p.Spec.Containers[0].Ports[0].HostPort = 80
			p.Spec.Containers = append(p.Spec.Containers, v1.Container{
				Name: "sidecar", Image: "echo:1.0", ImagePullPolicy: v1.PullIfNotPresent, TerminationMessagePolicy: v1.TerminationMessageReadFile,
				Ports: []v1.ContainerPort{{ContainerPort: 9090, HostPort: 80, Protocol: v1.ProtocolTCP}},
			})
		}, []string{"spec.containers[1].ports[0].hostPort"}},
		{"unsupported restart policy", func(p *v1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, []string{"spec.restartPolicy"}},
		{"negative limit", func(p *v1.Pod) {
			p.Spec.Containers[0].Resources.Limits[v1.ResourceCPU] = resource.MustParse("-1")
			p.Spec.Containers[0].Resources.Requests[v1.ResourceCPU] = resource.MustParse("-2")
		}, []string{"spec.containers[0].resources.limits[cpu]", "spec.containers[0].resources.requests[cpu]"}},
		{"request above limit", func(p *v1.Pod) {
			p.Spec.Containers[0].Resources.Requests[v1.ResourceMemory] = resource.MustParse("1Gi")
		}, []string{"spec.containers[0].resources.requests[memory]"}},
		{"unknown resource without domain", func(p *v1.Pod) {
			p.Spec.Containers[0].Resources.Limits["gpu"] = resource.MustParse("1")
		}, []string{"spec.containers[0].resources.limits[gpu]"}},
		{"invalid env name", func(p *v1.Pod) { p.Spec.Containers[0].Env[0].Name = "1MODE" }, []string{"spec.containers[0].env[0].name"}},
		{"env value and valueFrom", func(p *v1.Pod) {
			p.Spec.Containers[0].Env[0].ValueFrom = &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}
		}, []string{"spec.containers[0].env[0].valueFrom"}},
		{"duplicate volume name", func(p *v1.Pod) { p.Spec.Volumes = append(p.Spec.Volumes, p.Spec.Volumes[0]) }, []string{"spec.volumes[1].name"}},
		{"volume with two sources", func(p *v1.Pod) {
			p.Spec.Volumes[0].HostPath = &v1.HostPathVolumeSource{Path: "/srv"}
		}, []string{"spec.volumes[0]"}},
		{"volume with no source", func(p *v1.Pod) { p.Spec.Volumes[0].EmptyDir = nil }, []string{"spec.volumes[0]"}},
		{"mount of unknown volume", func(p *v1.Pod) { p.Spec.Containers[0].VolumeMounts[0].Name = "cache" }, []string{"spec.containers[0].volumeMounts[0].name"}},
		{"subPath escaping the volume", func(p *v1.Pod) { p.Spec.Containers[0].VolumeMounts[0].SubPath = "../etc" }, []string{"spec.containers[0].volumeMounts[0].subPath"}},
		{"invalid node selector", func(p *v1.Pod) { p.Spec.NodeSelector = map[string]string{"zone": "not valid!"} }, []string{"spec.nodeSelector"}},
		{"negative grace period", func(p *v1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr(int64(-1)) }, []string{"spec.terminationGracePeriodSeconds"}},
		{"probe without handler", func(p *v1.Pod) { p.Spec.Containers[0].LivenessProbe = &v1.Probe{} }, []string{"spec.containers[0].livenessProbe"}},
		{"probe on bad port", func(p *v1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &v1.Probe{ProbeHandler: v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{}}}
		}, []string{"spec.containers[0].readinessProbe.tcpSocket.port"}},
		{"toleration with value and Exists", func(p *v1.Pod) {
			p.Spec.Tolerations = []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpExists, Value: "x"}}
		}, []string{"spec.tolerations[0].value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := validPod()
			tt.mutate(pod)
			assertPaths(t, PodStrategy{}.Validate(pod), tt.want...)
		})
	}
}

func TestPodPrepareForCreate(t *testing.T) {
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: v1.PodSpec{
			Containers: []v1.Container{{
				Name: "web", Image: "echo",
				Ports:     []v1.ContainerPort{{ContainerPort: 80}},
				Resources: v1.ResourceRequirements{Limits: v1.ResourceList{v1.ResourceMemory: resource.MustParse("64Mi")}},
			}},
			Volumes: []v1.Volume{{Name: "scratch"}},
		},
		Status: v1.PodStatus{Phase: v1.PodRunning, PodIP: "10.0.0.9"},
	}
	PodStrategy{}.PrepareForCreate(pod)

	if pod.Status.Phase != v1.PodPending || pod.Status.PodIP != "" {
		t.Errorf("status = %+v, want phase Pending only", pod.Status)
	}
	spec, c := pod.Spec, pod.Spec.Containers[0]
	checks := []struct{ field, got, want string }{
		{"restartPolicy", string(spec.RestartPolicy), "Always"},
		{"dnsPolicy", string(spec.DNSPolicy), "ClusterFirst"},
		{"schedulerName", spec.SchedulerName, "default-scheduler"},
		{"imagePullPolicy", string(c.ImagePullPolicy), "Always"},
		{"terminationMessagePath", c.TerminationMessagePath, "/dev/termination-log"},
		{"terminationMessagePolicy", string(c.TerminationMessagePolicy), "File"},
		{"ports[0].protocol", string(c.Ports[0].Protocol), "TCP"},
		{"requests[memory]", c.Resources.Requests.Memory().String(), "64Mi"},
	}
	for _, check := range checks {
		if check.got != check.want {
			t.Errorf("%s = %q, want %q", check.field, check.got, check.want)
		}
	}
	if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds != 30 {
		t.Errorf("terminationGracePeriodSeconds = %v, want 30", spec.TerminationGracePeriodSeconds)
	}
	if spec.Volumes[0].EmptyDir == nil {
		t.Errorf("volume without source was not made an emptyDir")
	}
	if errs := (PodStrategy{}).Validate(pod); len(errs) != 0 {
		t.Errorf("defaulted pod is invalid: %v", errs.ToAggregate())
	}
}

func TestDefaultImagePullPolicy(t *testing.T) {
	tests := []struct {
		image string
		want  v1.PullPolicy
	}{
		{"echo", v1.PullAlways},
		{"echo:latest", v1.PullAlways},
		{"echo:1.0", v1.PullIfNotPresent},
		{"localhost:5000/echo", v1.PullAlways},
		{"localhost:5000/echo:latest", v1.PullAlways},
		{"localhost:5000/team/echo:1.0", v1.PullIfNotPresent},
		{"echo@sha256:0123456789abcdef", v1.PullIfNotPresent},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			if got := defaultImagePullPolicy(tt.image); got != tt.want {
				t.Errorf("defaultImagePullPolicy(%q) = %s, want %s", tt.image, got, tt.want)
			}
		})
	}
}

// storedPod returns validPod as the registry would have stored it.
func storedPod() *v1.Pod {
	pod := validPod()
	pod.UID = "uid-1"
	pod.ResourceVersion = "7"
	pod.CreationTimestamp = metav1.Unix(1700000000, 0)
	return pod
}

func TestPodValidateUpdate(t *testing.T) {
	tests := []struct {
		name    string
		old     func(*v1.Pod)
		mutate  func(*v1.Pod)
		want    []string
		wantMsg string
	}{
		{name: "labels and image may change", mutate: func(p *v1.Pod) {
			p.Labels["tier"] = "front"
			p.Spec.Containers[0].Image = "echo:2.0"
		}},
		{name: "scheduler binds an unbound pod", mutate: func(p *v1.Pod) { p.Spec.NodeName = "node-1" }},
		{name: "bound pod may not move",
			old:    func(p *v1.Pod) { p.Spec.NodeName = "node-1" },
			mutate: func(p *v1.Pod) { p.Spec.NodeName = "node-2" },
			want:   []string{"spec.nodeName"}},
		{name: "restart policy is immutable",
			mutate:  func(p *v1.Pod) { p.Spec.RestartPolicy = v1.RestartPolicyNever },
			want:    []string{"spec"},
			wantMsg: "pod updates may not change fields other than"},
		{name: "container ports are immutable",
			mutate:  func(p *v1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 9090 },
			want:    []string{"spec"},
			wantMsg: "changed: spec.containers"},
		{name: "tolerations may be added", mutate: func(p *v1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, v1.Toleration{Key: "dedicated", Operator: v1.TolerationOpExists})
		}},
		{name: "tolerations may not be removed",
			old: func(p *v1.Pod) {
				p.Spec.Tolerations = []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpExists}}
			},
			mutate: func(p *v1.Pod) { p.Spec.Tolerations = nil },
			want:   []string{"spec.tolerations"}},
		{name: "active deadline may shrink",
			old:    func(p *v1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(60)) },
			mutate: func(p *v1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(30)) }},
		{name: "active deadline may not grow",
			old:    func(p *v1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(60)) },
			mutate: func(p *v1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(90)) },
			want:   []string{"spec.activeDeadlineSeconds"}},
		{name: "new image must be set",
			mutate: func(p *v1.Pod) { p.Spec.Containers[0].Image = "" },
			want:   []string{"spec.containers[0].image"}},
		{name: "resourceVersion required",
			mutate: func(p *v1.Pod) { p.ResourceVersion = "" },
			want:   []string{"metadata.resourceVersion"}},
		{name: "name is immutable",
			mutate: func(p *v1.Pod) { p.Name = "web-2" },
			want:   []string{"metadata.name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := storedPod()
			if tt.old != nil {
				tt.old(old)
			}
			pod := old.DeepCopy()
			tt.mutate(pod)
			PodStrategy{}.PrepareForUpdate(pod, old)
			errs := PodStrategy{}.ValidateUpdate(pod, old)
			assertPaths(t, errs, tt.want...)
			if tt.wantMsg != "" && !strings.Contains(errs.ToAggregate().Error(), tt.wantMsg) {
				t.Errorf("errors %v do not say %q", errs.ToAggregate(), tt.wantMsg)
			}
		})
	}
}

func TestPodPrepareForUpdate(t *testing.T) {
	old := storedPod()
	old.Status = v1.PodStatus{Phase: v1.PodRunning, PodIP: "10.0.0.9"}

	// A manifest as a user wrote it: no defaults, no uid, no status.
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: old.Name, Namespace: old.Namespace, ResourceVersion: old.ResourceVersion, Labels: old.Labels},
		Spec:       *old.Spec.DeepCopy(),
		Status:     v1.PodStatus{Phase: v1.PodFailed},
	}
	pod.Spec.DNSPolicy, pod.Spec.SchedulerName, pod.Spec.TerminationGracePeriodSeconds = "", "", nil
	pod.Spec.Containers[0].ImagePullPolicy = ""

	PodStrategy{}.PrepareForUpdate(pod, old)
	if pod.Status.Phase != v1.PodRunning || pod.Status.PodIP != "10.0.0.9" {
		t.Errorf("status = %+v, want the old status", pod.Status)
	}
	if pod.UID != old.UID || !pod.CreationTimestamp.Equal(&old.CreationTimestamp) {
		t.Errorf("uid, creationTimestamp = %q, %v, want the old ones", pod.UID, pod.CreationTimestamp)
	}
	assertPaths(t, PodStrategy{}.ValidateUpdate(pod, old))
}

func TestPodStatusUpdate(t *testing.T) {
	old := storedPod()
	old.Spec.NodeName = "node-1"

	pod := old.DeepCopy()
	pod.ResourceVersion = "8"
	pod.Labels = map[string]string{"hijacked": "yes"}
	pod.Spec.NodeName = "node-2"
	pod.Spec.Containers[0].Image = "evil:1"
	pod.Status = v1.PodStatus{Phase: v1.PodRunning, PodIP: "10.0.0.9", HostIP: "192.168.1.5"}

	PodStrategy{}.PrepareForStatusUpdate(pod, old)
	assertPaths(t, PodStrategy{}.ValidateUpdate(pod, old))
	if pod.Spec.NodeName != "node-1" || pod.Spec.Containers[0].Image != old.Spec.Containers[0].Image {
		t.Errorf("spec changed through status: nodeName %q image %q", pod.Spec.NodeName, pod.Spec.Containers[0].Image)
	}
	if pod.Labels["app"] != "web" || pod.Labels["hijacked"] != "" {
		t.Errorf("labels = %v, want the old ones", pod.Labels)
	}
	if pod.ResourceVersion != "8" {
		t.Errorf("resourceVersion = %q, want the client's precondition 8", pod.ResourceVersion)
	}
	if pod.Status.Phase != v1.PodRunning || pod.Status.PodIP != "10.0.0.9" {
		t.Errorf("status = %+v, want the new status", pod.Status)
	}
}

func TestPodStatusValidation(t *testing.T) {
	tests := []struct {
		name     string
		oldPhase v1.PodPhase
		status   v1.PodStatus
		want     []string
	}{
		{"running", v1.PodPending, v1.PodStatus{Phase: v1.PodRunning, PodIP: "10.0.0.9"}, nil},
		{"unknown phase", v1.PodPending, v1.PodStatus{Phase: "Sleeping"}, []string{"status.phase"}},
		{"leaving a terminal phase", v1.PodSucceeded, v1.PodStatus{Phase: v1.PodRunning}, []string{"status.phase"}},
		{"bad pod IP", v1.PodPending, v1.PodStatus{Phase: v1.PodRunning, PodIP: "10.0.0"}, []string{"status.podIP"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := storedPod()
			old.Status.Phase = tt.oldPhase
			pod := old.DeepCopy()
			pod.Status = tt.status
			PodStrategy{}.PrepareForStatusUpdate(pod, old)
			assertPaths(t, PodStrategy{}.ValidateUpdate(pod, old), tt.want...)
		})
	}
}

func TestPodFields(t *testing.T) {
	pod := validPod()
	pod.Spec.NodeName = "node-1"
	pod.Status.PodIP = "10.0.0.9"
	got := PodStrategy{}.Fields(pod)
	want := map[string]string{
		"metadata.name":      "web-1",
		"metadata.namespace": "shop",
		"spec.nodeName":      "node-1",
		"spec.restartPolicy": "Always",
		"spec.schedulerName": "default-scheduler",
		"status.phase":       "Pending",
		"status.podIP":       "10.0.0.9",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Fields()[%q] = %q, want %q", k, got[k], v)
		}
	}
}

// validatePodSpec is shared with templates; the path it reports under is
// the caller's.
func TestValidatePodSpecPath(t *testing.T) {
	spec := validPod().Spec
	spec.Containers[0].Image = ""
	assertPaths(t, validatePodSpec(&spec, field.NewPath("spec", "template", "spec")), "spec.template.spec.containers[0].image")
}
