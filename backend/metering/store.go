package metering

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/errdefs"
)

// DefaultRetention is how long raw records are kept.
const DefaultRetention = 90 * 24 * time.Hour

// InfraContainer is the container whose records carry a pod's running
// time (pod-hours) and network bytes.
const InfraContainer = "POD"

// Store keeps usage in PostgreSQL. Its methods are safe for concurrent use.
type Store struct {
	pool      *pgxpool.Pool
	log       *slog.Logger
	retention time.Duration

	mu         sync.Mutex
	partitions map[string]bool // guarded by mu; days whose partition exists
}

// Open connects to the database at url, whose schema backend/accounts
// has migrated (accounts.Open runs first). retention is how long raw
// records are kept (DefaultRetention when zero).
func Open(ctx context.Context, url string, retention time.Duration, log *slog.Logger) (*Store, error) {
	if retention <= 0 {
		retention = DefaultRetention
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open usage database: %w", err)
	}
	return &Store{pool: pool, log: log.With("component", "metering"), retention: retention, partitions: map[string]bool{}}, nil
}

// Close releases the connections.
func (s *Store) Close() { s.pool.Close() }

// Retention is how long raw records are kept.
func (s *Store) Retention() time.Duration { return s.retention }

// PodOwner is what the master knows of a pod whose usage a node reports.
type PodOwner struct {
	UID, Node, Project, Pod, User string
}

// PodOwners returns the pods of uids that have reported usage before,
// by UID.
func (s *Store) PodOwners(ctx context.Context, uids []string) (map[string]PodOwner, error) {
	rows, err := s.pool.Query(ctx, `SELECT pod_uid, node, project, pod, username FROM usage_pods WHERE pod_uid = ANY($1)`, uids)
	if err != nil {
		return nil, unavailable("read usage pods", err)
	}
	out := map[string]PodOwner{}
	for rows.Next() {
		var o PodOwner
		if err := rows.Scan(&o.UID, &o.Node, &o.Project, &o.Pod, &o.User); err != nil {
			return nil, unavailable("read usage pods", err)
		}
		out[o.UID] = o
	}
	return out, unavailable("read usage pods", rows.Err())
}

