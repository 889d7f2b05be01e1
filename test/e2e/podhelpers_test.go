package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/node/network"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	dockerclient "github.com/docker/docker/client"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/imagetest"
	"github.com/berthpaas/berth/backend/testenv"
	"github.com/berthpaas/berth/client"
)

// podCluster is a `berth up` process whose pods run on the local Docker
// engine, seen by the admin, with a namespace of the test's own.
type podCluster struct {
	t      *testing.T
	up     *upProcess
	url    string
	env    *testenv.Env // URL, HTTPSURL, CAFile and AdminToken set
	api    *client.Client
	docker *dockerclient.Client
	ns     string
	echo   string // the echo image
	shell  string // the shell image
}

// uniqueName is prefix plus a random suffix: Berth masters of other tests
// (and of other people) share the Docker engine, and containers are found
// by their namespace label.
func uniqueName(prefix string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// dockerForPods connects to the Docker engine, builds the test images and
// removes, when the test ends, every container of namespace ns. Call it
// before starting the processes that create containers, so that the
// removal runs after they have stopped.
func dockerForPods(t *testing.T, ns string) (cli *dockerclient.Client, echo, shell string) {
	t.Helper()
	cli = imagetest.Client(t)
	imagetest.RemoveContainers(t, cli, runtime.LabelPodNamespace+"="+ns)
	var wg sync.WaitGroup
	wg.Go(func() { echo = imagetest.BuildEchoImage(t.Context(), t, cli) })
	wg.Go(func() { shell = imagetest.BuildShellImage(t.Context(), t, cli) })
	wg.Wait()
	return cli, echo, shell
}

// startPodCluster runs `berth up` with its own node agent (or, with extra
// args such as --no-node, without) on a fresh data dir.
func startPodCluster(t *testing.T, nsPrefix string, extra ...string) *podCluster {
	t.Helper()
	return startPodClusterAt(t, nsPrefix, "127.0.0.1:0", extra...)
}

// startPodClusterAt is startPodCluster listening on listen.
func startPodClusterAt(t *testing.T, nsPrefix, listen string, extra ...string) *podCluster {
	t.Helper()
	skipShort(t)
	c := &podCluster{t: t, ns: uniqueName(nsPrefix)}
	c.docker, c.echo, c.shell = dockerForPods(t, c.ns)
	c.up = startUpArgs(t, filepath.Join(t.TempDir(), "data"), listen, extra...)
	c.connect()
	createNamespace(t, c.env, c.env.AdminToken, c.ns)
	return c
}

// in returns the cluster for use in the subtest t.
func (c *podCluster) in(t *testing.T) *podCluster {
	cp := *c
	cp.t = t
	return &cp
}

// connect logs the admin in to the running up process.
func (c *podCluster) connect() {
	c.t.Helper()
	c.url = c.up.waitURL()
	c.env = masterEnv(c.t, c.url, c.up.dataDir)
	c.api = client.New(c.url, c.env.AdminToken)
}

// masterEnv is a testenv.Env of a master started as a process, with the
// admin logged in.
func masterEnv(t *testing.T, url, dataDir string) *testenv.Env {
	t.Helper()
	env := api(url)
	env.HTTPSURL = "https" + strings.TrimPrefix(url, "http")
	env.CAFile = filepath.Join(dataDir, "tls", "ca.crt")
	pw, err := os.ReadFile(filepath.Join(dataDir, "admin-password"))
	if err != nil {
		t.Fatalf("admin password: %v", err)
	}
	env.AdminPassword = strings.TrimSpace(string(pw))
	env.AdminToken = env.Login(t, "admin", env.AdminPassword)
	return env
}

// startUpArgs is startUp with more arguments for berth up.
func startUpArgs(t *testing.T, dataDir, listen string, extra ...string) *upProcess {
	t.Helper()
	pods := testenv.ClusterCIDR(t, dataDir)
	// A service range of its own too: the service proxies of test
	// clusters side by side on this host must not share their rules.
	args := append([]string{"up", "--data-dir", dataDir, "--listen", listen, "--log-level", "warn",
		"--cluster-cidr", pods.String(), "--service-cluster-ip-range", testenv.ServiceCIDR(pods).String(),
		// The router on free ports: routes' status.url names them.
		"--router-listen", "127.0.0.1:0", "--router-tls-listen", "127.0.0.1:0"}, extra...)
	cmd, out, errOut := berthCommand(t, context.WithoutCancel(t.Context()), args...)
	p := &upProcess{t: t, cmd: cmd, dataDir: dataDir, out: out, errOut: errOut, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start berth up: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	return p
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for a master that must come back on the same address.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// create creates pod in the cluster's namespace.
func (c *podCluster) create(pod *v1.Pod) *v1.Pod {
	c.t.Helper()
	var created v1.Pod
	if err := c.api.Create(c.t.Context(), client.Pods, c.ns, pod, &created); err != nil {
		c.t.Fatalf("create pod %q: %v", pod.Name, err)
	}
	return &created
}

// echoPod is a pod of the echo image listening on 8080.
func (c *podCluster) echoPod(name string, env ...v1.EnvVar) *v1.Pod {
	return newPod(name, v1.Container{
		Name: "app", Image: c.echo, ImagePullPolicy: v1.PullIfNotPresent, Env: env,
		Ports: []v1.ContainerPort{{ContainerPort: 8080, Protocol: v1.ProtocolTCP}},
	})
}

// shellPod is a pod of the shell image running script with sh -c.
func (c *podCluster) shellPod(name string, policy v1.RestartPolicy, script string) *v1.Pod {
	pod := newPod(name, v1.Container{
		Name: "sh", Image: c.shell, ImagePullPolicy: v1.PullIfNotPresent,
		Command: []string{"sh", "-c", script},
	})
	pod.Spec.RestartPolicy = policy
	return pod
}

func newPod(name string, containers ...v1.Container) *v1.Pod {
	grace := int64(2)
	return &v1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec:       v1.PodSpec{Containers: containers, TerminationGracePeriodSeconds: &grace},
	}
}

// waitPod watches the pod until cond holds and returns it; it fails the
// test after timeout with the last state seen.
func (c *podCluster) waitPod(name string, timeout time.Duration, what string, cond func(*v1.Pod) bool) *v1.Pod {
	c.t.Helper()
	pod, err := watchPod(c.t.Context(), c.api, c.ns, name, timeout, cond)
	if err != nil {
		c.t.Fatalf("pod %q %s: %v\nlast seen: %s", name, what, err, describePod(pod))
	}
	return pod
}

// watchPod gets the pod and watches it from there until cond holds, the
// timeout passes or ctx ends. It returns the last pod seen.
func watchPod(ctx context.Context, api *client.Client, ns, name string, timeout time.Duration, cond func(*v1.Pod) bool) (*v1.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last *v1.Pod
	for ctx.Err() == nil {
		var pod v1.Pod
		if err := api.Get(ctx, client.Pods, ns, name, &pod); err != nil {
			if ctx.Err() != nil {
				break
			}
			return last, err
		}
		last = &pod
		if cond(last) {
			return last, nil
		}
		events, err := api.Watch(ctx, client.Pods, ns, client.ListOptions{
			FieldSelector: "metadata.name=" + name, ResourceVersion: pod.ResourceVersion,
		})
		if err != nil {
			continue // compacted or interrupted: get again
		}
		for ev := range events {
			if ev.Type != client.Added && ev.Type != client.Modified {
				continue
			}
			var p v1.Pod
			if ev.Decode(&p) != nil {
				continue
			}
			last = &p
			if cond(last) {
				return last, nil
			}
		}
	}
	return last, fmt.Errorf("not within %v", timeout)
}

// describePod is the part of a pod's status that explains a failure.
func describePod(pod *v1.Pod) string {
	if pod == nil {
		return "nothing"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "node %q phase %q ip %q", pod.Spec.NodeName, pod.Status.Phase, pod.Status.PodIP)
	for _, cs := range pod.Status.ContainerStatuses {
		fmt.Fprintf(&b, "; %s restarts %d id %s state %s", cs.Name, cs.RestartCount, cs.ContainerID, stateString(cs.State))
	}
	return b.String()
}

func stateString(s v1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running"
	case s.Terminated != nil:
		return fmt.Sprintf("terminated(%d %s %s)", s.Terminated.ExitCode, s.Terminated.Reason, s.Terminated.Message)
	case s.Waiting != nil:
		return fmt.Sprintf("waiting(%s %s)", s.Waiting.Reason, s.Waiting.Message)
	}
	return "unknown"
}

// isRunning holds for a pod whose phase is Running with every container
// running.
func isRunning(pod *v1.Pod) bool {
	if pod.Status.Phase != v1.PodRunning || pod.Status.PodIP == "" || len(pod.Status.ContainerStatuses) != len(pod.Spec.Containers) {
		return false
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return true
}

// httpGet asks the pod's echo server for path and returns the body.
func httpGet(t *testing.T, pod *v1.Pod, path string) string {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second}
	url := "http://" + net.JoinHostPort(pod.Status.PodIP, "8080") + path
	var lastErr error
	for range 20 { // the server may not listen yet when the container runs
		resp, err := hc.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(body)
			}
			err = fmt.Errorf("HTTP %d %q, %v", resp.StatusCode, body, rerr)
		}
		lastErr = err
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, lastErr)
	return ""
}

