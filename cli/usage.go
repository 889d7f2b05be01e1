package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
)

type usageOptions struct {
	project, user, pod, from, to, by, output string
}

func newUsageCommand(g *globals) *cobra.Command {
	var o usageOptions
	cmd := &cobra.Command{
		Use:   "usage [--project P] [--user U] [--from D] [--to D] [--by day,project] [-o table|csv|json]",
		Short: "Show what projects, users and pods used: CPU core-hours, memory GiB-hours, pod-hours, network",
		Long: `Show a usage report. Without --project it covers every project you are a
member of (every project, for cluster admins). --from and --to take dates
(2026-11-01) or RFC 3339 times; the default is the last 30 days. --by groups
by any of hour, day, project, user and pod.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runUsage(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.project, "project", "", "one project's usage")
	f.StringVar(&o.user, "user", "", "only the usage attributed to this user")
	f.StringVar(&o.pod, "pod", "", "only this pod's usage")
	f.StringVar(&o.from, "from", "", "start of the report (date or RFC 3339 time; default 30 days before --to)")
	f.StringVar(&o.to, "to", "", "end of the report (default now)")
	f.StringVar(&o.by, "by", "day,project", "dimensions to group by: hour, day, project, user, pod")
	f.StringVarP(&o.output, "output", "o", "table", "table, csv or json")
	return cmd
}

func runUsage(cmd *cobra.Command, g *globals, o usageOptions) error {
	if o.output != "table" && o.output != "csv" && o.output != "json" {
		return fmt.Errorf("--output %q: want table, csv or json", o.output)
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"user": o.user, "pod": o.pod, "from": o.from, "to": o.to, "groupBy": o.by} {
		if v != "" {
			q.Set(k, v)
		}
	}
	path := "/apis/berth.dev/v1/usage"
	if o.project != "" {
		path = "/apis/berth.dev/v1/namespaces/" + url.PathEscape(o.project) + "/usage"
	}
	var report berthv1.UsageReport
	if err := c.Do(cmd.Context(), http.MethodGet, path, q, nil, &report); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	switch o.output {
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(&report)
	case "csv":
		return report.WriteCSV(out)
	}
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	cols := berthv1.UsageColumns(report.GroupBy)
	header := append(upper(cols), "CPU (CORE-H)", "MEMORY (GIB-H)", "POD-H", "NET IN (GIB)", "NET OUT (GIB)")
	fmt.Fprintln(w, strings.Join(header, "\t"))
	line := func(row berthv1.UsageRow, first []string) {
		cells := append(first, fixed(row.CPUCoreHours), fixed(row.MemoryGiBHours), fixed(row.PodHours), fixed(row.NetworkInGiB), fixed(row.NetworkOutGiB))
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	for _, row := range report.Rows {
		line(row, row.Cells(report.GroupBy)[:len(cols)])
	}
	total := make([]string, len(cols))
	if len(cols) > 0 {
		total[0] = "TOTAL"
	}
	line(report.Total, total)
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "from %s to %s\n", report.From.Format("2006-01-02 15:04 MST"), report.To.Format("2006-01-02 15:04 MST"))
	return nil
}

func upper(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ToUpper(v)
	}
	return out
}

func fixed(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
