package metering

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/errdefs"
)

// The dimensions a report groups by.
const (
	ByHour    = "hour"
	ByDay     = "day"
	ByProject = "project"
	ByUser    = "user"
	ByPod     = "pod"
	// ByMinute reads the raw records (live graphs): a range of a day at
	// most, within the retention.
	ByMinute = "minute"
)

var dimensions = berthv1.UsageDimensions

// DefaultReportRange is the range of a report that names no from.
const DefaultReportRange = 30 * 24 * time.Hour

// maxMinuteRange bounds the range of a report by minute.
const maxMinuteRange = 24 * time.Hour

// Query selects a report. Projects nil means every project; an empty
// non-nil slice means none.
type Query struct {
	From, To time.Time
	GroupBy  []string
	Projects []string
	User     string
	Pod      string
}

// ParseQuery reads a report's parameters (from, to, groupBy, user, pod);
// a bad one is an ErrBadRequest that names it. from and to are RFC 3339
// times or dates (YYYY-MM-DD, UTC midnight); to defaults to now and from
// to DefaultReportRange before it; the range may not be longer than the
// retention.
func ParseQuery(q url.Values, now time.Time, retention time.Duration) (Query, error) {
	var out Query
	var err error
	out.To = now.UTC()
	if v := q.Get("to"); v != "" {
		if out.To, err = parseTime(v); err != nil {
			return out, errdefs.BadRequest("to: %v", err)
		}
	}
	out.From = out.To.Add(-DefaultReportRange)
	if v := q.Get("from"); v != "" {
		if out.From, err = parseTime(v); err != nil {
			return out, errdefs.BadRequest("from: %v", err)
		}
	}
	if !out.From.Before(out.To) {
		return out, errdefs.BadRequest("from: %s is not before to (%s)", out.From.Format(time.RFC3339), out.To.Format(time.RFC3339))
	}
	if out.To.Sub(out.From) > retention {
		return out, errdefs.BadRequest("from: the range from %s to %s is longer than the retention of %s",
			out.From.Format(time.RFC3339), out.To.Format(time.RFC3339), days(retention))
	}
	for _, v := range q["groupBy"] {
		for _, d := range strings.Split(v, ",") {
			d = strings.TrimSpace(d)
			if d == "" {
				continue
			}
			if !slices.Contains(dimensions, d) {
				return out, errdefs.BadRequest("groupBy: unknown dimension %q (want some of hour, day, project, user, pod)", d)
			}
			if !slices.Contains(out.GroupBy, d) {
				out.GroupBy = append(out.GroupBy, d)
			}
		}
	}
	times := 0
	for _, d := range out.GroupBy {
		if d == ByMinute || d == ByHour || d == ByDay {
			times++
		}
	}
	if times > 1 {
		return out, errdefs.BadRequest("groupBy: at most one of minute, hour and day")
	}
	if slices.Contains(out.GroupBy, ByMinute) {
		if out.To.Sub(out.From) > maxMinuteRange {
			return out, errdefs.BadRequest("from: a report by minute spans a day at most")
		}
		if out.From.Before(now.Add(-retention)) {
			return out, errdefs.BadRequest("from: raw records are kept for %s only", days(retention))
		}
	}
	out.User, out.Pod = q.Get("user"), q.Get("pod")
	return out, nil
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a date (YYYY-MM-DD)", v)
}

// period is the rollup a query reads, and the range it covers: whole
// hours, or whole days when it groups by day (from rounded down, to up).
func (q Query) period() (string, time.Time, time.Time) {
	unit, period := time.Hour, ByHour
	if slices.Contains(q.GroupBy, ByDay) {
		unit, period = 24*time.Hour, ByDay
	}
	from := q.From.Truncate(unit)
	to := q.To.Truncate(unit)
	if to.Before(q.To) {
		to = to.Add(unit)
	}
	return period, from, to
}

const gib = 1 << 30

