package metering_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/berthpaas/berth/backend/accounts"
	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/metering"
	"github.com/berthpaas/berth/backend/pgserver"
)

var dbURL string // "" in -short mode

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "berth-metering-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	srv, err := pgserver.Start(ctx, filepath.Join(dir, "pg"), logger)
	if err != nil {
		fmt.Fprintf(os.Stderr, "start PostgreSQL for the integration tests: %v (-short skips them)\n", err)
		return 1
	}
	defer srv.Stop(context.Background())
	dbURL = srv.URL()
	acct, err := accounts.Open(ctx, dbURL, logger) // migrates
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	acct.Close()
	return m.Run()
}

func openStore(t *testing.T) *metering.Store {
	t.Helper()
	if dbURL == "" {
		t.Skip("integration test: needs a real PostgreSQL; skipped in -short mode")
	}
	s, err := metering.Open(t.Context(), dbURL, 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// syntheticRecords are windows of 15 s of pods in several projects and of
// several users, from start on for span.
func syntheticRecords(node string, start time.Time, span time.Duration, seed uint64) []berthv1.UsageRecord {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []berthv1.UsageRecord
	for i := range 12 {
		project, user, pod := fmt.Sprintf("p%d", i%3), fmt.Sprintf("u%d", i%4), fmt.Sprintf("pod-%d", i)
		for _, container := range []string{"app", metering.InfraContainer} {
			for t := start; t.Before(start.Add(span)); t = t.Add(15 * time.Minute) {
				out = append(out, berthv1.UsageRecord{
					Node: node, ContainerID: fmt.Sprintf("%s-%d-%s", node, i, container), WindowStart: t, WindowEnd: t.Add(15 * time.Second),
					PodUID: fmt.Sprintf("uid-%d", i), Namespace: project, Pod: pod, Container: container, User: user,
					CPUSeconds: r.Float64() * 15, MemoryByteSeconds: r.Float64() * 15 * (1 << 30), MemoryBytes: r.Int64N(1 << 30),
					MemoryPeakBytes: r.Int64N(1 << 31), NetworkRxBytes: r.Int64N(1 << 20), NetworkTxBytes: r.Int64N(1 << 20),
					RunningSeconds: 15,
				})
			}
		}
	}
	return out
}

// A batch stored twice counts once; for every groupBy, a report's total
// is the sum of the raw records in its range, and the rows add up to it.
func TestReportTotalsAreTheRawSums(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	records := syntheticRecords("totals", start, 60*time.Hour, 1)
	n, err := s.Ingest(ctx, records)
	if err != nil || n != len(records) {
		t.Fatalf("first delivery: %d stored of %d, %v", n, len(records), err)
	}
	if n, err := s.Ingest(ctx, records[:100]); err != nil || n != 0 {
		t.Fatalf("second delivery: %d stored, %v", n, err)
	}

	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	from, to := start.Add(5*time.Hour), start.Add(50*time.Hour)
	var raw struct{ cpu, mem, pod, rx, tx float64 }
	if err := conn.QueryRow(ctx, `SELECT sum(cpu_seconds), sum(memory_byte_seconds), sum(pod_seconds), sum(network_rx_bytes), sum(network_tx_bytes)
		FROM usage_records WHERE node = 'totals' AND window_start >= $1 AND window_start < $2`, from, to).
		Scan(&raw.cpu, &raw.mem, &raw.pod, &raw.rx, &raw.tx); err != nil {
		t.Fatal(err)
	}
	const gib = 1 << 30
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	for _, groupBy := range []string{"", "hour", "project", "user", "pod", "project,user", "hour,project,user,pod", "user,pod", "minute,pod"} {
		t.Run("groupBy="+groupBy, func(t *testing.T) {
			q, err := metering.ParseQuery(url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "groupBy": {groupBy}},
				time.Now(), 90*24*time.Hour)
			if groupBy == "minute,pod" {
				// Raw records by minute: a day at most.
				if !errors.Is(err, errdefs.ErrBadRequest) {
					t.Fatalf("a 45 h report by minute: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			report, err := s.Report(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			tot := report.Total
			if !near(tot.CPUCoreHours, raw.cpu/3600) || !near(tot.MemoryGiBHours, raw.mem/gib/3600) || !near(tot.PodHours, raw.pod/3600) ||
				!near(tot.NetworkInGiB, raw.rx/gib) || !near(tot.NetworkOutGiB, raw.tx/gib) {
				t.Fatalf("total %+v; raw sums %+v", tot, raw)
			}
			var cpu float64
			for _, row := range report.Rows {
				cpu += row.CPUCoreHours
			}
			if want := len(strings.Split(groupBy, ",")); groupBy != "" && len(report.Rows) < want || !near(cpu, tot.CPUCoreHours) {
				t.Fatalf("%d rows adding up to %f CPU core-hours, total %f", len(report.Rows), cpu, tot.CPUCoreHours)
			}
		})
	}
	// By day: whole days.
	q, err := metering.ParseQuery(url.Values{"from": {start.Format(time.DateOnly)}, "to": {start.AddDate(0, 0, 3).Format(time.DateOnly)}, "groupBy": {"day,project"}},
		time.Now(), 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	report, err := s.Report(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var all float64
	if err := conn.QueryRow(ctx, `SELECT sum(cpu_seconds) FROM usage_records WHERE node = 'totals'`).Scan(&all); err != nil {
		t.Fatal(err)
	}
	if len(report.Rows) != 3*3 || !near(report.Total.CPUCoreHours, all/3600) {
		t.Fatalf("by day and project: %d rows, %f core-hours; raw %f", len(report.Rows), report.Total.CPUCoreHours, all/3600)
	}
}

func TestParseQueryNamesTheBadParameter(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		query string
		param string // "" when valid
	}{
		{"", ""},
		{"from=2026-11-01&to=2026-11-30&groupBy=day,project", ""},
		{"groupBy=hour&groupBy=user", ""},
		{"from=2026-11-30&to=2026-11-01", "from:"},
		{"from=2026-11-01&to=2026-11-01", "from:"},
		{"groupBy=week", "groupBy:"},
		{"groupBy=day,hour", "groupBy:"},
		{"from=last-week", "from:"},
		{"to=2026-02-30", "to:"},
		{"from=2026-01-01", "from:"}, // longer than the retention
		{"groupBy=minute", "from:"},  // raw records: a day at most
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			v, _ := url.ParseQuery(tt.query)
			_, err := metering.ParseQuery(v, now, 90*24*time.Hour)
			switch {
			case tt.param == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.param != "" && (!errors.Is(err, errdefs.ErrBadRequest) || !strings.HasPrefix(err.Error(), tt.param)):
				t.Fatalf("got %v, want a bad request naming %s", err, tt.param)
			}
		})
	}
}

// Every key counts once, in the records and in the rollups, however the
// batches that carry it overlap: a batch partly stored already, one
// stored whole, one that names a key twice, and the same batch from two
// deliveries at once.
func TestIngestCountsEachKeyOnce(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -10).Add(23 * time.Hour) // a batch across midnight
	// Records in projects of their own, which the rollups are checked in.
	synthetic := func(node string, span time.Duration, seed uint64) []berthv1.UsageRecord {
		records := syntheticRecords(node, start, span, seed)
		for i := range records {
			records[i].Namespace = "once-" + records[i].Namespace
		}
		return records
	}
	records := synthetic("once", 2*time.Hour, 2)
	half, rest := records[:len(records)/2], records[len(records)/2:]
	deliveries := []struct {
		name  string
		batch []berthv1.UsageRecord
		want  int
	}{
		{"new", half, len(half)},
		{"partly stored", records[len(records)/4:], len(records) - len(half)},
		{"stored whole", rest, 0},
		{"a key twice", append(synthetic("once-twice", time.Hour, 3)[:5], synthetic("once-twice", time.Hour, 3)[:1]...), 5},
	}
	for _, d := range deliveries {
		if n, err := s.Ingest(ctx, d.batch); err != nil || n != d.want {
			t.Fatalf("%s: %d stored, %v; want %d", d.name, n, err, d.want)
		}
	}
	twice := synthetic("once-concurrent", 2*time.Hour, 4)
	stored := make(chan int, 2)
	for range 2 {
		go func() {
			n, err := s.Ingest(ctx, twice)
			if err != nil {
				t.Error(err)
			}
			stored <- n
		}()
	}
	if n := <-stored + <-stored; n != len(twice) {
		t.Fatalf("the same batch twice at once: %d stored, want %d", n, len(twice))
	}

	// The sums of the batches stored straight wait to be folded into the
	// rollups, once.
	if n, err := s.FoldRollups(ctx); err != nil || n == 0 {
		t.Fatalf("fold: %d rollup rows, %v", n, err)
	}
	if n, err := s.FoldRollups(ctx); err != nil || n != 0 {
		t.Fatalf("fold again: %d rollup rows, %v; want none", n, err)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, period := range []string{"hour", "day"} {
		var rawCount, rollCount int64
		var rawCPU, rollCPU float64
		if err := conn.QueryRow(ctx, `SELECT count(*), sum(cpu_seconds) FROM usage_records WHERE node LIKE 'once%'`).Scan(&rawCount, &rawCPU); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, `SELECT sum(records), sum(cpu_seconds) FROM usage_rollups WHERE period = $1 AND project LIKE 'once-%'`, period).
			Scan(&rollCount, &rollCPU); err != nil {
			t.Fatal(err)
		}
		if want := int64(len(records) + 5 + len(twice)); rawCount != want || rollCount != want || math.Abs(rawCPU-rollCPU) > 1e-9*rawCPU {
			t.Fatalf("%s rollups: %d records, %f CPU s; raw: %d records, %f CPU s; want %d records", period, rollCount, rollCPU, rawCount, rawCPU, want)
		}
	}
}

// Each field is stored as sent, by both ways a batch is stored (straight
// COPY, and the careful way when a key is stored already): text as is,
// times to the microsecond (the nanoseconds truncated), numbers whole.
func TestIngestStoresEachFieldAsSent(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	start := time.Now().UTC().Truncate(time.Hour).Add(-3*time.Hour + 123456789*time.Nanosecond)
	record := func(i int) berthv1.UsageRecord {
		return berthv1.UsageRecord{
			Node: "fields", ContainerID: fmt.Sprintf("c-%d", i), WindowStart: start.Add(time.Duration(i) * time.Minute),
			WindowEnd: start.Add(time.Duration(i)*time.Minute + 15*time.Second + 999*time.Nanosecond),
			PodUID:    "uid-é", Namespace: "fields-ünïcode", Pod: "pod-" + strings.Repeat("x", 200), Container: []string{"app", metering.InfraContainer}[i%2],
			User: "", CPUSeconds: 1.0 / 3, MemoryByteSeconds: 1.5e300, MemoryBytes: math.MaxInt64, MemoryPeakBytes: 1 << 40,
			NetworkRxBytes: 0, NetworkTxBytes: 12345, RunningSeconds: 14.999999,
		}
	}
	first := []berthv1.UsageRecord{record(0), record(1)}
	if n, err := s.Ingest(ctx, first); err != nil || n != 2 {
		t.Fatalf("new: %d, %v", n, err)
	}
	again := []berthv1.UsageRecord{record(1), record(2), record(3)} // one stored: the careful way
	if n, err := s.Ingest(ctx, again); err != nil || n != 2 {
		t.Fatalf("partly stored: %d, %v", n, err)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT node, container_id, window_start, window_end, project, pod, pod_uid, container, username,
		cpu_seconds, memory_byte_seconds, memory_bytes, memory_peak_bytes, network_rx_bytes, network_tx_bytes, running_seconds, pod_seconds
		FROM usage_records WHERE node = 'fields' ORDER BY container_id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []berthv1.UsageRecord
	for rows.Next() {
		var r berthv1.UsageRecord
		var podSeconds float64
		if err := rows.Scan(&r.Node, &r.ContainerID, &r.WindowStart, &r.WindowEnd, &r.Namespace, &r.Pod, &r.PodUID, &r.Container, &r.User,
			&r.CPUSeconds, &r.MemoryByteSeconds, &r.MemoryBytes, &r.MemoryPeakBytes, &r.NetworkRxBytes, &r.NetworkTxBytes, &r.RunningSeconds, &podSeconds); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]float64{true: r.RunningSeconds}[r.Container == metering.InfraContainer]; podSeconds != want {
			t.Errorf("%s: pod seconds %v, want %v", r.ContainerID, podSeconds, want)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d records stored, want 4", len(got))
	}
	for i, g := range got {
		want := record(i)
		want.WindowStart, want.WindowEnd = want.WindowStart.Truncate(time.Microsecond), want.WindowEnd.Truncate(time.Microsecond)
		g.WindowStart, g.WindowEnd = g.WindowStart.UTC(), g.WindowEnd.UTC()
		if g != want {
			t.Errorf("stored %+v\nwant   %+v", g, want)
		}
	}
}
