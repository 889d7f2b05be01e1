package bench

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/registry/storage"
	"github.com/berthpaas/berth/backend/testenv"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	createWorkers = 64
	createTotal   = 10_000
	// createWarmup requests run before each timed phase, so that neither
	// phase pays for opening connections or growing pools.
	createWarmup = 4 * createWorkers

	targetRatio = 0.40
	targetP99   = 50 * time.Millisecond
)

// BenchmarkCreatePod measures POST /api/v1/namespaces/NS/pods at 64
// concurrent keep-alive clients against raw etcd puts of the same bytes
// from 64 goroutines, in the same run. Targets: the API at 40% or more of
// the raw rate, p99 under 50 ms.
func BenchmarkCreatePod(b *testing.B) {
	env := testenv.Start(b)
	const ns = "bench-create"
	createNamespace(b, env, ns)
	stored := storedPod(b, env, ns)

	puts := rawPuts(b, env.Etcd, stored)
	creates := apiCreates(b, env, ns)
	b.StopTimer()

	lat := creates.latencies
	slices.Sort(lat)
	p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
	apiRate, putRate := creates.perSecond(), puts.perSecond()
	ratio := apiRate / putRate
	b.ReportMetric(apiRate, "api_creates/s")
	b.ReportMetric(putRate, "etcd_puts/s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(ms(p50), "p50_ms")
	b.ReportMetric(ms(p99), "p99_ms")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("create-pod: api %.0f/s (p50 %.1fms, p99 %.1fms, max %.1fms) vs raw etcd put %.0f/s; %d-byte pods, %d clients, %d requests per phase\n",
		apiRate, ms(p50), ms(p99), ms(lat[len(lat)-1]), putRate, len(stored), createWorkers, createTotal)
	fmt.Printf("create-pod: process CPU per op: api %.0fµs (%.1f cores busy), etcd put %.0fµs (%.1f cores busy), %d CPUs\n",
		creates.cpuPerOp(), creates.cores(), puts.cpuPerOp(), puts.cores(), runtime.NumCPU())
	fmt.Printf("create-pod: ratio %.2f (target ≥ %.2f) %s; p99 %.1fms (target < %v) %s\n",
		ratio, targetRatio, verdict(ratio >= targetRatio), ms(p99), targetP99, verdict(p99 < targetP99))
}

// storedPod creates one pod through the API and returns the bytes the
// server stored for it, so the etcd baseline writes values of the same size.
func storedPod(b *testing.B, env *testenv.Env, ns string) []byte {
	b.Helper()
	resp := env.Do(b, http.MethodPost, "/api/v1/namespaces/"+ns+"/pods", env.AdminToken, podBody("sample"))
	if resp.Code != http.StatusCreated {
		b.Fatalf("create sample pod: %d %s", resp.Code, resp.Body)
	}
	got, err := env.Etcd.Get(b.Context(), storage.Key("pods", ns, "sample"))
	if err != nil || len(got.Kvs) != 1 {
		b.Fatalf("read stored sample pod: %v (%d keys)", err, len(got.Kvs))
	}
	return got.Kvs[0].Value
}

// rawPuts puts value under distinct scratch keys from createWorkers
// goroutines; it removes the keys afterwards.
func rawPuts(b *testing.B, cli *clientv3.Client, value []byte) run {
	b.Helper()
	const prefix = "/bench-scratch/puts/"
	ctx := b.Context()
	defer func() {
		if _, err := cli.Delete(context.WithoutCancel(ctx), prefix, clientv3.WithPrefix()); err != nil {
			b.Errorf("remove scratch keys: %v", err)
		}
	}()
	val := string(value)
	put := func(name string) error {
		_, err := cli.Put(ctx, prefix+name, val)
		return err
	}
	if _, err := runConcurrent(createWorkers, createWarmup, func(i int) error { return put("warm-" + strconv.Itoa(i)) }); err != nil {
		b.Fatalf("etcd warm-up put: %v", err)
	}
	r, err := runConcurrent(createWorkers, createTotal, func(i int) error { return put(strconv.Itoa(i)) })
	if err != nil {
		b.Fatalf("etcd put: %v", err)
	}
	return r
}

// apiCreates POSTs pods from createWorkers keep-alive clients.
func apiCreates(b *testing.B, env *testenv.Env, ns string) run {
	b.Helper()
	client := keepAliveClient(createWorkers)
	defer client.CloseIdleConnections()
	path := "/api/v1/namespaces/" + ns + "/pods"
	create := func(name string) error {
		code, body, err := do(client, env, http.MethodPost, path, "", podBody(name))
		if err != nil {
			return err
		}
		if code != http.StatusCreated {
			return fmt.Errorf("create pod %q: %d %s", name, code, body)
		}
		return nil
	}
	if _, err := runConcurrent(createWorkers, createWarmup, func(i int) error { return create("warm-" + strconv.Itoa(i)) }); err != nil {
		b.Fatalf("API warm-up: %v", err)
	}
	r, err := runConcurrent(createWorkers, createTotal, func(i int) error { return create("pod-" + strconv.Itoa(i)) })
	if err != nil {
		b.Fatalf("API create: %v", err)
	}
	return r
}