// Report sums the rollups (or, by minute, the raw records) of the query.
func (s *Store) Report(ctx context.Context, q Query) (*berthv1.UsageReport, error) {
	report := &berthv1.UsageReport{GroupBy: q.GroupBy, Rows: []berthv1.UsageRow{}}
	if q.Projects != nil && len(q.Projects) == 0 {
		report.From, report.To = q.From, q.To
		return report, nil
	}
	var sql string
	var args []any
	var cols []string
	if slices.Contains(q.GroupBy, ByMinute) {
		report.From, report.To = q.From.Truncate(time.Minute), q.To
		sql, args, cols = q.minuteSQL(report.From, report.To)
	} else {
		var period string
		period, report.From, report.To = q.period()
		sql, args, cols = q.rollupSQL(period, report.From, report.To)
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, unavailable("usage report", err)
	}
	defer rows.Close()
	for rows.Next() {
		var row berthv1.UsageRow
		var bucket time.Time
		var cpu, mem, pod float64
		var rx, tx int64
		dest := make([]any, 0, len(cols)+6)
		for _, c := range cols {
			switch c {
			case ByMinute, ByHour, ByDay:
				dest = append(dest, &bucket)
			case ByProject:
				dest = append(dest, &row.Project)
			case ByUser:
				dest = append(dest, &row.User)
			case ByPod:
				dest = append(dest, &row.Pod)
			}
		}
		dest = append(dest, &cpu, &mem, &pod, &rx, &tx, &row.MemoryPeakBytes)
		if err := rows.Scan(dest...); err != nil {
			return nil, unavailable("usage report", err)
		}
		bucket = bucket.UTC()
		for _, c := range cols {
			switch c {
			case ByMinute:
				row.Minute = &bucket
			case ByHour:
				row.Hour = &bucket
			case ByDay:
				row.Day = bucket.Format(time.DateOnly)
			}
		}
		row.CPUCoreHours, row.MemoryGiBHours, row.PodHours = cpu/3600, mem/gib/3600, pod/3600
		row.NetworkInGiB, row.NetworkOutGiB = float64(rx)/gib, float64(tx)/gib
		report.Rows = append(report.Rows, row)
		t := &report.Total
		t.CPUCoreHours += row.CPUCoreHours
		t.MemoryGiBHours += row.MemoryGiBHours
		t.PodHours += row.PodHours
		t.NetworkInGiB += row.NetworkInGiB
		t.NetworkOutGiB += row.NetworkOutGiB
		t.MemoryPeakBytes = max(t.MemoryPeakBytes, row.MemoryPeakBytes)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("usage report", err)
	}
	return report, nil
}

// filters are the WHERE terms beyond the range, with their arguments
// numbered after args.
func (q Query) filters(args []any) (string, []any) {
	var where strings.Builder
	if q.Projects != nil {
		args = append(args, q.Projects)
		fmt.Fprintf(&where, " AND project = ANY($%d)", len(args))
	}
	if q.User != "" {
		args = append(args, q.User)
		fmt.Fprintf(&where, " AND username = $%d", len(args))
	}
	if q.Pod != "" {
		args = append(args, q.Pod)
		fmt.Fprintf(&where, " AND pod = $%d", len(args))
	}
	return where.String(), args
}

// groupColumns are the grouped columns, in a fixed order (time first),
// with the SQL expression of each.
func (q Query) groupColumns(timeExpr string) ([]string, []string) {
	var cols, exprs []string
	for _, d := range dimensions {
		if !slices.Contains(q.GroupBy, d) {
			continue
		}
		cols = append(cols, d)
		switch d {
		case ByMinute, ByHour, ByDay:
			exprs = append(exprs, timeExpr)
		case ByUser:
			exprs = append(exprs, "username")
		default:
			exprs = append(exprs, d)
		}
	}
	return cols, exprs
}

// rollupsAndPending are the rollups with the sums not folded into them
// yet (store.go FoldRollups), which a report adds up like the others.
const rollupsAndPending = `(SELECT ` + rollupColumns + ` FROM usage_rollups
	UNION ALL SELECT ` + rollupColumns + ` FROM usage_rollup_pending) AS rollups`

func (q Query) rollupSQL(period string, from, to time.Time) (string, []any, []string) {
	args := []any{period, from, to}
	where, args := q.filters(args)
	cols, exprs := q.groupColumns("bucket")
	return q.assemble(`sum(cpu_seconds), sum(memory_byte_seconds), sum(pod_seconds),
		sum(network_rx_bytes)::bigint, sum(network_tx_bytes)::bigint, max(memory_peak_bytes)`,
		rollupsAndPending+" WHERE period = $1 AND bucket >= $2 AND bucket < $3"+where, exprs), args, cols
}

func (q Query) minuteSQL(from, to time.Time) (string, []any, []string) {
	args := []any{from, to}
	where, args := q.filters(args)
	cols, exprs := q.groupColumns("date_trunc('minute', window_start, 'UTC')")
	return q.assemble(`sum(cpu_seconds), sum(memory_byte_seconds), sum(pod_seconds),
		sum(network_rx_bytes)::bigint, sum(network_tx_bytes)::bigint, max(memory_peak_bytes)`,
		"usage_records WHERE window_start >= $1 AND window_start < $2"+where, exprs), args, cols
}

func (q Query) assemble(sums, from string, exprs []string) string {
	sel := strings.Join(append(append([]string{}, exprs...), sums), ", ")
	sql := "SELECT " + sel + " FROM " + from
	if len(exprs) > 0 {
		var idx []string
		for i := range exprs {
			idx = append(idx, fmt.Sprint(i+1))
		}
		sql += " GROUP BY " + strings.Join(idx, ", ") + " ORDER BY " + strings.Join(idx, ", ")
	}
	return sql
}
