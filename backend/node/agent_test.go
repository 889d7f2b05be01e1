package node_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/node"
	"github.com/berthpaas/berth/backend/node/runtime/fake"
	"github.com/berthpaas/berth/backend/remotecommand"
	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
)

// notifySocket listens where NOTIFY_SOCKET points and returns what systemd
// would receive.
func notifySocket(t *testing.T) <-chan string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	msgs := make(chan string, 256)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			select {
			case msgs <- string(buf[:n]):
			default:
			}
		}
	}()
	return msgs
}

func expectNotify(t *testing.T, msgs <-chan string, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-msgs:
			if strings.Contains(m, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q on NOTIFY_SOCKET", want)
		}
	}
}

func TestAgentRunsPods(t *testing.T) {
	env := testenv.Start(t)
	msgs := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", "")
	rt := fake.New(fake.Options{CPUs: 6, MemoryBytes: 3 << 30, BootedDeployment: "berth-host:abc.0"})
	stateDir := t.TempDir()
	ag := startAgent(t, node.Config{
		Master: env.URL, BootstrapTokenFile: bootstrapToken(t, env, "n1"), Name: "n1",
		Labels: map[string]string{"zone": "a"}, StateDir: stateDir, Runtime: rt,
	})
	expectNotify(t, msgs, "READY=1")
	expectNotify(t, msgs, "WATCHDOG=1")

	// The credentials are saved for the node alone.
	fi, err := os.Stat(filepath.Join(stateDir, "credentials.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, %v", fi, err)
	}
	creds := savedCredentials(t, stateDir)

	n := getNode(t, env, "n1")
	if n == nil {
		t.Fatal("node n1 not registered")
	}
	if c := readyCondition(n); c == nil || c.Status != v1.ConditionTrue || c.Reason != "KubeletReady" {
		t.Fatalf("Ready condition %+v", c)
	}
	port := ag.addr.(*net.TCPAddr).Port
	if n.Labels["zone"] != "a" || n.Labels["kubernetes.io/hostname"] != "n1" ||
		n.Annotations[node.AnnotationBootedDeployment] != "berth-host:abc.0" ||
		n.Status.Capacity.Cpu().Value() != 6 || n.Status.Capacity.Memory().Value() != 3<<30 || n.Status.Capacity.Pods().Value() != 110 ||
		int(n.Status.DaemonEndpoints.KubeletEndpoint.Port) != port ||
		!slices.Contains(n.Status.Addresses, v1.NodeAddress{Type: v1.NodeInternalIP, Address: "127.0.0.1"}) ||
		n.Status.NodeInfo.ContainerRuntimeVersion != "fake://1.0.0" || n.Status.NodeInfo.KubeletVersion == "" {
		t.Fatalf("registered node: labels %v annotations %v status %+v", n.Labels, n.Annotations, n.Status)
	}

	// Heartbeats renew the node's lease, as the kubelet's do.
	var first time.Time
	eventually(t, 10*time.Second, "heartbeat", func() (bool, string) {
		renewed := leaseRenewed(t, env, "n1")
		if first.IsZero() {
			first = renewed
			return false, "no lease yet"
		}
		return renewed.After(first), renewed.String()
	})

	// The endpoint answers the master's client certificate alone.
	endpointRefusesAllButTheMaster(t, env, ag, creds)

	// A pod bound to the node runs.
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces", env.AdminToken, map[string]any{"metadata": map[string]string{"name": "demo"}}), http.StatusCreated)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", env.AdminToken, boundPod("web", "n1")), http.StatusCreated)
	eventually(t, 10*time.Second, "pod running", func() (bool, string) {
		p, _ := getPod(t, env, "demo", "web")
		return podRunning(p)
	})
	p, _ := getPod(t, env, "demo", "web")
	cs := p.Status.ContainerStatuses
	if p.Status.HostIP != "127.0.0.1" || p.Status.StartTime == nil || len(cs) != 1 || cs[0].State.Running == nil || !cs[0].Ready ||
		!strings.HasPrefix(cs[0].ContainerID, "fake://") || len(p.Status.Conditions) != 4 {
		t.Fatalf("pod status %+v", p.Status)
	}

	// Pod operations through the master's proxy.
	resp := env.Do(t, "GET", "/api/v1/namespaces/demo/pods/web/log", env.AdminToken, nil)
	mustCode(t, resp, http.StatusOK)
	if !strings.Contains(string(resp.Body), `fake container "app" of pod demo/web started`) {
		t.Errorf("log %q", resp.Body)
	}
	resp = env.Do(t, "GET", "/api/v1/namespaces/demo/pods/web/diff", env.AdminToken, nil)
	mustCode(t, resp, http.StatusOK)
	if strings.TrimSpace(string(resp.Body)) != "[]" {
		t.Errorf("diff %q", resp.Body)
	}
	exec, err := remotecommand.Dial(t.Context(), "ws"+strings.TrimPrefix(env.URL, "http")+
		"/api/v1/namespaces/demo/pods/web/exec?command=echo&command=hi&stdout=1",
		http.Header{"Authorization": {"Bearer " + env.AdminToken}}, nil)
	if err != nil {
		t.Fatalf("exec through the master: %v", err)
	}
	var out strings.Builder
	code, err := exec.Run(t.Context(), nil, &out, nil, nil)
	if err != nil || code != 0 || out.String() != "fake exec: echo hi\n" {
		t.Fatalf("exec = %d, %v, %q", code, err, out.String())
	}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods/web/stop", env.AdminToken, nil), http.StatusOK)
	eventually(t, 10*time.Second, "stopped pod reports exit 143", func() (bool, string) {
		p, _ := getPod(t, env, "demo", "web")
		cs := p.Status.ContainerStatuses[0]
		return cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 143, cs.String()
	})
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods/web/start", env.AdminToken, nil), http.StatusOK)
	eventually(t, 10*time.Second, "started pod runs", func() (bool, string) {
		p, _ := getPod(t, env, "demo", "web")
		cs := p.Status.ContainerStatuses[0]
		return cs.State.Running != nil, cs.String()
	})

	// A pod that exits under restartPolicy Never fails.
	failing := boundPod("job", "n1", v1.EnvVar{Name: "FAKE_EXIT_CODE", Value: "3"})
	failing.Spec.RestartPolicy = v1.RestartPolicyNever
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", env.AdminToken, failing), http.StatusCreated)
	eventually(t, 10*time.Second, "job failed", func() (bool, string) {
		p, _ := getPod(t, env, "demo", "job")
		if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Terminated == nil {
			return false, string(p.Status.Phase)
		}
		return p.Status.Phase == v1.PodFailed && p.Status.ContainerStatuses[0].State.Terminated.ExitCode == 3, string(p.Status.Phase)
	})

	// Deleting marks the pod; the agent kills it and removes the object.
	webUID := string(p.UID)
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/demo/pods/web", env.AdminToken, nil), http.StatusOK)
	eventually(t, 10*time.Second, "pod removed", func() (bool, string) {
		_, code := getPod(t, env, "demo", "web")
		return code == http.StatusNotFound, http.StatusText(code)
	})
	if slices.Contains(podUIDs(t, rt), webUID) {
		t.Fatal("deleted pod still has containers")
	}

	ag.stop(t)
	expectNotify(t, msgs, "STOPPING=1")
}

