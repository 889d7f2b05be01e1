package node_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/berthpaas/berth/backend/node"
	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// bootstrapToken creates a bootstrap token for node as the admin and
// writes it to a file.
func bootstrapToken(t *testing.T, env *testenv.Env, node string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node-token")
	writeBootstrapToken(t, env, node, path)
	return path
}

// writeBootstrapToken puts a fresh bootstrap token for node in path.
func writeBootstrapToken(t *testing.T, env *testenv.Env, node, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(env.BootstrapToken(t, node)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustCode(t *testing.T, resp testenv.Response, want int) {
	t.Helper()
	if resp.Code != want {
		t.Fatalf("got %d, want %d: %s", resp.Code, want, resp.Body)
	}
}

// agent is a node agent running in the test.
type agent struct {
	addr   net.Addr
	cancel context.CancelFunc
	done   chan error
}

// startAgent runs node.Run with cfg until stop or the end of the test.
func startAgent(t *testing.T, cfg node.Config) *agent {
	t.Helper()
	ready := make(chan net.Addr, 1)
	cfg.Ready = func(a net.Addr) { ready <- a }
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	cfg.HeartbeatInterval = 200 * time.Millisecond
	cfg.ResyncInterval = 200 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	a := &agent{cancel: cancel, done: make(chan error, 1)}
	go func() { a.done <- node.Run(ctx, cfg) }()
	select {
	case a.addr = <-ready:
	case err := <-a.done:
		cancel()
		t.Fatalf("agent stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("agent not ready within 30s")
	}
	t.Cleanup(func() { a.stop(t) })
	return a
}

func (a *agent) stop(t *testing.T) {
	t.Helper()
	if a.cancel == nil {
		return
	}
	a.cancel()
	a.cancel = nil
	select {
	case err := <-a.done:
		if err != nil {
			t.Errorf("agent stopped with: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("agent did not stop within 15s")
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, detail := cond()
		if ok {
			return
		}
		last = detail
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s; last: %s", what, timeout, last)
}

func getPod(t *testing.T, env *testenv.Env, ns, name string) (*v1.Pod, int) {
	t.Helper()
	resp := env.Do(t, "GET", "/api/v1/namespaces/"+ns+"/pods/"+name, env.AdminToken, nil)
	if resp.Code != http.StatusOK {
		return nil, resp.Code
	}
	var p v1.Pod
	resp.JSON(t, &p)
	return &p, resp.Code
}

func getNode(t *testing.T, env *testenv.Env, name string) *v1.Node {
	t.Helper()
	resp := env.Do(t, "GET", "/api/v1/nodes/"+name, env.AdminToken, nil)
	if resp.Code != http.StatusOK {
		return nil
	}
	var n v1.Node
	resp.JSON(t, &n)
	return &n
}

// leaseRenewed is when the node's heartbeat lease was last renewed (zero
// when it has none).
func leaseRenewed(t *testing.T, env *testenv.Env, name string) time.Time {
	t.Helper()
	resp := env.Do(t, "GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/"+name, env.AdminToken, nil)
	if resp.Code != http.StatusOK {
		return time.Time{}
	}
	var lease coordinationv1.Lease
	resp.JSON(t, &lease)
	if lease.Spec.RenewTime == nil {
		return time.Time{}
	}
	return lease.Spec.RenewTime.Time
}

func readyCondition(n *v1.Node) *v1.NodeCondition {
	if n == nil {
		return nil
	}
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == v1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// boundPod is a pod already bound to nodeName, of the fake runtime.
func boundPod(name, nodeName string, env ...v1.EnvVar) *v1.Pod {
	return &v1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1.PodSpec{
			NodeName:   nodeName,
			Containers: []v1.Container{{Name: "app", Image: "example/app:1", Env: env}},
		},
	}
}

func podRunning(p *v1.Pod) (bool, string) {
	if p == nil {
		return false, "no pod"
	}
	return p.Status.Phase == v1.PodRunning && strings.HasPrefix(p.Status.PodIP, "10."), fmt.Sprintf("phase %q ip %q", p.Status.Phase, p.Status.PodIP)
}

func podUIDs(t *testing.T, rt runtime.Runtime) []string {
	t.Helper()
	pods, err := rt.ListPods(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, p := range pods {
		uids = append(uids, p.UID)
	}
	return uids
}

// cuttableProxy forwards TCP connections to a master and can cut them,
// to simulate a master that went away and came back at the same address.
type cuttableProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	down    bool                  // guarded by mu
	refused int                   // guarded by mu; connections refused while down
	conns   map[net.Conn]struct{} // guarded by mu
}

func newCuttableProxy(t *testing.T, target string) *cuttableProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttableProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go p.serve()
	return p
}

func (p *cuttableProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *cuttableProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.refused++
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		go p.forward(c)
	}
}

func (p *cuttableProxy) forward(c net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.Close()
	}()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
}

// refusedCount is how many connections the proxy refused while down.
func (p *cuttableProxy) refusedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

// setDown cuts every connection and refuses new ones, or accepts again.
func (p *cuttableProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
