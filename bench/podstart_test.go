package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	dockerclient "github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/imagetest"
	"github.com/berthpaas/berth/backend/testenv"
	"github.com/berthpaas/berth/client"
	"github.com/berthpaas/berth/internal/syncbuf"
	"github.com/berthpaas/berth/internal/testbin"
)

const (
	podStartTotal   = 50
	podStartWorkers = 4
	// podStartWarmup pods start before each timed phase, so that neither
	// pays for first-use costs (image layers, the agent's first watch).
	podStartWarmup = podStartWorkers

	targetStartRatio = 1.5
	targetStartP99   = time.Second

	logSamples       = 200
	logTick          = 20 * time.Millisecond
	targetLogLatency = 100 * time.Millisecond
)

// BenchmarkPodStart measures API create → Running seen by a watcher for
// pods of a local image on `berth up`'s own node, against raw Docker
// ContainerCreate+ContainerStart of the same image in the same run, both
// from 4 concurrent clients. Targets: p50 at most 1.5× Docker's, p99 under
// 1 s.
func BenchmarkPodStart(b *testing.B) {
	ns := benchNamespace("bench-podstart")
	cli, echo := benchDocker(b, ns)
	up := startBerthUp(b)
	api := up.client
	createBenchNamespace(b, up.env, ns)

	raw := dockerStarts(b, cli, echo, ns)

	seen := watchRunning(b, api, ns)
	var createdMu sync.Mutex
	created := map[string]time.Time{}
	create := func(name string) error {
		pod := benchEchoPod(name, echo)
		createdMu.Lock()
		created[name] = time.Now()
		createdMu.Unlock()
		if err := api.Create(b.Context(), client.Pods, ns, pod, nil); err != nil {
			return err
		}
		select {
		case <-seen.wait(name):
			return nil
		case <-time.After(2 * time.Minute):
			return fmt.Errorf("pod %q not seen Running within 2m", name)
		}
	}
	if _, err := runConcurrent(podStartWorkers, podStartWarmup, func(i int) error { return create("warm-" + strconv.Itoa(i)) }); err != nil {
		b.Fatalf("warm-up pods: %v", err)
	}
	starts, err := runConcurrent(podStartWorkers, podStartTotal, func(i int) error { return create("pod-" + strconv.Itoa(i)) })
	if err != nil {
		b.Fatalf("pods: %v", err)
	}
	b.StopTimer()
	bound := seen.boundAfter(created)
	deleteBenchPods(b, api, ns)

	lat, rawLat := starts.latencies, raw.latencies
	slices.Sort(lat)
	slices.Sort(rawLat)
	p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
	rawP50, rawP99 := percentile(rawLat, 0.50), percentile(rawLat, 0.99)
	ratio := float64(p50) / float64(rawP50)
	b.ReportMetric(ms(p50), "p50_ms")
	b.ReportMetric(ms(p99), "p99_ms")
	b.ReportMetric(ms(rawP50), "docker_p50_ms")
	b.ReportMetric(ms(rawP99), "docker_p99_ms")
	b.ReportMetric(ratio, "p50_ratio")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("pod-start: berth create → Running seen by a watcher: p50 %.0fms, p99 %.0fms, max %.0fms over %d pods (infra + app container each)\n",
		ms(p50), ms(p99), ms(lat[len(lat)-1]), len(lat))
	fmt.Printf("pod-start: of which create → bound to the node: p50 %.0fms, p99 %.0fms\n",
		ms(percentile(bound, 0.50)), ms(percentile(bound, 0.99)))
	fmt.Printf("pod-start: raw docker create+start of %s: p50 %.0fms, p99 %.0fms, max %.0fms over %d containers; %d clients each\n",
		echo, ms(rawP50), ms(rawP99), ms(rawLat[len(rawLat)-1]), len(rawLat), podStartWorkers)
	fmt.Printf("pod-start: p50 ratio %.2f (target ≤ %.1f) %s; p99 %.0fms (target < %v) %s\n",
		ratio, targetStartRatio, verdict(ratio <= targetStartRatio), ms(p99), targetStartP99, verdict(p99 < targetStartP99))
}

