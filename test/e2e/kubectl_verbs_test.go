package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
)

// TestKubectlEverydayVerbs runs the kubectl verbs a user reaches for every
// day, not covered elsewhere, against a real pod and node: wait, label,
// annotate, the three kinds of patch, edit, cp both ways, events, set,
// cordon, taint, drain, uncordon, cluster-info and api-versions; and
// kubectl debug node/… refused.
func TestKubectlEverydayVerbs(t *testing.T) {
	t.Parallel()
	c := startPodCluster(t, "e2e-verbs")
	k := newKubectl(t, c.env, c.env.AdminToken)
	ns := []string{"-n", c.ns}
	run := func(args ...string) string { t.Helper(); return k.mustRun(append(ns, args...)...) }

	c.create(c.shellPod("app", v1.RestartPolicyAlways, "sleep 3600 & wait"))
	if out := run("wait", "--for=condition=Ready", "pod/app", "--timeout=120s"); !strings.Contains(out, "condition met") {
		t.Errorf("kubectl wait: %q", out)
	}

	run("label", "pod", "app", "tier=web")
	run("annotate", "pod", "app", "note=hi")
	if out := run("get", "pods", "-l", "tier=web", "-o", "jsonpath={.items[*].metadata.annotations.note}"); out != "hi" {
		t.Errorf("after label and annotate, get -l tier=web shows note %q", out)
	}
	run("patch", "pod", "app", "-p", `{"metadata":{"labels":{"strategic":"yes"}}}`)
	run("patch", "pod", "app", "--type=merge", "-p", `{"metadata":{"labels":{"merge":"yes"}}}`)
	run("patch", "pod", "app", "--type=json", "-p", `[{"op":"add","path":"/metadata/labels/json","value":"yes"}]`)
	if out := run("get", "pod", "app", "-o", "jsonpath={.metadata.labels.strategic}{.metadata.labels.merge}{.metadata.labels.json}"); out != "yesyesyes" {
		t.Errorf("after three patches the labels give %q", out)
	}
	if errOut := k.mustFail(append(ns, "patch", "pod", "app", "--type=merge", "-p", `{"spec":{"containers":[{"name":"sh","image":"other"},{"name":"x","image":"y"}]}}`)...); !strings.Contains(errOut, "spec") {
		t.Errorf("a patch adding a container to a pod: %s", errOut)
	}

	// edit: kubectl hands the object to $KUBE_EDITOR and sends back what it wrote.
	editor := filepath.Join(t.TempDir(), "editor")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/note: hi/note: edited/' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	edit := k.command(t.Context(), append(ns, "edit", "pod", "app")...)
	edit.Env = append(edit.Env, "KUBE_EDITOR="+editor)
	if out, err := edit.CombinedOutput(); err != nil || !strings.Contains(string(out), "edited") {
		t.Errorf("kubectl edit: %v\n%s", err, out)
	}
	if out := run("get", "pod", "app", "-o", "jsonpath={.metadata.annotations.note}"); out != "edited" {
		t.Errorf("after edit the note is %q", out)
	}

	// cp: tar through exec, both ways.
	dir := t.TempDir()
	local := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(local, []byte("carried by kubectl cp\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("cp", local, "app:/tmp/in.txt")
	if out := run("exec", "app", "--", "cat", "/tmp/in.txt"); out != "carried by kubectl cp\n" {
		t.Errorf("the pod holds %q", out)
	}
	back := filepath.Join(dir, "back.txt")
	run("cp", "app:/tmp/in.txt", back)
	if data, err := os.ReadFile(back); err != nil || string(data) != "carried by kubectl cp\n" {
		t.Errorf("copied back: %q, %v", data, err)
	}

	if out := run("events", "--for", "pod/app"); !strings.Contains(out, "app") {
		t.Errorf("kubectl events --for pod/app:\n%s", out)
	}

	// set: on a replication controller's template.
	rc := filepath.Join(dir, "rc.yaml")
	if err := os.WriteFile(rc, []byte("apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: web\nspec:\n  replicas: 0\n  selector: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - {name: web, image: registry.example/web:1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("create", "-f", rc)
	run("set", "image", "rc/web", "web=registry.example/web:2")
	run("set", "env", "rc/web", "MODE=blue")
	if out := run("get", "rc", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[0].value}"); out != "registry.example/web:2 blue" {
		t.Errorf("after set image and set env the template gives %q", out)
	}

	// The node: cordon, taint, drain, uncordon.
	node := strings.TrimPrefix(strings.TrimSpace(k.mustRun("get", "nodes", "-o", "name")), "node/")
	if node == "" || strings.Contains(node, "\n") {
		t.Fatalf("want one node, got %q", node)
	}
	// kubectl debug node/… asks for the host's namespaces (and, with its
	// default profile, the host's root): nobody runs that on shared hosts.
	if errOut := k.mustFail(append(ns, "debug", "node/"+node, "--image", c.shell, "--", "true")...); !strings.Contains(errOut, `violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true, hostPID=true, hostIPC=true)`) {
		t.Errorf("kubectl debug node/%s: %s", node, errOut)
	}
	k.mustRun("cordon", node)
	if out := k.mustRun("get", "node", node); !strings.Contains(out, "SchedulingDisabled") {
		t.Errorf("a cordoned node shows:\n%s", out)
	}
	k.mustRun("taint", "nodes", node, "dedicated=test:NoSchedule")
	if out := k.mustRun("get", "node", node, "-o", "jsonpath={.spec.taints[0].key}={.spec.taints[0].value}:{.spec.taints[0].effect}"); out != "dedicated=test:NoSchedule" {
		t.Errorf("the taint reads %q", out)
	}
	k.mustRun("taint", "nodes", node, "dedicated-")
	if out, _, code := k.run("drain", node, "--force", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=120s"); code != 0 || !strings.Contains(out, "drained") {
		t.Errorf("kubectl drain (exit %d):\n%s", code, out)
	}
	if out, _, _ := k.run(append(ns, "get", "pod", "app", "-o", "name")...); strings.TrimSpace(out) != "" {
		t.Errorf("after drain the pod is still there: %q", out)
	}
	k.mustRun("uncordon", node)
	if out := k.mustRun("get", "node", node, "-o", "jsonpath={.spec.unschedulable}"); out != "" && out != "false" {
		t.Errorf("after uncordon spec.unschedulable is %q", out)
	}

	if out := k.mustRun("cluster-info"); !strings.Contains(out, "running at "+c.env.HTTPSURL) {
		t.Errorf("kubectl cluster-info:\n%s", out)
	}
	if out := k.mustRun("api-versions"); !strings.Contains(out, "v1\n") || !strings.Contains(out, "berth.dev/v1") {
		t.Errorf("kubectl api-versions:\n%s", out)
	}
}
