package cli

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/client"
)

func runDescribeQuota(cmd *cobra.Command, g *globals, name string) error {
	namespace, c, err := g.target()
	if err != nil {
		return err
	}
	var q corev1.ResourceQuota
	if err := c.Get(cmd.Context(), client.ResourceQuotas, namespace, name, &q); err != nil {
		return err
	}
	return describeQuota(cmd.OutOrStdout(), &q)
}

// describeQuota prints a quota's use against its limits, as kubectl
// describe quota does.
func describeQuota(out io.Writer, q *corev1.ResourceQuota) error {
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintf(w, "Name:\t%s\n", q.Name)
	fmt.Fprintf(w, "Namespace:\t%s\n", q.Namespace)
	fmt.Fprintf(w, "Resource\tUsed\tHard\n")
	fmt.Fprintf(w, "--------\t----\t----\n")
	names := make([]string, 0, len(q.Spec.Hard))
	for n := range q.Spec.Hard {
		names = append(names, string(n))
	}
	sort.Strings(names)
	for _, n := range names {
		hard := q.Spec.Hard[corev1.ResourceName(n)]
		used, ok := q.Status.Used[corev1.ResourceName(n)]
		shown := "0"
		if ok {
			shown = used.String()
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", n, shown, hard.String())
	}
	return w.Flush()
}