// BenchmarkLogLatency measures how long a line a container writes takes
// to reach a client following the pod's log: the echo server logs a tick
// line with its write time every 20 ms, and the client subtracts it from
// the time it reads the line (one kernel clock for both). The same measure
// on Docker's own log of the container is the baseline. Target: p99 under
// 100 ms.
func BenchmarkLogLatency(b *testing.B) {
	ns := benchNamespace("bench-logs")
	cli, echo := benchDocker(b, ns)
	up := startBerthUp(b)
	api := up.client
	createBenchNamespace(b, up.env, ns)

	seen := watchRunning(b, api, ns)
	pod := benchEchoPod("ticker", echo)
	pod.Spec.Containers[0].Env = []v1.EnvVar{{Name: "LOG_EVERY", Value: logTick.String()}}
	if err := api.Create(b.Context(), client.Pods, ns, pod, nil); err != nil {
		b.Fatalf("create pod: %v", err)
	}
	select {
	case <-seen.wait("ticker"):
	case <-time.After(2 * time.Minute):
		b.Fatal("the ticker pod is not Running within 2m")
	}

	ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
	defer cancel()
	opened := time.Now()
	logs, err := api.PodLogs(ctx, ns, "ticker", client.LogOptions{Follow: true})
	if err != nil {
		b.Fatalf("logs?follow=true: %v", err)
	}
	defer logs.Close()
	lat, err := tickLatencies(logs, opened)
	if err != nil {
		b.Fatalf("berth log stream: %v", err)
	}
	raw := dockerLogLatencies(ctx, b, cli, api, ns, "ticker")
	b.StopTimer()
	cancel()
	deleteBenchPods(b, api, ns)

	p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
	rawP50, rawP99 := percentile(raw, 0.50), percentile(raw, 0.99)
	b.ReportMetric(ms(p50), "p50_ms")
	b.ReportMetric(ms(p99), "p99_ms")
	b.ReportMetric(ms(rawP99), "docker_p99_ms")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("log-latency: container write → client read over logs?follow=true: p50 %.1fms, p99 %.1fms, max %.1fms over %d lines, one every %v\n",
		ms(p50), ms(p99), ms(lat[len(lat)-1]), len(lat), logTick)
	fmt.Printf("log-latency: raw docker logs follow of the same container: p50 %.1fms, p99 %.1fms, max %.1fms\n",
		ms(rawP50), ms(rawP99), ms(raw[len(raw)-1]))
	fmt.Printf("log-latency: p99 %.1fms (target < %v) %s\n", ms(p99), targetLogLatency, verdict(p99 < targetLogLatency))
}

// tickLatencies reads tick lines from a followed log until it has
// logSamples of them written after opened, and returns their latencies,
// sorted.
func tickLatencies(r io.Reader, opened time.Time) ([]time.Duration, error) {
	var lat []time.Duration
	sc := bufio.NewScanner(r)
	for len(lat) < logSamples && sc.Scan() {
		received := time.Now()
		written, ok := tickTime(sc.Text())
		if !ok || written.Before(opened) {
			continue // the backlog, read at once
		}
		lat = append(lat, received.Sub(written))
	}
	if len(lat) < logSamples {
		return nil, fmt.Errorf("the stream ended after %d samples: %v", len(lat), sc.Err())
	}
	slices.Sort(lat)
	return lat, nil
}

// dockerLogLatencies is the baseline: the same measure on Docker's own
// followed log of the pod's app container.
func dockerLogLatencies(ctx context.Context, b *testing.B, cli *dockerclient.Client, api *client.Client, ns, name string) []time.Duration {
	b.Helper()
	var pod v1.Pod
	if err := api.Get(ctx, client.Pods, ns, name, &pod); err != nil {
		b.Fatalf("get pod: %v", err)
	}
	id := strings.TrimPrefix(pod.Status.ContainerStatuses[0].ContainerID, "docker://")
	opened := time.Now()
	body, err := cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, Follow: true, Tail: "0"})
	if err != nil {
		b.Fatalf("docker logs: %v", err)
	}
	defer body.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(func() error { _, err := stdcopy.StdCopy(pw, pw, body); return err }()) }()
	defer pr.Close()
	lat, err := tickLatencies(pr, opened)
	if err != nil {
		b.Fatalf("docker log stream: %v", err)
	}
	return lat
}

// tickTime parses the write time of the echo server's "tick N TIME" line.
func tickTime(line string) (time.Time, bool) {
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "tick" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, f[2])
	return t, err == nil
}