// podContainers lists the Docker containers of the pod with uid, stopped
// ones included.
func podContainers(t *testing.T, cli *dockerclient.Client, uid string) []container.Summary {
	t.Helper()
	list, err := cli.ContainerList(t.Context(), container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", runtime.LabelPodUID+"="+uid)),
	})
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return list
}

// berthCLIProcess runs the berth binary as a CLI, with flags for the
// server, the token and the namespace, in a home of its own. It returns
// stdout, stderr and the exit code.
func berthCLIProcess(t *testing.T, server, token, ns, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	full := append([]string{"--server", server, "--token", token, "-n", ns}, args...)
	cmd, out, errOut := berthCommand(t, ctx, full...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "BERTH_CONFIG="+filepath.Join(home, "config.json"))
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errOut.String(), 0
	case errors.As(err, &exitErr):
		return out.String(), errOut.String(), exitErr.ExitCode()
	}
	t.Fatalf("berth %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut.String())
	return "", "", 0
}

// nodeProcess is a `berth node` agent running as a process.
type nodeProcess struct {
	t        *testing.T
	args     []string
	stateDir string
	cmd      *exec.Cmd
	out      *syncBuffer
	exited   chan struct{}
	// killed: the agent was ended with SIGKILL and not started again, so
	// it left its pod network on the host.
	killed bool
}