// ClaimPods records which node runs each pod and whom its usage is
// attributed to, in one statement. A pod claimed already keeps its first
// owner; the owners stored are returned, by UID.
func (s *Store) ClaimPods(ctx context.Context, owners []PodOwner) (map[string]PodOwner, error) {
	cols := make([][]string, 5)
	for _, o := range owners {
		for i, v := range []string{o.UID, o.Node, o.Project, o.Pod, o.User} {
			cols[i] = append(cols[i], v)
		}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO usage_pods (pod_uid, node, project, pod, username)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
		ORDER BY 1
		ON CONFLICT (pod_uid) DO NOTHING`, cols[0], cols[1], cols[2], cols[3], cols[4])
	if err != nil {
		return nil, unavailable("claim usage pods", err)
	}
	return s.PodOwners(ctx, cols[0])
}

// recordColumns are the columns of usage_records, in COPY order.
var recordColumns = []string{"node", "container_id", "window_start", "window_end", "project", "pod", "pod_uid",
	"container", "username", "cpu_seconds", "memory_byte_seconds", "memory_bytes", "memory_peak_bytes",
	"network_rx_bytes", "network_tx_bytes", "running_seconds", "pod_seconds"}

// Ingest stores records (Project and User filled in by the caller) and
// adds the new ones to the rollups, in one transaction. Records whose key
// is stored already are skipped: it returns how many were new.
//
// A batch is nearly always new, so it is first COPYed straight into its
// day partitions and its rollups, summed here, added to the pending sums
// in one statement (FoldRollups).
// A key stored already fails that COPY (the primary key refuses it) and
// the batch is stored again the careful way, which skips the keys it
// finds: a batch delivered twice is counted once either way.
func (s *Store) Ingest(ctx context.Context, records []berthv1.UsageRecord) (int, error) {
	if len(records) == 0 {
		return 0, nil
	}
	days, err := s.ensurePartitions(ctx, records)
	if err != nil {
		return 0, err
	}
	err = s.ingestNew(ctx, days, records)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
		return s.ingestSkipping(ctx, records)
	}
	if errors.As(err, &pgErr) && pgErr.Code == undefinedTable {
		// A partition dropped behind this store's back (by another
		// master's sweep): made again when the agent retries.
		s.mu.Lock()
		clear(s.partitions)
		s.mu.Unlock()
	}
	if err != nil {
		return 0, unavailable("store usage", err)
	}
	return len(records), nil
}

// PostgreSQL's error codes: a key stored already, a table that is not.
const (
	uniqueViolation = "23505"
	undefinedTable  = "42P01"
)

// ingestNew stores records none of which is stored yet: a COPY into each
// day partition they fall in, and their rollup sums, as additions pending
// (FoldRollups): concurrent batches of a node add to the same rollup rows,
// and an upsert of those rows held their locks until its commit, so that
// batches waited for each other. It fails with uniqueViolation, storing
// nothing, when a record is stored already.
func (s *Store) ingestNew(ctx context.Context, days map[string][]int, records []berthv1.UsageRecord) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for day, idx := range days {
		if _, err := copyRecords(ctx, tx, "usage_records_"+day, records, idx); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, pendingFromArrays, sumRollups(records).args()...); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// ingestSkipping stores the records whose key is not stored yet, and adds
// those, and only those, to the rollups: a COPY into a temporary table,
// then INSERT … ON CONFLICT DO NOTHING, whose returned rows are rolled
// up, in one statement.
func (s *Store) ingestSkipping(ctx context.Context, records []berthv1.UsageRecord) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, unavailable("store usage", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE usage_in (LIKE usage_records) ON COMMIT DROP`); err != nil {
		return 0, unavailable("store usage", err)
	}
	if _, err := copyRecords(ctx, tx, "usage_in", records, nil); err != nil {
		return 0, unavailable("store usage", err)
	}
	var stored int
	err = tx.QueryRow(ctx, `
WITH ins AS (
	INSERT INTO usage_records SELECT * FROM usage_in ON CONFLICT DO NOTHING
	RETURNING window_start, project, username, pod, cpu_seconds, memory_byte_seconds, memory_peak_bytes,
		network_rx_bytes, network_tx_bytes, pod_seconds
), roll AS (
	INSERT INTO usage_rollups AS r (`+rollupColumns+`)
	SELECT p.period, date_trunc(p.period, i.window_start, 'UTC'), i.project, i.username, i.pod,
		sum(i.cpu_seconds), sum(i.memory_byte_seconds), max(i.memory_peak_bytes),
		sum(i.network_rx_bytes), sum(i.network_tx_bytes), sum(i.pod_seconds), count(*)
	FROM ins i CROSS JOIN (VALUES ('hour'), ('day')) AS p(period)
	GROUP BY 1, 2, 3, 4, 5
	ORDER BY 1, 3, 2, 4, 5
	`+rollupAdd+`
)
SELECT count(*) FROM ins`).Scan(&stored)
	if err != nil {
		return 0, unavailable("store usage", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, unavailable("store usage", err)
	}
	return stored, nil
}

const rollupColumns = `period, bucket, project, username, pod, cpu_seconds, memory_byte_seconds,
		memory_peak_bytes, network_rx_bytes, network_tx_bytes, pod_seconds, records`

// rollupAdd adds a rollup row to the one stored. Rows are upserted in
// the order of the rollups' key, so that two batches adding to the same
// rows lock them in the same order and never deadlock.
const rollupAdd = `ON CONFLICT (period, project, bucket, username, pod) DO UPDATE SET
		cpu_seconds = r.cpu_seconds + excluded.cpu_seconds,
		memory_byte_seconds = r.memory_byte_seconds + excluded.memory_byte_seconds,
		memory_peak_bytes = greatest(r.memory_peak_bytes, excluded.memory_peak_bytes),
		network_rx_bytes = r.network_rx_bytes + excluded.network_rx_bytes,
		network_tx_bytes = r.network_tx_bytes + excluded.network_tx_bytes,
		pod_seconds = r.pod_seconds + excluded.pod_seconds,
		records = r.records + excluded.records`

// pendingFromArrays adds rollup rows, passed as one array per column, to
// the additions pending.
const pendingFromArrays = `INSERT INTO usage_rollup_pending (` + rollupColumns + `)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::float8[],
	$8::int8[], $9::int8[], $10::int8[], $11::float8[], $12::int8[])`

// foldPending moves the additions pending into the rollups, summed by
// row, in one statement: a concurrent fold (another master) takes the
// rows this one does not, and additions committed meanwhile wait for the
// next fold.
const foldPending = `WITH pending AS (
	DELETE FROM usage_rollup_pending RETURNING *
), folded AS (
	INSERT INTO usage_rollups AS r (` + rollupColumns + `)
	SELECT period, bucket, project, username, pod, sum(cpu_seconds), sum(memory_byte_seconds), max(memory_peak_bytes),
		sum(network_rx_bytes), sum(network_tx_bytes), sum(pod_seconds), sum(records)
	FROM pending GROUP BY 1, 2, 3, 4, 5
	ORDER BY 1, 3, 2, 4, 5
	` + rollupAdd + `
	RETURNING 1
)
SELECT count(*) FROM folded`

// FoldRollups adds the rollup sums of the batches stored since the last
// fold to usage_rollups, and returns how many rollup rows it changed.
// Reports read the pending sums too: folding only keeps their number
// small.
func (s *Store) FoldRollups(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, foldPending).Scan(&n); err != nil {
		return 0, unavailable("fold usage rollups", err)
	}
	return n, nil
}

// RunFolder folds the pending rollup sums every interval until ctx ends.
func (s *Store) RunFolder(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.FoldRollups(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("folding usage rollups failed", "error", err)
		}
	}
}

// rollupKey is one row of usage_rollups.
type rollupKey struct {
	period             string
	bucket             time.Time
	project, user, pod string
}

type rollupSum struct {
	cpu, mem, podSeconds float64
	peak, rx, tx, count  int64
}

