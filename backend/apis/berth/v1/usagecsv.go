package v1

import (
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"time"
)

// UsageDimensions are the dimensions a usage report groups by, in the
// order its columns come.
var UsageDimensions = []string{"minute", "hour", "day", "project", "user", "pod"}

// UsageColumns are the grouped dimensions of a report, in column order.
func UsageColumns(groupBy []string) []string {
	var out []string
	for _, d := range UsageDimensions {
		if slices.Contains(groupBy, d) {
			out = append(out, d)
		}
	}
	return out
}

// UsageFigureColumns name the figures of a row, after the dimensions.
var UsageFigureColumns = []string{"cpu_core_hours", "memory_gib_hours", "pod_hours", "network_in_gib", "network_out_gib", "memory_peak_bytes"}

// Cells are a row's values in column order: its grouped dimensions, then
// its figures.
func (row UsageRow) Cells(groupBy []string) []string {
	var out []string
	for _, d := range UsageColumns(groupBy) {
		switch d {
		case "minute":
			out = append(out, row.Minute.Format(time.RFC3339))
		case "hour":
			out = append(out, row.Hour.Format(time.RFC3339))
		case "day":
			out = append(out, row.Day)
		case "project":
			out = append(out, row.Project)
		case "user":
			out = append(out, row.User)
		case "pod":
			out = append(out, row.Pod)
		}
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return append(out, f(row.CPUCoreHours), f(row.MemoryGiBHours), f(row.PodHours), f(row.NetworkInGiB), f(row.NetworkOutGiB),
		strconv.FormatInt(row.MemoryPeakBytes, 10))
}

// WriteCSV writes the report as CSV: a header, then one line per row.
func (r *UsageReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(append(UsageColumns(r.GroupBy), UsageFigureColumns...))
	for _, row := range r.Rows {
		cw.Write(row.Cells(r.GroupBy))
	}
	cw.Flush()
	return cw.Error()
}
