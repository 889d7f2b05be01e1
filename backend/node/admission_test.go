package node_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berthpaas/berth/backend/node"
	"github.com/berthpaas/berth/backend/node/runtime/fake"
	"github.com/berthpaas/berth/backend/testenv"
)

// TestAgentAdmitsAndEvicts: a pod bound straight to the node (nodeName
// set, no scheduler) that does not fit beside the running ones is failed
// as the kubelet fails it and never started, also after an agent restart;
// a pod whose emptyDir grows past its limit is evicted.
func TestAgentAdmitsAndEvicts(t *testing.T) {
	env := testenv.Start(t)
	rt := fake.New(fake.Options{CPUs: 2, MemoryBytes: 1 << 30})
	cfg := node.Config{
		Master: env.URL, BootstrapTokenFile: bootstrapToken(t, env, "small"), Name: "small",
		StateDir: t.TempDir(), Runtime: rt,
	}
	ag := startAgent(t, cfg)
	const ns = "admission"
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces", env.AdminToken, map[string]any{"metadata": map[string]string{"name": ns}}), http.StatusCreated)
	create := func(p *v1.Pod) *v1.Pod {
		t.Helper()
		resp := env.Do(t, "POST", "/api/v1/namespaces/"+ns+"/pods", env.AdminToken, p)
		mustCode(t, resp, http.StatusCreated)
		var created v1.Pod
		resp.JSON(t, &created)
		return &created
	}
	withCPU := func(p *v1.Pod, cpu string) *v1.Pod {
		p.Spec.Containers[0].Resources.Requests = v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}
		return p
	}
	withHostPort := func(p *v1.Pod, port int32) *v1.Pod {
		p.Spec.Containers[0].Ports = []v1.ContainerPort{{ContainerPort: 80, HostPort: port}}
		return p
	}
	failed := func(name, reason, msg string) {
		t.Helper()
		eventually(t, 10*time.Second, name+" failed with "+reason, func() (bool, string) {
			p, _ := getPod(t, env, ns, name)
			if p == nil {
				return false, "no pod"
			}
			return p.Status.Phase == v1.PodFailed && p.Status.Reason == reason && (msg == "" || p.Status.Message == msg),
				fmt.Sprintf("phase %q reason %q message %q", p.Status.Phase, p.Status.Reason, p.Status.Message)
		})
	}
	running := func(name string) {
		t.Helper()
		eventually(t, 10*time.Second, name+" running", func() (bool, string) { p, _ := getPod(t, env, ns, name); return podRunning(p) })
	}

	big := create(withCPU(boundPod("big", "small"), "1800m"))
	running("big")
	over := create(withCPU(boundPod("over", "small"), "500m"))
	failed("over", "OutOfcpu", "Pod was rejected: Node didn't have enough resource: cpu, requested: 500, used: 1800, capacity: 2000")
	create(withHostPort(boundPod("port-a", "small"), 18080))
	running("port-a")
	taken := create(withHostPort(boundPod("port-b", "small"), 18080))
	failed("port-b", "NodePorts", "Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports")

	// An agent restart admits the pods again, oldest first: the running
	// ones keep running, the rejected ones stay failed and never start.
	ag.stop(t)
	startAgent(t, cfg) // stopped when the test ends
	filler := withCPU(boundPod("filler", "small"), "150m")
	size := resource.MustParse("1Mi")
	filler.Spec.Volumes = []v1.Volume{{Name: "v", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{SizeLimit: &size}}}}
	filler = create(filler)
	running("filler")
	running("big")
	running("port-a")
	for _, uid := range podUIDs(t, rt) {
		if uid == string(over.UID) || uid == string(taken.UID) {
			t.Fatalf("a rejected pod has containers after an agent restart")
		}
	}
	if !slices.Contains(podUIDs(t, rt), string(big.UID)) {
		t.Fatalf("big lost its containers")
	}

	// The emptyDir grows past its limit: evicted, containers killed.
	if err := rt.SetVolumeUsage(string(filler.UID), "v", 2<<20); err != nil {
		t.Fatal(err)
	}
	failed("filler", "Evicted", `Usage of EmptyDir volume "v" exceeds the limit "1Mi". `)
	if slices.Contains(podUIDs(t, rt), string(filler.UID)) {
		t.Errorf("the evicted pod's containers still run")
	}
	p, _ := getPod(t, env, ns, "filler")
	if !slices.ContainsFunc(p.Status.Conditions, func(c v1.PodCondition) bool {
		return c.Type == v1.DisruptionTarget && c.Status == v1.ConditionTrue && c.Reason == v1.PodReasonTerminationByKubelet
	}) {
		t.Errorf("conditions %+v lack DisruptionTarget", p.Status.Conditions)
	}
	// The evicted pod no longer counts: a pod that needs its room fits.
	create(withCPU(boundPod("after", "small"), "200m"))
	running("after")
}