type rollupSums map[rollupKey]*rollupSum

// sumRollups sums records by hour and by day, project, user and pod, as
// the careful path's SQL does.
func sumRollups(records []berthv1.UsageRecord) rollupSums {
	sums := rollupSums{}
	for i := range records {
		r := &records[i]
		podSeconds := 0.0
		if r.Container == InfraContainer {
			podSeconds = r.RunningSeconds
		}
		start := r.WindowStart.UTC()
		for _, p := range [...]struct {
			period string
			bucket time.Time
		}{{"hour", start.Truncate(time.Hour)}, {"day", start.Truncate(24 * time.Hour)}} {
			k := rollupKey{p.period, p.bucket, r.Namespace, r.User, r.Pod}
			sum := sums[k]
			if sum == nil {
				sum = &rollupSum{peak: r.MemoryPeakBytes}
				sums[k] = sum
			}
			sum.cpu += r.CPUSeconds
			sum.mem += r.MemoryByteSeconds
			sum.podSeconds += podSeconds
			sum.peak = max(sum.peak, r.MemoryPeakBytes)
			sum.rx += r.NetworkRxBytes
			sum.tx += r.NetworkTxBytes
			sum.count++
		}
	}
	return sums
}

// args are the sums as pendingFromArrays takes them.
func (sums rollupSums) args() []any {
	n := len(sums)
	var (
		periods, projects, users, pods = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		buckets                        = make([]time.Time, 0, n)
		cpu, mem, podSeconds           = make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n)
		peak, rx, tx, count            = make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
	)
	for k, v := range sums {
		periods, buckets, projects, users, pods = append(periods, k.period), append(buckets, k.bucket), append(projects, k.project), append(users, k.user), append(pods, k.pod)
		cpu, mem, peak, rx, tx, podSeconds, count = append(cpu, v.cpu), append(mem, v.mem), append(peak, v.peak), append(rx, v.rx), append(tx, v.tx), append(podSeconds, v.podSeconds), append(count, v.count)
	}
	return []any{periods, buckets, projects, users, pods, cpu, mem, peak, rx, tx, podSeconds, count}
}

// ensurePartitions makes the daily partitions the records fall in, and
// returns the records' indexes by partition (its name's day).
func (s *Store) ensurePartitions(ctx context.Context, records []berthv1.UsageRecord) (map[string][]int, error) {
	days := map[string][]int{}
	var last string
	var lastDay time.Time
	for i, r := range records {
		d := r.WindowStart.UTC().Truncate(24 * time.Hour)
		if !d.Equal(lastDay) {
			lastDay, last = d, d.Format("20060102")
		}
		days[last] = append(days[last], i)
	}
	for name, idx := range days {
		if err := s.ensurePartition(ctx, name, records[idx[0]].WindowStart.UTC().Truncate(24*time.Hour)); err != nil {
			return nil, err
		}
	}
	return days, nil
}

func (s *Store) ensurePartition(ctx context.Context, name string, day time.Time) error {
	s.mu.Lock()
	known := s.partitions[name]
	s.mu.Unlock()
	if known {
		return nil
	}
	_, err := s.pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS usage_records_%s PARTITION OF usage_records
		FOR VALUES FROM ('%s') TO ('%s')`, name, day.Format(time.RFC3339), day.AddDate(0, 0, 1).Format(time.RFC3339)))
	var pgErr *pgconn.PgError
	// Two masters (or two batches) making the same partition at once: the
	// loser is told it exists, which is what it wanted.
	if err != nil && !(errors.As(err, &pgErr) && (pgErr.Code == "42P07" || pgErr.Code == "23505")) {
		return unavailable("make usage partition "+name, err)
	}
	s.mu.Lock()
	s.partitions[name] = true
	s.mu.Unlock()
	return nil
}

// Sweep drops the daily partitions of raw records older than the
// retention; the rollups keep what they summed.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	cutoff := now.UTC().Add(-s.retention).Truncate(24 * time.Hour).Format("20060102")
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'usage_records'`)
	if err != nil {
		return 0, unavailable("list usage partitions", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, unavailable("list usage partitions", err)
	}
	dropped := 0
	for _, n := range names {
		day := n[len("usage_records_"):]
		if len(day) != 8 || day >= cutoff {
			continue
		}
		if _, err := s.pool.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{n}.Sanitize()); err != nil {
			return dropped, unavailable("drop usage partition "+n, err)
		}
		s.mu.Lock()
		delete(s.partitions, day)
		s.mu.Unlock()
		dropped++
	}
	return dropped, nil
}

// RunSweeper sweeps every interval until ctx ends.
func (s *Store) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.Sweep(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.log.Warn("usage retention sweep failed", "error", err)
		} else if n > 0 {
			s.log.Info("usage records past the retention dropped", "partitions", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RetryAfter is how long a caller is asked to wait (503, Retry-After)
// when the database does not answer.
const RetryAfter = 5 * time.Second

// unavailable classes a database failure: the caller may retry.
func unavailable(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return errdefs.Unavailable(RetryAfter, "%s: %v", what, err)
}
