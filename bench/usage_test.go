package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/pki"
	"github.com/berthpaas/berth/backend/testenv"
)

const (
	ingestPods     = 300
	ingestRecords  = 240_000
	ingestBatch    = 4000 // as an agent sends
	ingestWorkers  = 4
	targetIngest   = 50_000.0
	targetIngestRt = 0.5

	reportDays   = 30
	targetReport = 200 * time.Millisecond
)

// BenchmarkUsageIngest measures POST /apis/berth.dev/v1/usagerecords with
// a node's credential, in batches of 4000 records from 4 clients, against
// a raw COPY of the same rows into a table like usage_records, in the same
// run. Targets: 50,000 records/s or more, at half the raw rate or more.
func BenchmarkUsageIngest(b *testing.B) {
	env := testenv.Start(b)
	const ns, node = "bench-usage", "bench-usage-node"
	createNamespace(b, env, ns)
	token := joinNode(b, env, node)
	pods := make([]berthv1.UsageRecord, ingestPods)
	for i := range pods {
		name := fmt.Sprintf("pod-%03d", i)
		resp := env.Do(b, http.MethodPost, "/api/v1/namespaces/"+ns+"/pods", env.AdminToken, map[string]any{
			"metadata": map[string]string{"name": name},
			"spec":     map[string]any{"nodeName": node, "containers": []any{map[string]string{"name": "app", "image": "example/app:1"}}},
		})
		if resp.Code != http.StatusCreated {
			b.Fatalf("create pod: %d %s", resp.Code, resp.Body)
		}
		var p struct {
			Metadata struct{ UID string } `json:"metadata"`
		}
		resp.JSON(b, &p)
		pods[i] = berthv1.UsageRecord{Node: node, PodUID: p.Metadata.UID, Namespace: ns, Pod: name, Container: "app"}
	}
	start := time.Now().UTC().Add(-time.Duration(ingestRecords/ingestPods) * 15 * time.Second).Truncate(time.Second)
	records := make([]berthv1.UsageRecord, ingestRecords)
	for i := range records {
		r := pods[i%ingestPods]
		r.ContainerID = "c-" + r.PodUID
		r.WindowStart = start.Add(time.Duration(i/ingestPods) * 15 * time.Second)
		r.WindowEnd = r.WindowStart.Add(15 * time.Second)
		r.CPUSeconds, r.MemoryByteSeconds, r.MemoryBytes, r.MemoryPeakBytes = 1.5, 15<<26, 1<<26, 1<<26
		r.NetworkRxBytes, r.NetworkTxBytes, r.RunningSeconds = 4096, 2048, 15
		records[i] = r
	}

	copied := rawCopy(b, env, records)
	var bodies [][]byte
	for i := 0; i < len(records); i += ingestBatch {
		data, err := json.Marshal(berthv1.UsageRecordList{Items: records[i:min(i+ingestBatch, len(records))]})
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, data)
	}
	client := keepAliveClient(ingestWorkers)
	posted, err := runConcurrent(ingestWorkers, len(bodies), func(i int) error {
		req, _ := http.NewRequest(http.MethodPost, env.URL+"/apis/berth.dev/v1/usagerecords", bytes.NewReader(bodies[i]))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var answer berthv1.UsageIngest
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("batch %d: HTTP %d %v", i, resp.StatusCode, err)
		}
		if answer.Stored+answer.Duplicates != ingestBatch && i != len(bodies)-1 {
			return fmt.Errorf("batch %d: %+v", i, answer)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	apiRate := float64(len(records)) / posted.elapsed.Seconds()
	copyRate := float64(len(records)) / copied.Seconds()
	ratio := apiRate / copyRate
	b.ReportMetric(apiRate, "api_records/s")
	b.ReportMetric(copyRate, "copy_records/s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("usage-ingest: api %.0f records/s (%d batches of %d from %d clients, p50 %.0fms per batch) vs raw COPY %.0f records/s\n",
		apiRate, len(bodies), ingestBatch, ingestWorkers, ms(median(posted.latencies)), copyRate)
	fmt.Printf("usage-ingest: %.0f records/s (target ≥ %.0f) %s; ratio %.2f (target ≥ %.2f) %s\n",
		apiRate, targetIngest, verdict(apiRate >= targetIngest), ratio, targetIngestRt, verdict(ratio >= targetIngestRt))
}

// rawCopy copies records into a scratch table like usage_records (its
// primary key, no partitions, no rollups) and returns how long it took.
func rawCopy(b *testing.B, env *testenv.Env, records []berthv1.UsageRecord) time.Duration {
	b.Helper()
	ctx := b.Context()
	conn, err := pgx.Connect(ctx, env.DatabaseURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `CREATE TABLE usage_copy_baseline (LIKE usage_records INCLUDING DEFAULTS, PRIMARY KEY (node, container_id, window_start))`); err != nil {
		b.Fatal(err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `DROP TABLE usage_copy_baseline`)
	cols := []string{"node", "container_id", "window_start", "window_end", "project", "pod", "pod_uid", "container", "username",
		"cpu_seconds", "memory_byte_seconds", "memory_bytes", "memory_peak_bytes", "network_rx_bytes", "network_tx_bytes", "running_seconds", "pod_seconds"}
	t0 := time.Now()
	for i := 0; i < len(records); i += ingestBatch {
		batch := records[i:min(i+ingestBatch, len(records))]
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"usage_copy_baseline"}, cols, pgx.CopyFromSlice(len(batch), func(j int) ([]any, error) {
			r := &batch[j]
			return []any{r.Node, r.ContainerID, r.WindowStart, r.WindowEnd, r.Namespace, r.Pod, r.PodUID, r.Container, "",
				r.CPUSeconds, r.MemoryByteSeconds, r.MemoryBytes, r.MemoryPeakBytes, r.NetworkRxBytes, r.NetworkTxBytes, r.RunningSeconds, 0.0}, nil
		})); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(t0)
}

// BenchmarkUsageReport measures a 30-day daily report per project
// (groupBy=day,project) through the API over 10 million synthetic records
// (BERTH_BENCH_USAGE_RECORDS sets another count): 50 projects, 500 pods,
// 100 users. The records and their rollups are made in the database, as
// ingestion would have left them. Target: under 200 ms.
func BenchmarkUsageReport(b *testing.B) {
	env := testenv.Start(b)
	n := 10_000_000
	if v := os.Getenv("BERTH_BENCH_USAGE_RECORDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("BERTH_BENCH_USAGE_RECORDS: %v", err)
		}
	}
	ctx := b.Context()
	conn, err := pgx.Connect(ctx, env.DatabaseURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	end := time.Now().UTC().Truncate(24 * time.Hour)
	begin := end.AddDate(0, 0, -reportDays)
	t0 := time.Now()
	for d := range reportDays {
		day := begin.AddDate(0, 0, d)
		if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS usage_records_%s PARTITION OF usage_records FOR VALUES FROM ('%s') TO ('%s')`,
			day.Format("20060102"), day.Format(time.RFC3339), day.AddDate(0, 0, 1).Format(time.RFC3339))); err != nil {
			b.Fatal(err)
		}
	}
	// Record i: pod i%500 (project pod%50, user pod%100), window i/500 of
	// the pod, spread evenly over the 30 days.
	step := float64(reportDays*24*3600) / float64(n/500+1)
	if _, err := conn.Exec(ctx, `
INSERT INTO usage_records
SELECT 'n' || (i % 20), 'c' || (i % 500), $1::timestamptz + make_interval(secs => (i / 500) * $2::float8 + (i % 500) * 0.001),
	$1::timestamptz + make_interval(secs => (i / 500) * $2::float8 + (i % 500) * 0.001 + 15),
	'p' || (i % 500 % 50), 'pod-' || (i % 500), 'uid-' || (i % 500), 'app', 'u' || (i % 500 % 100),
	(i % 7) * 0.5, (i % 11) * 1e8, 1 << 26, 1 << 27, i % 4096, i % 2048, 15, 15
FROM generate_series(0, $3::bigint - 1) AS i`, begin, step, n); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `
INSERT INTO usage_rollups
SELECT p.period, date_trunc(p.period, window_start, 'UTC'), project, username, pod, sum(cpu_seconds), sum(memory_byte_seconds),
	max(memory_peak_bytes), sum(network_rx_bytes), sum(network_tx_bytes), sum(pod_seconds), count(*)
FROM usage_records CROSS JOIN (VALUES ('hour'), ('day')) AS p(period) GROUP BY 1, 2, 3, 4, 5`); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE usage_rollups`); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("usage-report: %d records over %d days made in %v\n", n, reportDays, time.Since(t0).Round(time.Second))

	path := fmt.Sprintf("/apis/berth.dev/v1/usage?groupBy=day,project&from=%s&to=%s", begin.Format(time.DateOnly), end.Format(time.DateOnly))
	client := keepAliveClient(1)
	var lat []time.Duration
	var rows int
	for range 20 {
		t := time.Now()
		code, body, err := do(client, env, http.MethodGet, path, "", nil)
		if err != nil || code != http.StatusOK {
			b.Fatalf("report: %d %v %s", code, err, body)
		}
		lat = append(lat, time.Since(t))
		var r berthv1.UsageReport
		if err := json.Unmarshal(body, &r); err != nil {
			b.Fatal(err)
		}
		rows = len(r.Rows)
	}
	b.StopTimer()
	slices.Sort(lat)
	p50 := median(lat)
	b.ReportMetric(ms(p50), "p50_ms")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("usage-report: 30-day daily report per project over %d records: %d rows, p50 %.1fms, max %.1fms (target < %v) %s\n",
		n, rows, ms(p50), ms(lat[len(lat)-1]), targetReport, verdict(p50 < targetReport))
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return percentile(s, 0.5)
}

// joinNode joins node with a bootstrap token and returns the node's
// credential.
func joinNode(b *testing.B, env *testenv.Env, node string) string {
	b.Helper()
	_, csr, err := pki.NewCSR(pki.NodeCommonName(node))
	if err != nil {
		b.Fatal(err)
	}
	resp := env.Do(b, http.MethodPost, "/auth/node-join", env.BootstrapToken(b, node),
		map[string]any{"csr": string(csr), "addresses": []string{"127.0.0.1"}, "nodeName": node})
	if resp.Code != http.StatusOK {
		b.Fatalf("join %s: %d %s", node, resp.Code, resp.Body)
	}
	var a struct{ Token string }
	resp.JSON(b, &a)
	return a.Token
}
