package cli_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berthpaas/berth/client"
	"github.com/berthpaas/berth/client/clienttest"
)

// stored decodes an object of the fake into out.
func stored(t *testing.T, obj clienttest.Object, out any) {
	t.Helper()
	if obj == nil {
		t.Fatal("object not stored")
	}
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
}

func TestRunPod(t *testing.T) {
	f := newFixture(t)
	out := mustRun(t, "", "run", "web", "--image", "hello:1", "--port", "8080", "-p", "53/udp",
		"--env", "GREETING=hi, there", "-e", "EMPTY=", "-l", "tier=front,team=a",
		"--restart", "never", "--cpu", "500m", "--memory", "128Mi", "--", "serve", "--verbose")
	if out != "pod/web created\n" {
		t.Errorf("output = %q", out)
	}
	var pod corev1.Pod
	stored(t, f.srv.Object(client.Pods, "dev", "web"), &pod)
	if want := map[string]string{"run": "web", "tier": "front", "team": "a"}; !reflect.DeepEqual(pod.Labels, want) {
		t.Errorf("labels = %v, want %v", pod.Labels, want)
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever || len(pod.Spec.Containers) != 1 {
		t.Fatalf("spec = %+v", pod.Spec)
	}
	ct := pod.Spec.Containers[0]
	if ct.Name != "web" || ct.Image != "hello:1" || ct.Command != nil || !reflect.DeepEqual(ct.Args, []string{"serve", "--verbose"}) {
		t.Errorf("container = %+v", ct)
	}
	wantPorts := []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}}
	if !reflect.DeepEqual(ct.Ports, wantPorts) {
		t.Errorf("ports = %+v", ct.Ports)
	}
	wantEnv := []corev1.EnvVar{{Name: "GREETING", Value: "hi, there"}, {Name: "EMPTY"}}
	if !reflect.DeepEqual(ct.Env, wantEnv) {
		t.Errorf("env = %+v", ct.Env)
	}
	for name, list := range map[string]corev1.ResourceList{"requests": ct.Resources.Requests, "limits": ct.Resources.Limits} {
		if list.Cpu().Cmp(resource.MustParse("500m")) != 0 || list.Memory().Cmp(resource.MustParse("128Mi")) != 0 {
			t.Errorf("%s = %v", name, list)
		}
	}
}

func TestRunCommandReplacesEntrypoint(t *testing.T) {
	f := newFixture(t)
	mustRun(t, "", "run", "shell", "--image", "busybox", "--command", "--", "sleep", "60")
	var pod corev1.Pod
	stored(t, f.srv.Object(client.Pods, "dev", "shell"), &pod)
	ct := pod.Spec.Containers[0]
	if !reflect.DeepEqual(ct.Command, []string{"sleep", "60"}) || ct.Args != nil || pod.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("container = %+v, restart %s", ct, pod.Spec.RestartPolicy)
	}
}

func TestRunReplicationController(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int32
	}{
		{"replicas above one", []string{"--replicas", "3"}, 3},
		{"--rc with one", []string{"--rc"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			args := append([]string{"run", "web", "--image", "hello:1", "-l", "tier=front"}, tt.args...)
			if out := mustRun(t, "", args...); out != "replicationcontroller/web created\n" {
				t.Errorf("output = %q", out)
			}
			if f.srv.Object(client.Pods, "dev", "web") != nil {
				t.Error("a bare pod was created too")
			}
			var rc corev1.ReplicationController
			stored(t, f.srv.Object(client.ReplicationControllers, "dev", "web"), &rc)
			if rc.Spec.Replicas == nil || *rc.Spec.Replicas != tt.want {
				t.Errorf("replicas = %v, want %d", rc.Spec.Replicas, tt.want)
			}
			if !reflect.DeepEqual(rc.Spec.Selector, map[string]string{"run": "web"}) {
				t.Errorf("selector = %v", rc.Spec.Selector)
			}
			tmpl := rc.Spec.Template
			if tmpl == nil || !reflect.DeepEqual(tmpl.Labels, map[string]string{"run": "web", "tier": "front"}) || tmpl.Spec.Containers[0].Image != "hello:1" {
				t.Errorf("template = %+v", tmpl)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no image", []string{"run", "web"}, `"image" not set`},
		{"bad port", []string{"run", "web", "--image", "x", "--port", "http"}, `--port "http"`},
		{"port out of range", []string{"run", "web", "--image", "x", "--port", "70000"}, `--port "70000"`},
		{"bad protocol", []string{"run", "web", "--image", "x", "--port", "80/icmp"}, `unknown protocol "icmp"`},
		{"bad env", []string{"run", "web", "--image", "x", "--env", "NOVALUE"}, `--env "NOVALUE"`},
		{"bad label", []string{"run", "web", "--image", "x", "-l", "novalue"}, `--labels "novalue"`},
		{"bad restart", []string{"run", "web", "--image", "x", "--restart", "sometimes"}, `--restart "sometimes"`},
		{"rc that does not restart", []string{"run", "web", "--image", "x", "--replicas", "2", "--restart", "Never"}, "restart Always"},
		{"bad cpu", []string{"run", "web", "--image", "x", "--cpu", "lots"}, `--cpu "lots"`},
		{"args without dash", []string{"run", "web", "--image", "x", "sleep"}, "give only NAME before --"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, _, err := run(t, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to mention %q", err, tt.want)
			}
			if writes := f.srv.Writes(); len(writes) != 0 {
				t.Errorf("writes = %q, want none", writes)
			}
		})
	}
}

func TestRunAlreadyExists(t *testing.T) {
	newFixture(t)
	mustRun(t, "", "run", "web", "--image", "x")
	if _, _, err := run(t, "", "run", "web", "--image", "x"); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second run error = %v, want AlreadyExists", err)
	}
}

func TestScale(t *testing.T) {
	f := newFixture(t)
	mustRun(t, "", "run", "web", "--image", "x", "--rc", "-l", "tier=front")
	for _, args := range [][]string{{"scale", "rc", "web", "--replicas", "4"}, {"scale", "replicationcontroller/web", "--replicas", "4"}} {
		if out := mustRun(t, "", args...); out != "replicationcontroller/web scaled\n" {
			t.Errorf("output = %q", out)
		}
	}
	var rc corev1.ReplicationController
	stored(t, f.srv.Object(client.ReplicationControllers, "dev", "web"), &rc)
	if *rc.Spec.Replicas != 4 || rc.Spec.Template.Labels["tier"] != "front" {
		t.Errorf("after scale: replicas %d, template labels %v", *rc.Spec.Replicas, rc.Spec.Template.Labels)
	}
	for _, r := range f.srv.Requests() {
		if r.Method == "PATCH" && string(r.Body) != `{"spec":{"replicas":4}}` {
			t.Errorf("patch body = %s", r.Body)
		}
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"scale", "pod", "web", "--replicas", "2"}, "not pods"},
		{[]string{"scale", "rc", "web"}, "--replicas is required"},
		{[]string{"scale", "rc", "nope", "--replicas", "1"}, `"nope" not found`},
	} {
		if _, _, err := run(t, "", tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("berth %s: error = %v, want %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
}
