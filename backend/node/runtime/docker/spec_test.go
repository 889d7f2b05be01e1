package docker

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
)

func testPod() *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "0123456789abcdef"},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "app", Image: "img:1"}}},
	}
}

func TestExpand(t *testing.T) {
	lookup := envLookup([]string{"A=1", "B=two", "A=3"})
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"$(A)", "3"},
		{"x-$(B)-y", "x-two-y"},
		{"$(MISSING)", "$(MISSING)"},
		{"$$(A)", "$(A)"},
		{"cost $5", "cost $5"},
		{"trailing $", "trailing $"},
		{"open $(A", "open $(A"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := expand(tt.in, lookup); got != tt.want {
				t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPullPolicy(t *testing.T) {
	tests := []struct {
		image  string
		policy v1.PullPolicy
		want   v1.PullPolicy
	}{
		{"nginx", "", v1.PullAlways},
		{"nginx:latest", "", v1.PullAlways},
		{"nginx:1.25", "", v1.PullIfNotPresent},
		{"localhost:5000/nginx", "", v1.PullAlways},
		{"nginx@sha256:abc", "", v1.PullIfNotPresent},
		{"nginx", v1.PullNever, v1.PullNever},
	}
	for _, tt := range tests {
		t.Run(tt.image+"/"+string(tt.policy), func(t *testing.T) {
			c := &v1.Container{Image: tt.image, ImagePullPolicy: tt.policy}
			if got := pullPolicy(c); got != tt.want {
				t.Errorf("pullPolicy = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestContainerName(t *testing.T) {
	if got, want := containerName(testPod(), "app", 2), "berth_shop_web_app_01234567_2"; got != want {
		t.Errorf("containerName = %q, want %q", got, want)
	}
}

func TestAppConfig(t *testing.T) {
	privileged := true
	tests := []struct {
		name    string
		edit    func(*v1.Pod)
		allowHP bool
		check   func(t *testing.T, env []string, cmd, entrypoint []string)
		wantErr string
	}{
		{
			name: "image defaults",
			check: func(t *testing.T, env, cmd, ep []string) {
				if cmd != nil || ep != nil {
					t.Errorf("cmd %q entrypoint %q, want the image's", cmd, ep)
				}
			},
		},
		{
			name: "command replaces the entrypoint, args the cmd",
			edit: func(p *v1.Pod) {
				p.Spec.Containers[0].Command = []string{"/bin/sh", "-c"}
				p.Spec.Containers[0].Args = []string{"echo $(POD_NAME) $(GREETING)"}
				p.Spec.Containers[0].Env = []v1.EnvVar{{Name: "GREETING", Value: "hi-$(POD_NAMESPACE)"}}
			},
			check: func(t *testing.T, env, cmd, ep []string) {
				if !slices.Equal(ep, []string{"/bin/sh", "-c"}) || !slices.Equal(cmd, []string{"echo web hi-shop"}) {
					t.Errorf("entrypoint %q cmd %q", ep, cmd)
				}
				for _, want := range []string{"POD_NAME=web", "POD_NAMESPACE=shop", "POD_IP=172.17.0.9", "GREETING=hi-shop"} {
					if !slices.Contains(env, want) {
						t.Errorf("env %q lacks %q", env, want)
					}
				}
			},
		},
		{
			name: "args alone keep the entrypoint",
			edit: func(p *v1.Pod) { p.Spec.Containers[0].Args = []string{"-v"} },
			check: func(t *testing.T, env, cmd, ep []string) {
				if ep != nil || !slices.Equal(cmd, []string{"-v"}) {
					t.Errorf("entrypoint %q cmd %q", ep, cmd)
				}
			},
		},
		{
			name: "fieldRef",
			edit: func(p *v1.Pod) {
				p.Spec.Containers[0].Env = []v1.EnvVar{{Name: "ME", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.uid"}}}}
			},
			check: func(t *testing.T, env, cmd, ep []string) {
				if !slices.Contains(env, "ME=0123456789abcdef") {
					t.Errorf("env %q", env)
				}
			},
		},
		{
			name: "a secret the pod has not been given",
			edit: func(p *v1.Pod) {
				p.Spec.Containers[0].Env = []v1.EnvVar{{Name: "S", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{
					LocalObjectReference: v1.LocalObjectReference{Name: "creds"}, Key: "k"}}}}
			},
			wantErr: `env "S": secret "creds" not found`,
		},
		{
			name: "resource fields are not resolved here",
			edit: func(p *v1.Pod) {
				p.Spec.Containers[0].Env = []v1.EnvVar{{Name: "S", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.cpu"}}}}
			},
			wantErr: "fieldRef",
		},
		{
			name:    "privileged",
			edit:    func(p *v1.Pod) { p.Spec.Containers[0].SecurityContext = &v1.SecurityContext{Privileged: &privileged} },
			wantErr: "privileged",
		},
		{
			name:    "hostPath not allowed",
			edit:    withHostPath("/srv/data"),
			wantErr: "not allowed",
		},
		{
			name:    "docker socket",
			edit:    withHostPath("/var/run/docker.sock"),
			allowHP: true,
			wantErr: "Docker socket",
		},
		{
			name:    "directory of the docker socket",
			edit:    withHostPath("/run"),
			allowHP: true,
			wantErr: "Docker socket",
		},
		{
			name:    "root",
			edit:    withHostPath("/"),
			allowHP: true,
			wantErr: "Docker socket",
		},
		{
			name:    "allowed hostPath",
			edit:    withHostPath("/srv/data"),
			allowHP: true,
		},
		{
			name:    "unsupported volume",
			edit:    func(p *v1.Pod) { withHostPath("/x")(p); p.Spec.Volumes[0].HostPath = nil },
			wantErr: "only emptyDir, hostPath, secret and configMap",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod()
			if tt.edit != nil {
				tt.edit(pod)
			}
			spec := appSpec{infraID: "abc", podIP: "172.17.0.9", stateDir: "/state"}
			if tt.allowHP {
				spec.hostPath = &hostPathPolicy{sockets: []string{"/var/run/docker.sock", "/run/docker.sock"}}
			}
			cfg, host, err := appConfig(pod, &pod.Spec.Containers[0], spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one that says %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if host.Privileged || host.NetworkMode != "container:abc" || !slices.Contains(host.SecurityOpt, "no-new-privileges") {
				t.Errorf("host config %+v", host)
			}
			for _, c := range droppedCaps {
				if !slices.Contains(host.CapDrop, c) {
					t.Errorf("CapDrop %q lacks %s", host.CapDrop, c)
				}
			}
			if cfg.Labels[runtime.LabelPodUID] != "0123456789abcdef" || cfg.Labels[runtime.LabelContainer] != "app" {
				t.Errorf("labels %v", cfg.Labels)
			}
			if tt.check != nil {
				tt.check(t, cfg.Env, cfg.Cmd, cfg.Entrypoint)
			}
		})
	}
}

func withHostPath(path string) func(*v1.Pod) {
	return func(p *v1.Pod) {
		p.Spec.Volumes = []v1.Volume{{Name: "data", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: path}}}}
		p.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{{Name: "data", MountPath: "/data"}}
	}
}

func TestResourcesAndPorts(t *testing.T) {
	pod := testPod()
	c := &pod.Spec.Containers[0]
	c.Resources.Limits = v1.ResourceList{
		v1.ResourceMemory: resource.MustParse("64Mi"),
		v1.ResourceCPU:    resource.MustParse("250m"),
	}
	c.Ports = []v1.ContainerPort{{ContainerPort: 8080, HostPort: 18080}, {ContainerPort: 53, Protocol: v1.ProtocolUDP, HostPort: 5353}, {ContainerPort: 9090}}
	_, host, err := appConfig(pod, c, appSpec{infraID: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	if host.Memory != 64<<20 || host.NanoCPUs != 250_000_000 {
		t.Errorf("Memory %d NanoCPUs %d", host.Memory, host.NanoCPUs)
	}
	_, infraHost := infraConfig(pod, "infra", 0)
	if got := infraHost.PortBindings["8080/tcp"]; len(got) != 1 || got[0].HostPort != "18080" {
		t.Errorf("8080/tcp bindings %v", got)
	}
	if got := infraHost.PortBindings["53/udp"]; len(got) != 1 || got[0].HostPort != "5353" {
		t.Errorf("53/udp bindings %v", got)
	}
	if len(infraHost.PortBindings) != 2 {
		t.Errorf("bindings %v, want only the ports with a host port", infraHost.PortBindings)
	}
}

func TestHostPathSymlinkToSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "docker.sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "innocent")
	if err := os.Symlink(sock, link); err != nil {
		t.Fatal(err)
	}
	p := &hostPathPolicy{sockets: []string{sock}}
	if err := p.check(link); err == nil {
		t.Errorf("a link to the socket passed")
	}
	if err := p.check(filepath.Join(dir, "other")); err != nil {
		t.Errorf("an unrelated path: %v", err)
	}
}

func TestParseOstreeStatus(t *testing.T) {
	out := "  fedora 1111.0\n    origin refspec: x\n* fedora 3a4b5c.0\n    Version: 39\n"
	if got := parseOstreeStatus(out); got != "fedora 3a4b5c.0" {
		t.Errorf("parseOstreeStatus = %q", got)
	}
	if got := parseOstreeStatus("nothing booted\n"); got != "" {
		t.Errorf("parseOstreeStatus = %q, want empty", got)
	}
}

// A volume's files are written as a version the ..data link points to;
// a rewrite with the same files changes nothing, one with other files
// replaces the version and drops the names that left, and a path that
// would leave the volume is refused.
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	write := func(files map[string]volumeFile) {
		t.Helper()
		if err := writeAtomic(dir, files, now); err != nil {
			t.Fatal(err)
		}
	}
	read := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write(map[string]volumeFile{"a": {data: []byte("1"), mode: 0o644}, "conf/b": {data: []byte("2"), mode: 0o600}})
	first, _ := os.Readlink(filepath.Join(dir, dataDirName))
	if read("a") != "1" || read("conf/b") != "2" {
		t.Fatalf("files: %q %q", read("a"), read("conf/b"))
	}
	if fi, err := os.Stat(filepath.Join(dir, "conf/b")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode of conf/b: %v %v", fi, err)
	}
	write(map[string]volumeFile{"a": {data: []byte("1"), mode: 0o644}, "conf/b": {data: []byte("2"), mode: 0o600}})
	if again, _ := os.Readlink(filepath.Join(dir, dataDirName)); again != first {
		t.Errorf("the same files were written again: %s, then %s", first, again)
	}
	write(map[string]volumeFile{"a": {data: []byte("3"), mode: 0o644}})
	if read("a") != "3" {
		t.Errorf("a after the update: %q", read("a"))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 || !slices.Contains(names, "a") || !slices.Contains(names, dataDirName) || slices.Contains(names, first) {
		t.Errorf("entries after the update: %q, want a, ..data and one version", names)
	}
	for _, bad := range []string{"../escape", "/etc/passwd", "..data/x", "a/../../x"} {
		if _, err := volumeFiles(&v1.Volume{Name: "v", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{
			LocalObjectReference: v1.LocalObjectReference{Name: "cm"}, Items: []v1.KeyToPath{{Key: "k", Path: bad}},
		}}}, runtime.PodData{ConfigMaps: map[string]*v1.ConfigMap{"cm": {Data: map[string]string{"k": "v"}}}}); err == nil {
			t.Errorf("path %q accepted", bad)
		}
	}
}