// dockerStarts is the baseline: raw ContainerCreate+ContainerStart of
// image from podStartWorkers goroutines, each until Docker reports the
// container running. The containers are removed afterwards.
func dockerStarts(b *testing.B, cli *dockerclient.Client, image, ns string) run {
	b.Helper()
	ctx := b.Context()
	var mu sync.Mutex
	var ids []string
	defer func() {
		for _, id := range ids {
			err := cli.ContainerRemove(context.WithoutCancel(ctx), id, container.RemoveOptions{Force: true})
			if err != nil {
				b.Errorf("remove baseline container: %v", err)
			}
		}
	}()
	start := func(name string) error {
		created, err := cli.ContainerCreate(ctx, &container.Config{
			Image:  image,
			Labels: map[string]string{runtime.LabelPodNamespace: ns},
		}, &container.HostConfig{NetworkMode: "bridge"}, nil, nil, ns+"-"+name)
		if err != nil {
			return err
		}
		mu.Lock()
		ids = append(ids, created.ID)
		mu.Unlock()
		if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
			return err
		}
		info, err := cli.ContainerInspect(ctx, created.ID)
		if err != nil {
			return err
		}
		if info.State == nil || !info.State.Running {
			return fmt.Errorf("container %s not running after start", name)
		}
		return nil
	}
	if _, err := runConcurrent(podStartWorkers, podStartWarmup, func(i int) error { return start("warm-" + strconv.Itoa(i)) }); err != nil {
		b.Fatalf("docker warm-up: %v", err)
	}
	r, err := runConcurrent(podStartWorkers, podStartTotal, func(i int) error { return start(strconv.Itoa(i)) })
	if err != nil {
		b.Fatalf("docker create+start: %v", err)
	}
	return r
}

// runningWatch records when a watch of a namespace first sees each pod
// bound to a node and Running.
type runningWatch struct {
	mu      sync.Mutex
	running map[string]chan struct{} // closed once seen Running; guarded by mu
	bound   map[string]time.Time     // guarded by mu
}

// boundAfter returns, sorted, how long after its creation time each pod
// of created was seen bound.
func (w *runningWatch) boundAfter(created map[string]time.Time) []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Duration
	for name, t0 := range created {
		if t, ok := w.bound[name]; ok && strings.HasPrefix(name, "pod-") {
			out = append(out, t.Sub(t0))
		}
	}
	slices.Sort(out)
	return out
}

// wait returns a channel that is closed once the pod is seen Running.
func (w *runningWatch) wait(name string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.channel(name)
}

// channel is the pod's channel; w.mu must be held.
func (w *runningWatch) channel(name string) chan struct{} {
	ch, ok := w.running[name]
	if !ok {
		ch = make(chan struct{})
		w.running[name] = ch
	}
	return ch
}

func (w *runningWatch) seen(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := w.channel(name)
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// watchRunning starts a watch of the pods of ns that lasts the benchmark.
func watchRunning(b *testing.B, api *client.Client, ns string) *runningWatch {
	b.Helper()
	events, err := api.Watch(b.Context(), client.Pods, ns, client.ListOptions{})
	if err != nil {
		b.Fatalf("watch pods: %v", err)
	}
	w := &runningWatch{running: map[string]chan struct{}{}, bound: map[string]time.Time{}}
	go func() {
		for ev := range events {
			var pod v1.Pod
			if ev.Type == client.Error || ev.Decode(&pod) != nil {
				continue
			}
			if pod.Spec.NodeName != "" {
				w.mu.Lock()
				if _, ok := w.bound[pod.Name]; !ok {
					w.bound[pod.Name] = time.Now()
				}
				w.mu.Unlock()
			}
			if pod.Status.Phase == v1.PodRunning && allRunning(&pod) {
				w.seen(pod.Name)
			}
		}
	}()
	return w
}

func allRunning(pod *v1.Pod) bool {
	if len(pod.Status.ContainerStatuses) != len(pod.Spec.Containers) {
		return false
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return true
}

func benchEchoPod(name, image string) *v1.Pod {
	grace := int64(1)
	return &v1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "bench"}},
		Spec: v1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			Containers: []v1.Container{{
				Name: "echo", Image: image, ImagePullPolicy: v1.PullIfNotPresent,
				Ports: []v1.ContainerPort{{ContainerPort: 8080, Protocol: v1.ProtocolTCP}},
			}},
		},
	}
}

