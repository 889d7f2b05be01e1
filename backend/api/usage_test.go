package api_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// usageRecord is one window of pod's container "app" on node.
func usageRecord(node string, pod *v1.Pod, start time.Time, cpu float64) berthv1.UsageRecord {
	return berthv1.UsageRecord{
		Node: node, ContainerID: "c-" + string(pod.UID), WindowStart: start, WindowEnd: start.Add(15 * time.Second),
		PodUID: string(pod.UID), Namespace: pod.Namespace, Pod: pod.Name, Container: "app",
		CPUSeconds: cpu, MemoryByteSeconds: 15 << 20, MemoryBytes: 1 << 20, MemoryPeakBytes: 1 << 20,
		NetworkRxBytes: 100, NetworkTxBytes: 50, RunningSeconds: 15,
	}
}

func usageBatch(records ...berthv1.UsageRecord) map[string]any {
	return map[string]any{"apiVersion": "berth.dev/v1", "kind": "UsageRecordList", "items": records}
}

// withField is a batch of r with one more field.
func withField(r berthv1.UsageRecord, name string) map[string]any {
	var item map[string]any
	data, _ := json.Marshal(r)
	_ = json.Unmarshal(data, &item)
	item[name] = 1
	return map[string]any{"apiVersion": "berth.dev/v1", "kind": "UsageRecordList", "items": []any{item}}
}

func createBoundPod(t *testing.T, env *testenv.Env, token, ns, name, node string) *v1.Pod {
	t.Helper()
	resp := env.Do(t, "POST", "/api/v1/namespaces/"+ns+"/pods", token, map[string]any{
		"metadata": map[string]string{"name": name},
		"spec":     map[string]any{"nodeName": node, "containers": []any{map[string]string{"name": "app", "image": "example/app:1"}}},
	})
	mustCode(t, resp, http.StatusCreated)
	var p v1.Pod
	resp.JSON(t, &p)
	return &p
}

// A node reports its pods' usage; the same batch twice is stored once;
// the usage is attributed to the pod's creator whatever the node says; and
// a node that reports another node's pod, a user, or a node naming
// another node is refused.
func TestUsageIngest(t *testing.T) {
	env := testenv.Start(t)
	n1 := joinNode(t, env, "n1").Token
	n2 := joinNode(t, env, "n2").Token
	alice := env.CreateUser(t, "alice", false)
	createNamespace(t, env, alice, "shop")
	mine := createBoundPod(t, env, alice, "shop", "mine", "n1")
	theirs := createBoundPod(t, env, alice, "shop", "theirs", "n2")
	if got := mine.Annotations[berthv1.AnnotationCreatedBy]; got != "alice" {
		t.Fatalf("pod attributed to %q, want alice", got)
	}
	start := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	own := usageRecord("n1", mine, start, 3)
	own.User = "mallory" // ignored: the pod says whom it counts for
	batch := usageBatch(own, usageRecord("n1", mine, start.Add(15*time.Second), 4))
	for i, want := range []berthv1.UsageIngest{{Stored: 2}, {Duplicates: 2}} {
		resp := env.Do(t, "POST", "/apis/berth.dev/v1/usagerecords", n1, batch)
		mustCode(t, resp, http.StatusCreated)
		var got berthv1.UsageIngest
		resp.JSON(t, &got)
		if got.Stored != want.Stored || got.Duplicates != want.Duplicates {
			t.Fatalf("delivery %d: %+v, want %+v", i+1, got, want)
		}
	}

	attacks := []struct {
		name, token string
		body        any
		want        int
		message     string
	}{
		{"a node reports another node's pod", n1, usageBatch(usageRecord("n1", theirs, start, 100)), 403, `is not bound to it`},
		{"a node reports as another node", n1, usageBatch(usageRecord("n2", theirs, start, 100)), 403, `cannot report the usage of node "n2"`},
		{"a node reports a pod another node reported", n2, usageBatch(usageRecord("n2", mine, start.Add(time.Minute), 100)), 403, `runs on node "n1"`},
		{"a user reports usage", alice, usageBatch(usageRecord("n1", mine, start.Add(time.Minute), 100)), 403, `cannot create resource "usagerecords"`},
		{"the admin reports usage", env.AdminToken, usageBatch(usageRecord("n1", mine, start.Add(time.Minute), 100)), 403, `only node agents`},
		{"negative usage", n1, usageBatch(usageRecord("n1", mine, start.Add(time.Minute), -5)), 400, `items[0]: usage may not be negative`},
		{"an unknown field", n1, withField(usageRecord("n1", mine, start.Add(time.Minute), 1), "gpuSeconds"), 400, `unknown field "items[0].gpuSeconds"`},
		{"a field in another case", n1, withField(usageRecord("n1", mine, start.Add(time.Minute), 1), "CPUSeconds"), 400, `unknown field "items[0].CPUSeconds"`},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			resp := env.Do(t, "POST", "/apis/berth.dev/v1/usagerecords", a.token, a.body)
			var status struct{ Message string }
			resp.JSON(t, &status)
			if resp.Code != a.want || !strings.Contains(status.Message, a.message) {
				t.Fatalf("got %d %s, want %d with %q", resp.Code, resp.Body, a.want, a.message)
			}
		})
	}

	var report berthv1.UsageReport
	resp := env.Do(t, "GET", "/apis/berth.dev/v1/namespaces/shop/usage?groupBy=user,pod&from="+start.Format(time.RFC3339), alice, nil)
	mustCode(t, resp, http.StatusOK)
	resp.JSON(t, &report)
	if len(report.Rows) != 1 || report.Rows[0].User != "alice" || report.Rows[0].Pod != "mine" ||
		math.Abs(report.Total.CPUCoreHours-7.0/3600) > 1e-12 {
		t.Fatalf("report: %s", resp.Body)
	}
}

