package bench

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/registry/storage"
	"github.com/berthpaas/berth/backend/testenv"
	clientv3 "go.etcd.io/etcd/client/v3"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

const (
	listPods   = 10_000
	listRounds = 10
	targetList = 100 * time.Millisecond

	// tableAccept is what kubectl get asks for.
	tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
)

// BenchmarkListPods measures a full GET of 10,000 pods in one namespace,
// as JSON and as the Table kubectl asks for, against a raw etcd range read
// of the same keys. Target: the JSON list under 100 ms.
func BenchmarkListPods(b *testing.B) {
	env := testenv.Start(b)
	const ns = "bench-list"
	createNamespace(b, env, ns)
	seedPods(b, env, ns)
	prefix := storage.Prefix("pods", ns)
	path := "/api/v1/namespaces/" + ns + "/pods"
	client := keepAliveClient(1)
	defer client.CloseIdleConnections()

	raw := timeRounds(b, "raw etcd range", func() (int, error) {
		resp, err := env.Etcd.Get(b.Context(), prefix, clientv3.WithPrefix())
		if err != nil {
			return 0, err
		}
		if len(resp.Kvs) != listPods {
			return 0, fmt.Errorf("etcd holds %d pods under %q, want %d", len(resp.Kvs), prefix, listPods)
		}
		size := 0
		for _, kv := range resp.Kvs {
			size += len(kv.Key) + len(kv.Value)
		}
		return size, nil
	})
	list := timeRounds(b, "API list", func() (int, error) { return getList(client, env, path, "application/json") })
	table := timeRounds(b, "API table", func() (int, error) { return getList(client, env, path, tableAccept) })
	b.StopTimer()
	checkListCount(b, client, env, path)

	ratio := ms(list.p50) / ms(raw.p50)
	b.ReportMetric(ms(list.p50), "list_p50_ms")
	b.ReportMetric(ms(list.max), "list_max_ms")
	b.ReportMetric(ms(table.p50), "table_p50_ms")
	b.ReportMetric(ms(raw.p50), "etcd_range_p50_ms")
	b.ReportMetric(ms(list.cpu), "list_cpu_ms")
	b.ReportMetric(ratio, "list/etcd")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("list-pods: %d pods, %d rounds each\n", listPods, listRounds)
	for _, t := range []timing{raw, list, table} {
		fmt.Printf("list-pods:   %-15s p50 %7.1fms  max %7.1fms  cpu %7.1fms  %5.1f MB\n", t.name, ms(t.p50), ms(t.max), ms(t.cpu), float64(t.bytes)/1e6)
	}
	fmt.Printf("list-pods: API list p50 %.1fms = %.1f× raw etcd range (target < %v) %s; table p50 %.1fms (for information)\n",
		ms(list.p50), ratio, targetList, verdict(list.p50 < targetList), ms(table.p50))
}

// seedPods stores listPods pods in ns: one through the API, the rest
// written straight to etcd as copies of the bytes the server stored for the
// first, with their own name and uid, which is faster than the API and
// gives byte-for-byte the objects a client would have created.
func seedPods(b *testing.B, env *testenv.Env, ns string) {
	b.Helper()
	first := fmt.Sprintf("pod-%05d", 0)
	resp := env.Do(b, http.MethodPost, "/api/v1/namespaces/"+ns+"/pods", env.AdminToken, podBody(first))
	if resp.Code != http.StatusCreated {
		b.Fatalf("create pod %q: %d %s", first, resp.Code, resp.Body)
	}
	got, err := env.Etcd.Get(b.Context(), storage.Key("pods", ns, first))
	if err != nil || len(got.Kvs) != 1 {
		b.Fatalf("read stored pod %q: %v", first, err)
	}
	var template v1.Pod
	if err := json.Unmarshal(got.Kvs[0].Value, &template); err != nil {
		b.Fatalf("decode stored pod: %v", err)
	}
	_, err = runConcurrent(createWorkers, listPods-1, func(i int) error {
		pod := template.DeepCopy()
		pod.Name = fmt.Sprintf("pod-%05d", i+1)
		pod.UID = types.UID(fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1))
		data, err := json.Marshal(pod)
		if err != nil {
			return err
		}
		_, err = env.Etcd.Put(b.Context(), storage.Key("pods", ns, pod.Name), string(data))
		return err
	})
	if err != nil {
		b.Fatalf("seed pods: %v", err)
	}
}

// timing is what timeRounds measured.
type timing struct {
	name     string
	p50, max time.Duration
	// cpu is the process's CPU time per round (master, etcd and this
	// client together): steadier than wall time on a busy machine.
	cpu   time.Duration
	bytes int
}

// timeRounds runs fetch once to warm up, then listRounds times, and returns
// the median and slowest round. fetch returns the size of what it read.
func timeRounds(b *testing.B, name string, fetch func() (int, error)) timing {
	b.Helper()
	size, err := fetch()
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	rounds := make([]time.Duration, 0, listRounds)
	cpu0 := processCPU()
	for range listRounds {
		start := time.Now()
		if _, err := fetch(); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		rounds = append(rounds, time.Since(start))
	}
	cpu := (processCPU() - cpu0) / listRounds
	slices.Sort(rounds)
	return timing{name: name, p50: percentile(rounds, 0.5), max: rounds[len(rounds)-1], cpu: cpu, bytes: size}
}

// getList GETs a list and returns the size of the body.
func getList(client *http.Client, env *testenv.Env, path, accept string) (int, error) {
	code, body, err := do(client, env, http.MethodGet, path, accept, nil)
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d %.200s", path, code, body)
	}
	return len(body), nil
}

// checkListCount makes sure the timed lists were complete, outside the
// timing: decoding 10,000 pods is the client's cost, not the server's.
func checkListCount(b *testing.B, client *http.Client, env *testenv.Env, path string) {
	b.Helper()
	code, body, err := do(client, env, http.MethodGet, path, "application/json", nil)
	if err != nil || code != http.StatusOK {
		b.Fatalf("GET %s: %d %v", path, code, err)
	}
	var list v1.PodList
	if err := json.Unmarshal(body, &list); err != nil {
		b.Fatalf("decode pod list: %v", err)
	}
	if len(list.Items) != listPods || list.Kind != "PodList" {
		b.Fatalf("list has %d items of kind %q, want %d in a PodList", len(list.Items), list.Kind, listPods)
	}
}