// startNode runs `berth node` named name against master, with its state
// in stateDir, joined with the bootstrap token in tokenFile, with extra
// arguments.
func startNode(t *testing.T, master, tokenFile, name, stateDir string, extra ...string) *nodeProcess {
	t.Helper()
	n := &nodeProcess{t: t, args: append([]string{
		"node", "--master", master, "--token-file", tokenFile, "--name", name,
		"--state-dir", stateDir, "--listen", "127.0.0.1:0", "--runtime", "docker", "--log-level", "warn",
	}, extra...), stateDir: stateDir}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *nodeProcess) start() {
	n.t.Helper()
	cmd, out, _ := berthCommand(n.t, context.WithoutCancel(n.t.Context()), n.args...)
	cmd.Stderr = out // the agent logs there; one buffer keeps the order
	n.cmd, n.out, n.exited = cmd, out, make(chan struct{})
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("start berth node: %v", err)
	}
	exited := n.exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
}

// kill9 ends the agent with SIGKILL, as a crash would.
func (n *nodeProcess) kill9() {
	n.t.Helper()
	if err := n.cmd.Process.Kill(); err != nil {
		n.t.Fatalf("kill -9 berth node: %v", err)
	}
	<-n.exited
	n.killed = true
}

// restart starts the agent again with the same arguments.
func (n *nodeProcess) restart() {
	n.killed = false
	n.start()
}

// stop ends the agent with SIGTERM (SIGKILL after 30s).
func (n *nodeProcess) stop() {
	select {
	case <-n.exited:
		if n.killed {
			n.tearDownNetwork()
		}
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
}

// tearDownNetwork removes what an agent killed for good left on the host:
// its pod network's rules, routes and Docker network, as the agent itself
// removes them when it stops.
func (n *nodeProcess) tearDownNetwork() {
	n.killed = false
	cli, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		n.t.Errorf("docker client: %v", err)
		return
	}
	defer cli.Close()
	nw, err := network.New(network.Options{Engine: cli, StateDir: n.stateDir})
	if err != nil {
		n.t.Errorf("the killed agent's pod network: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := nw.TearDown(ctx); err != nil {
		n.t.Logf("the killed agent's pod network is not all gone: %v", err)
	}
}

// nodeToken creates, as the admin, a bootstrap token for node and writes
// it to a file.
func nodeToken(t *testing.T, env *testenv.Env, node string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), node+".token")
	if err := os.WriteFile(path, []byte(env.BootstrapToken(t, node)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