// Reports: members see their project, not others; bad parameters are 400s
// that name the parameter; CSV holds the same rows as JSON.
func TestUsageReport(t *testing.T) {
	env := testenv.Start(t)
	n1 := joinNode(t, env, "n1").Token
	alice := env.CreateUser(t, "alice", false)
	bob := env.CreateUser(t, "bob", false)
	createNamespace(t, env, alice, "shop")
	createNamespace(t, env, bob, "blog")
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(-48 * time.Hour)
	var records []berthv1.UsageRecord
	for i, p := range []*v1.Pod{createBoundPod(t, env, alice, "shop", "web", "n1"), createBoundPod(t, env, bob, "blog", "db", "n1")} {
		for w := range 10 {
			records = append(records, usageRecord("n1", p, start.Add(time.Duration(w)*4*time.Hour), float64(i+1)))
		}
	}
	mustCode(t, env.Do(t, "POST", "/apis/berth.dev/v1/usagerecords", n1, usageBatch(records...)), http.StatusCreated)
	from := "&from=" + start.Format(time.DateOnly)

	get := func(token, path string) berthv1.UsageReport {
		t.Helper()
		resp := env.Do(t, "GET", path, token, nil)
		mustCode(t, resp, http.StatusOK)
		var r berthv1.UsageReport
		resp.JSON(t, &r)
		return r
	}
	if r := get(alice, "/apis/berth.dev/v1/usage?groupBy=project"+from); len(r.Rows) != 1 || r.Rows[0].Project != "shop" {
		t.Fatalf("alice's cluster-wide report shows %+v, want only shop", r.Rows)
	}
	if r := get(env.AdminToken, "/apis/berth.dev/v1/usage?groupBy=project,user"+from); len(r.Rows) != 2 ||
		math.Abs(r.Total.CPUCoreHours-30.0/3600) > 1e-12 {
		t.Fatalf("admin's report: %+v", r)
	}
	mustCode(t, env.Do(t, "GET", "/apis/berth.dev/v1/namespaces/blog/usage", alice, nil), http.StatusForbidden)

	// The newest window of each container is served as metrics.k8s.io,
	// to the project's members.
	web := createBoundPod(t, env, alice, "shop", "live", "n1")
	fresh := usageRecord("n1", web, time.Now().UTC().Add(-20*time.Second), 7.5)
	mustCode(t, env.Do(t, "POST", "/apis/berth.dev/v1/usagerecords", n1, usageBatch(fresh)), http.StatusCreated)
	resp := env.Do(t, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods/live", alice, nil)
	mustCode(t, resp, http.StatusOK)
	var pm metricsv1beta1.PodMetrics
	resp.JSON(t, &pm)
	if len(pm.Containers) != 1 || pm.Containers[0].Name != "app" || pm.Containers[0].Usage.Cpu().MilliValue() != 500 ||
		pm.Containers[0].Usage.Memory().Value() != 1<<20 || pm.Kind != "PodMetrics" {
		t.Fatalf("pod metrics: %s", resp.Body)
	}
	mustCode(t, env.Do(t, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods", bob, nil), http.StatusForbidden)
	mustCode(t, env.Do(t, "GET", "/apis/metrics.k8s.io/v1beta1/nodes", alice, nil), http.StatusForbidden)
	resp = env.Do(t, "GET", "/apis/metrics.k8s.io/v1beta1/nodes/n1", env.AdminToken, nil)
	mustCode(t, resp, http.StatusOK)
	var nm metricsv1beta1.NodeMetrics
	resp.JSON(t, &nm)
	if nm.Usage.Cpu().MilliValue() != 500 {
		t.Fatalf("node metrics: %s", resp.Body)
	}

	for _, bad := range []struct{ query, param string }{
		{"from=2026-02-01&to=2026-01-01", "from:"},
		{"groupBy=week", "groupBy:"},
		{"from=yesterday", "from:"},
		{"to=2026-13-45", "to:"},
		{"from=2020-01-01&to=2026-01-01", "from:"},
		{"format=xml", "format:"},
	} {
		resp := env.Do(t, "GET", "/apis/berth.dev/v1/namespaces/shop/usage?"+bad.query, alice, nil)
		if resp.Code != http.StatusBadRequest || !strings.Contains(string(resp.Body), `"message":"`+bad.param) {
			t.Errorf("%s: got %d %s, want 400 naming %s", bad.query, resp.Code, resp.Body, bad.param)
		}
	}

	req, _ := http.NewRequest("GET", env.URL+"/apis/berth.dev/v1/namespaces/shop/usage?groupBy=day"+from, nil)
	req.Header.Set("Authorization", "Bearer "+alice)
	req.Header.Set("Accept", "text/csv")
	httpResp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer httpResp.Body.Close()
	rows, err := csv.NewReader(httpResp.Body).ReadAll()
	if err != nil || httpResp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("csv: %v %v", err, httpResp.Header)
	}
	json := get(alice, "/apis/berth.dev/v1/namespaces/shop/usage?groupBy=day"+from)
	if len(rows) != len(json.Rows)+1 || rows[0][0] != "day" || rows[0][1] != "cpu_core_hours" {
		t.Fatalf("csv rows %v, json rows %d", rows, len(json.Rows))
	}
	for i, r := range json.Rows {
		if rows[i+1][0] != r.Day || rows[i+1][1] != fmt.Sprint(r.CPUCoreHours) {
			t.Errorf("csv row %v, json row %+v", rows[i+1], r)
		}
	}
}
