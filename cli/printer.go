package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/berthpaas/berth/client"
)

// printer writes objects in one output format. Tables print their header
// once, so a watch adds rows under the first table.
type printer struct {
	out           io.Writer
	format        string // "", "wide", "json", "yaml" or "name"
	res           client.Resource
	withNamespace bool // a NAMESPACE column first, for lists across namespaces
	// kindPrefix prints names as kind/name (several kinds in one get).
	kindPrefix  bool
	headerDone  bool
	objectsDone int // for the YAML document separators
}

func newPrinter(out io.Writer, format string, res client.Resource, withNamespace bool) *printer {
	return &printer{out: out, format: format, res: res, withNamespace: withNamespace}
}

// table reports whether the format prints server-side tables.
func (p *printer) table() bool { return p.format == "" || p.format == "wide" }

// printTable prints the rows of t aligned in columns; default output hides
// the columns of priority above 0, wide shows them.
func (p *printer) printTable(t *metav1.Table) error {
	var columns []int
	for i, col := range t.ColumnDefinitions {
		if col.Priority == 0 || p.format == "wide" {
			columns = append(columns, i)
		}
	}
	tw := tabwriter.NewWriter(p.out, 6, 4, 3, ' ', 0)
	if !p.headerDone && len(t.Rows) > 0 {
		var header []string
		if p.withNamespace {
			header = append(header, "NAMESPACE")
		}
		for _, i := range columns {
			header = append(header, strings.ToUpper(t.ColumnDefinitions[i].Name))
		}
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		p.headerDone = true
	}
	for _, row := range t.Rows {
		var cells []string
		if p.withNamespace {
			cells = append(cells, rowNamespace(row.Object.Raw))
		}
		for _, i := range columns {
			var cell any
			if i < len(row.Cells) {
				cell = row.Cells[i]
			}
			text := formatCell(cell)
			if p.kindPrefix && t.ColumnDefinitions[i].Format == "name" {
				text = strings.ToLower(p.res.Kind) + "/" + text
			}
			cells = append(cells, text)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func rowNamespace(raw []byte) string {
	var obj struct {
		Metadata struct {
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(raw, &obj)
	return obj.Metadata.Namespace
}

// formatCell prints a table cell the way kubectl does.
func formatCell(v any) string {
	switch v := v.(type) {
	case nil:
		return "<none>"
	case string:
		return v
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	default:
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(data)
	}
}

// printObject prints an object or a list as JSON, YAML or names.
func (p *printer) printObject(raw []byte) error {
	switch p.format {
	case "json":
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "    "); err != nil {
			return fmt.Errorf("printing JSON: %w", err)
		}
		buf.WriteByte('\n')
		_, err := p.out.Write(buf.Bytes())
		return err
	case "yaml":
		data, err := yaml.JSONToYAML(raw)
		if err != nil {
			return fmt.Errorf("printing YAML: %w", err)
		}
		if p.objectsDone > 0 {
			fmt.Fprintln(p.out, "---")
		}
		p.objectsDone++
		_, err = p.out.Write(data)
		return err
	case "name":
		var obj struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Items []struct {
				Kind       string `json:"kind"`
				APIVersion string `json:"apiVersion"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			} `json:"items"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return fmt.Errorf("printing names: %w", err)
		}
		if obj.Items == nil {
			fmt.Fprintf(p.out, "%s/%s\n", p.res.Singular, obj.Metadata.Name)
		}
		for _, item := range obj.Items {
			singular := p.res.Singular
			if item.Kind != "" {
				if res, err := client.LookupKind(item.APIVersion, item.Kind); err == nil {
					singular = res.Singular
				}
			}
			fmt.Fprintf(p.out, "%s/%s\n", singular, item.Metadata.Name)
		}
		return nil
	}
	return fmt.Errorf("unknown output format %q", p.format)
}