// deleteBenchPods deletes every pod of ns and waits until they are gone.
func deleteBenchPods(b *testing.B, api *client.Client, ns string) {
	b.Helper()
	ctx := context.WithoutCancel(b.Context())
	var list v1.PodList
	if err := api.List(ctx, client.Pods, ns, client.ListOptions{}, &list); err != nil {
		b.Fatalf("list bench pods: %v", err)
	}
	for _, p := range list.Items {
		if err := api.Delete(ctx, client.Pods, ns, p.Name); err != nil && !apierrors.IsNotFound(err) {
			b.Errorf("delete pod %q: %v", p.Name, err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		list = v1.PodList{}
		if err := api.List(ctx, client.Pods, ns, client.ListOptions{}, &list); err != nil {
			b.Fatalf("list bench pods: %v", err)
		}
		if len(list.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Errorf("%d bench pods left 2m after their deletion", len(list.Items))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func benchNamespace(prefix string) string {
	s := make([]byte, 3)
	_, _ = rand.Read(s)
	return prefix + "-" + hex.EncodeToString(s)
}

// benchDocker connects to Docker, builds the echo image and removes every
// container of ns when the benchmark ends (after berth up has stopped).
func benchDocker(b *testing.B, ns string) (*dockerclient.Client, string) {
	b.Helper()
	cli := imagetest.Client(b)
	imagetest.RemoveContainers(b, cli, runtime.LabelPodNamespace+"="+ns)
	return cli, imagetest.BuildEchoImage(b.Context(), b, cli)
}

func createBenchNamespace(b *testing.B, env *testenv.Env, ns string) {
	b.Helper()
	resp := env.Do(b, http.MethodPost, "/api/v1/namespaces", env.AdminToken,
		map[string]any{"metadata": map[string]string{"name": ns}})
	if resp.Code != http.StatusCreated {
		b.Fatalf("create namespace %q: %d %s", ns, resp.Code, resp.Body)
	}
}

// berthUp is a `berth up` process with its node agent on the local Docker.
type berthUp struct {
	env    *testenv.Env
	client *client.Client
	// pid is the berth up process's.
	pid int
}

var consoleLine = regexp.MustCompile(`Console:\s+(http://\S+?)/?\s`)

// startBerthUp builds the berth binary (static, as the infra image needs
// it) and runs `berth up` on a fresh data dir until the benchmark ends.
// The master runs as a process of its own: its agent builds the infra
// image from its own executable, which must be berth.
func startBerthUp(b *testing.B) *berthUp {
	b.Helper()
	if testing.Short() {
		b.Skip("runs berth up with pods on Docker; skipped in -short mode")
	}
	dir := b.TempDir()
	bin := testbin.Berth(b)
	dataDir := filepath.Join(dir, "data")
	// Ranges of its own: other test clusters may run on the host.
	pods := testenv.ClusterCIDR(b, dataDir)
	cmd := exec.Command(bin, "up", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--log-level", "warn",
		"--cluster-cidr", pods.String(), "--service-cluster-ip-range", testenv.ServiceCIDR(pods).String(),
		"--router-listen", "127.0.0.1:0", "--router-tls-listen", "127.0.0.1:0")
	var out, errOut lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		b.Fatalf("start berth up: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	var url string
	deadline := time.After(2 * time.Minute)
	for url == "" {
		if m := consoleLine.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
			break
		}
		select {
		case <-exited:
			b.Fatalf("berth up exited: %s", errOut.String())
		case <-deadline:
			b.Fatalf("berth up printed no Console URL within 2m: %s", errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	env := &testenv.Env{URL: url}
	pw, err := os.ReadFile(filepath.Join(dataDir, "admin-password"))
	if err != nil {
		b.Fatal(err)
	}
	env.AdminToken = env.Login(b, "admin", strings.TrimSpace(string(pw)))
	return &berthUp{env: env, client: client.New(url, env.AdminToken), pid: cmd.Process.Pid}
}

// cpu is the user and system CPU time berth up has used (its node agent
// included), from /proc: to the clock tick (10 ms).
func (u *berthUp) cpu(b *testing.B) time.Duration {
	b.Helper()
	return procCPU(b, u.pid)
}

// lockedBuffer is shared with the other tests.
type lockedBuffer = syncbuf.Buffer