func TestAgentSurvivesMasterOutageAndRestart(t *testing.T) {
	env := testenv.Start(t)
	proxy := newCuttableProxy(t, strings.TrimPrefix(env.URL, "http://"))
	rt := fake.New(fake.Options{})
	cfg := node.Config{
		Master: proxy.URL(), BootstrapTokenFile: bootstrapToken(t, env, "n2"), Name: "n2",
		StateDir: t.TempDir(), Runtime: rt,
	}
	ag := startAgent(t, cfg)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces", env.AdminToken, map[string]any{"metadata": map[string]string{"name": "demo"}}), http.StatusCreated)
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", env.AdminToken, boundPod("web", "n2")), http.StatusCreated)
	eventually(t, 10*time.Second, "pod running", func() (bool, string) {
		p, _ := getPod(t, env, "demo", "web")
		return podRunning(p)
	})
	before, _ := getPod(t, env, "demo", "web")

	// The master goes away: the containers keep running.
	proxy.setDown(true)
	eventually(t, 10*time.Second, "the agent failing to reach the master", func() (bool, string) {
		n := proxy.refusedCount()
		return n >= 5, fmt.Sprintf("%d connections refused", n)
	})
	if uids := podUIDs(t, rt); len(uids) != 1 || uids[0] != string(before.UID) {
		t.Fatalf("pods on the node during the outage: %v", uids)
	}
	// A pod bound meanwhile is picked up when the agent lists again.
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", env.AdminToken, boundPod("late", "n2")), http.StatusCreated)

	// The master returns: the agent reconciles.
	proxy.setDown(false)
	eventually(t, 20*time.Second, "pod created during the outage runs", func() (bool, string) {
		p, _ := getPod(t, env, "demo", "late")
		return podRunning(p)
	})
	eventually(t, 10*time.Second, "node ready again", func() (bool, string) {
		c := readyCondition(getNode(t, env, "n2"))
		return c != nil && c.Status == v1.ConditionTrue && time.Since(c.LastHeartbeatTime.Time) < 3*time.Second, c.String()
	})

	// The agent restarts: it adopts what runs, with its saved credential.
	created := rt.Created()
	ag.stop(t)
	os.Remove(cfg.BootstrapTokenFile)
	startAgent(t, cfg)
	mustCode(t, env.Do(t, "DELETE", "/api/v1/namespaces/demo/pods/late?gracePeriodSeconds=0", env.AdminToken, nil), http.StatusOK)
	eventually(t, 10*time.Second, "force-deleted pod's containers removed", func() (bool, string) {
		uids := podUIDs(t, rt)
		return len(uids) == 1, strings.Join(uids, ",")
	})
	if rt.Created() != created {
		t.Fatalf("agent restart created %d containers", rt.Created()-created)
	}
	after, _ := getPod(t, env, "demo", "web")
	if after.Status.PodIP != before.Status.PodIP || after.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Fatalf("pod after the agent restart: %+v", after.Status)
	}
}

func TestAgentRejectsBadBootstrapToken(t *testing.T) {
	env := testenv.Start(t)
	path := filepath.Join(t.TempDir(), "token")
	os.WriteFile(path, []byte("not-a-token"), 0o600)
	err := node.Run(t.Context(), node.Config{
		Master: env.URL, BootstrapTokenFile: path, Name: "n3", StateDir: t.TempDir(),
		Listen: "127.0.0.1:0", Runtime: fake.New(fake.Options{}),
	})
	if err == nil || !strings.Contains(err.Error(), "join") {
		t.Fatalf("Run with a bad token = %v, want a join error", err)
	}
}
