package node_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berthpaas/berth/backend/node"
	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/docker"
	"github.com/berthpaas/berth/backend/node/runtime/imagetest"
	"github.com/berthpaas/berth/backend/remotecommand"
	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
)

// TestAgentOnDocker runs the agent on the real Docker engine: a pod of the
// test shell image runs, answers exec through the master, and its
// containers go when it is deleted.
func TestAgentOnDocker(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	const ns = "dockertest"
	rt, shell := startDockerAgent(t, env, ns, node.Config{Name: "docker-node"})
	pod := boundPod("sh", "docker-node")
	pod.Spec.Containers[0].Image = shell
	pod.Spec.Containers[0].ImagePullPolicy = v1.PullNever
	pod.Spec.Containers[0].Command = []string{"sh", "-c", "echo started; sleep 3600"}
	grace := int64(1)
	pod.Spec.TerminationGracePeriodSeconds = &grace
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/"+ns+"/pods", env.AdminToken, pod), http.StatusCreated)
	eventually(t, 60*time.Second, "docker pod running", func() (bool, string) {
		p, _ := getPod(t, env, ns, "sh")
		if p == nil {
			return false, "no pod"
		}
		return p.Status.Phase == v1.PodRunning && p.Status.PodIP != "", p.Status.String()
	})
	p, _ := getPod(t, env, ns, "sh")
	if id := p.Status.ContainerStatuses[0].ContainerID; !strings.HasPrefix(id, "docker://") {
		t.Errorf("container ID %q", id)
	}

	eventually(t, 10*time.Second, "log", func() (bool, string) {
		resp := env.Do(t, "GET", "/api/v1/namespaces/"+ns+"/pods/sh/log", env.AdminToken, nil)
		return resp.Code == 200 && string(resp.Body) == "started\n", string(resp.Body)
	})
	q := url.Values{"command": {"sh", "-c", "echo hi; exit 3"}, "stdout": {"1"}}
	sess, err := remotecommand.Dial(ctx, "ws"+strings.TrimPrefix(env.URL, "http")+
		"/api/v1/namespaces/"+ns+"/pods/sh/exec?"+q.Encode(),
		http.Header{"Authorization": {"Bearer " + env.AdminToken}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	code, err := sess.Run(ctx, nil, &out, nil, nil)
	if err != nil || code != 3 || out.String() != "hi\n" {
		t.Fatalf("exec = %d, %v, %q", code, err, out.String())
	}

	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/"+ns+"/pods/sh", env.AdminToken, nil), http.StatusOK)
	eventually(t, 30*time.Second, "docker pod removed", func() (bool, string) {
		_, code := getPod(t, env, ns, "sh")
		return code == http.StatusNotFound, http.StatusText(code)
	})
	for _, uid := range podUIDs(t, rt) {
		if uid == string(p.UID) {
			t.Fatal("containers of the deleted pod remain")
		}
	}
}

// TestAgentBoundsOnDocker: on the real engine, a container that writes
// past its emptyDir's limit gets its pod evicted and its containers
// removed, and a pod bound to the node that asks for more memory than the
// host has is rejected without a container ever being created.
func TestAgentBoundsOnDocker(t *testing.T) {
	env := testenv.Start(t)
	const ns = "dockerbounds"
	rt, shell := startDockerAgent(t, env, ns, node.Config{Name: "docker-bounds"})
	grace := int64(1)
	shellPod := func(name, script string) *v1.Pod {
		p := boundPod(name, "docker-bounds")
		p.Spec.TerminationGracePeriodSeconds = &grace
		c := &p.Spec.Containers[0]
		c.Image, c.ImagePullPolicy, c.Command = shell, v1.PullNever, []string{"sh", "-c", script}
		return p
	}
	failedWith := func(name, reason string) *v1.Pod {
		t.Helper()
		var last *v1.Pod
		eventually(t, 60*time.Second, name+" failed with "+reason, func() (bool, string) {
			last, _ = getPod(t, env, ns, name)
			if last == nil {
				return false, "no pod"
			}
			return last.Status.Phase == v1.PodFailed && last.Status.Reason == reason, last.Status.String()
		})
		return last
	}

	writer := shellPod("writer", "dd if=/dev/zero of=/v/fill bs=1M count=4; sleep 3600")
	writer.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{{Name: "v", MountPath: "/v"}}
	limit := resource.MustParse("2Mi")
	writer.Spec.Volumes = []v1.Volume{{Name: "v", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{SizeLimit: &limit}}}}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/"+ns+"/pods", env.AdminToken, writer), http.StatusCreated)
	p := failedWith("writer", "Evicted")
	if want := `Usage of EmptyDir volume "v" exceeds the limit "2Mi". `; p.Status.Message != want {
		t.Errorf("message %q, want %q", p.Status.Message, want)
	}
	eventually(t, 30*time.Second, "the evicted pod's containers removed", func() (bool, string) {
		return !slices.Contains(podUIDs(t, rt), string(p.UID)), "still there"
	})

	greedy := shellPod("greedy", "sleep 3600")
	greedy.Spec.Containers[0].Resources.Requests = v1.ResourceList{v1.ResourceMemory: resource.MustParse("64Ti")}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/"+ns+"/pods", env.AdminToken, greedy), http.StatusCreated)
	p = failedWith("greedy", "OutOfmemory")
	if !strings.HasPrefix(p.Status.Message, "Pod was rejected: Node didn't have enough resource: memory, requested: 70368744177664, used: 0, capacity: ") {
		t.Errorf("message %q", p.Status.Message)
	}
	if slices.Contains(podUIDs(t, rt), string(p.UID)) {
		t.Errorf("the rejected pod has containers")
	}
}

// startDockerAgent runs an agent of cfg (its Name set; master, token,
// state and runtime filled in) on a runtime of the real engine, with the
// project ns created and no container of ns left from an earlier run; it
// returns the runtime and the test shell image.
func startDockerAgent(t *testing.T, env *testenv.Env, ns string, cfg node.Config) (*docker.Runtime, string) {
	t.Helper()
	ctx := t.Context()
	cli := imagetest.Client(t)
	imagetest.RemoveContainers(t, cli, runtime.LabelPodNamespace+"="+ns)
	shell := imagetest.BuildShellImage(ctx, t, cli)
	rt, err := docker.New(ctx, docker.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	if _, err := rt.EnsureInfraImage(ctx); err != nil {
		t.Fatal(err)
	}
	cfg.Master, cfg.BootstrapTokenFile = env.URL, bootstrapToken(t, env, cfg.Name)
	cfg.StateDir, cfg.Runtime = t.TempDir(), rt
	startAgent(t, cfg)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces", env.AdminToken, map[string]any{"metadata": map[string]string{"name": ns}}), http.StatusCreated)
	return rt, shell
}
