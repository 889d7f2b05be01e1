package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/berthpaas/berth/client"
)

func newDescribeCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe (pod|svc|quota) NAME",
		Short: "Show a pod, a service or a quota in detail, for people: containers, states, endpoints, use against limits and events",
		Example: `  berth describe pod web
  berth describe po/web
  berth describe svc web
  berth describe quota compute`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name := args[0], ""
			if len(args) == 2 {
				name = args[1]
			} else if k, n, ok := strings.Cut(kind, "/"); ok {
				kind, name = k, n
			}
			res, err := client.LookupResource(kind)
			if err != nil {
				return err
			}
			switch {
			case res.String() != client.Pods.String() && res.String() != client.Services.String() && res.String() != client.ResourceQuotas.String():
				return fmt.Errorf("describe shows pods, services and quotas, not %s: use berth get %s %s -o yaml", res, res.Resource, name)
			case name == "":
				return fmt.Errorf("describe %s: a name is required", res.Singular)
			case res.String() == client.Services.String():
				return runDescribeService(cmd, g, name)
			case res.String() == client.ResourceQuotas.String():
				return runDescribeQuota(cmd, g, name)
			}
			return runDescribePod(cmd, g, name)
		},
	}
}

func runDescribePod(cmd *cobra.Command, g *globals, name string) error {
	namespace, c, err := g.target()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	var pod corev1.Pod
	if err := c.Get(ctx, client.Pods, namespace, name, &pod); err != nil {
		return err
	}
	var events corev1.EventList
	eventsErr := c.List(ctx, client.Events, namespace, client.ListOptions{
		FieldSelector: "involvedObject.name=" + name + ",involvedObject.kind=Pod",
	}, &events)
	return describePod(cmd.OutOrStdout(), &pod, events.Items, eventsErr, time.Now())
}

// describePod prints pod and its events as kubectl describe does. A
// failure to list the events is shown in their place.
func describePod(out io.Writer, pod *corev1.Pod, events []corev1.Event, eventsErr error, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	line := func(indent int, format string, args ...any) {
		fmt.Fprintf(w, strings.Repeat("  ", indent)+format+"\n", args...)
	}
	line(0, "Name:\t%s", pod.Name)
	line(0, "Namespace:\t%s", pod.Namespace)
	node := orNone(pod.Spec.NodeName)
	if pod.Status.HostIP != "" {
		node += "/" + pod.Status.HostIP
	}
	line(0, "Node:\t%s", node)
	if pod.Status.StartTime != nil {
		line(0, "Start Time:\t%s", formatTime(pod.Status.StartTime))
	}
	line(0, "Labels:\t%s", mapLines(pod.Labels, "\t"))
	status := string(pod.Status.Phase)
	if pod.DeletionTimestamp != nil {
		status = "Terminating"
		if pod.DeletionGracePeriodSeconds != nil {
			status += fmt.Sprintf(" (lasts %s)", time.Duration(*pod.DeletionGracePeriodSeconds)*time.Second)
		}
	}
	line(0, "Status:\t%s", orNone(status))
	if pod.Status.Reason != "" {
		line(0, "Reason:\t%s", pod.Status.Reason)
	}
	if pod.Status.Message != "" {
		line(0, "Message:\t%s", pod.Status.Message)
	}
	line(0, "IP:\t%s", orNone(pod.Status.PodIP))
	if owner := metav1.GetControllerOf(pod); owner != nil {
		line(0, "Controlled By:\t%s/%s", owner.Kind, owner.Name)
	}
	line(0, "Restart Policy:\t%s", orNone(string(pod.Spec.RestartPolicy)))

	line(0, "Containers:")
	for _, ct := range pod.Spec.Containers {
		describeContainer(line, ct, containerStatus(pod, ct.Name))
	}

	if len(pod.Status.Conditions) == 0 {
		line(0, "Conditions:\t<none>")
	} else {
		line(0, "Conditions:")
		line(1, "Type\tStatus")
		for _, cond := range pod.Status.Conditions {
			line(1, "%s\t%s", cond.Type, cond.Status)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return describeEvents(out, events, eventsErr, now)
}

func describeContainer(line func(int, string, ...any), ct corev1.Container, st *corev1.ContainerStatus) {
	line(1, "%s:", ct.Name)
	line(2, "Image:\t%s", ct.Image)
	if st != nil && st.ImageID != "" {
		line(2, "Image ID:\t%s", st.ImageID)
	}
	if st != nil && st.ContainerID != "" {
		line(2, "Container ID:\t%s", st.ContainerID)
	}
	var ports []string
	for _, p := range ct.Ports {
		port := fmt.Sprintf("%d/%s", p.ContainerPort, orDefault(string(p.Protocol), "TCP"))
		if p.HostPort != 0 {
			port += fmt.Sprintf(" (host %d)", p.HostPort)
		}
		ports = append(ports, port)
	}
	line(2, "Ports:\t%s", orNone(strings.Join(ports, ", ")))
	if len(ct.Command) > 0 {
		line(2, "Command:\t%s", strings.Join(ct.Command, " "))
	}
	if len(ct.Args) > 0 {
		line(2, "Args:\t%s", strings.Join(ct.Args, " "))
	}
	if st == nil {
		line(2, "State:\tNot reported yet")
	} else {
		describeState(line, "State", st.State)
		if st.LastTerminationState != (corev1.ContainerState{}) {
			describeState(line, "Last State", st.LastTerminationState)
		}
		line(2, "Ready:\t%t", st.Ready)
		line(2, "Restart Count:\t%d", st.RestartCount)
	}
	for _, r := range []struct {
		title string
		list  corev1.ResourceList
	}{{"Limits", ct.Resources.Limits}, {"Requests", ct.Resources.Requests}} {
		if len(r.list) == 0 {
			continue
		}
		line(2, "%s:", r.title)
		names := make([]string, 0, len(r.list))
		for n := range r.list {
			names = append(names, string(n))
		}
		sort.Strings(names)
		for _, n := range names {
			q := r.list[corev1.ResourceName(n)]
			line(3, "%s:\t%s", n, q.String())
		}
	}
	if len(ct.Env) == 0 {
		line(2, "Environment:\t<none>")
	} else {
		line(2, "Environment:")
		for _, e := range ct.Env {
			value := e.Value
			if e.ValueFrom != nil {
				value = "<set from a reference>"
			}
			line(3, "%s:\t%s", e.Name, value)
		}
	}
}

func describeState(line func(int, string, ...any), title string, s corev1.ContainerState) {
	switch {
	case s.Running != nil:
		line(2, "%s:\tRunning", title)
		line(3, "Started:\t%s", formatTime(&s.Running.StartedAt))
	case s.Terminated != nil:
		t := s.Terminated
		line(2, "%s:\tTerminated", title)
		line(3, "Reason:\t%s", orNone(t.Reason))
		if t.Message != "" {
			line(3, "Message:\t%s", t.Message)
		}
		line(3, "Exit Code:\t%d", t.ExitCode)
		if t.Signal != 0 {
			line(3, "Signal:\t%d", t.Signal)
		}
		line(3, "Started:\t%s", formatTime(&t.StartedAt))
		line(3, "Finished:\t%s", formatTime(&t.FinishedAt))
	case s.Waiting != nil:
		line(2, "%s:\tWaiting", title)
		line(3, "Reason:\t%s", orNone(s.Waiting.Reason))
		if s.Waiting.Message != "" {
			line(3, "Message:\t%s", s.Waiting.Message)
		}
	default:
		line(2, "%s:\tUnknown", title)
	}
}

// describeEvents prints the events oldest first, as a table.
func describeEvents(out io.Writer, events []corev1.Event, eventsErr error, now time.Time) error {
	switch {
	case eventsErr != nil:
		_, err := fmt.Fprintf(out, "Events:\t<cannot list them: %v>\n", eventsErr)
		return err
	case len(events) == 0:
		_, err := fmt.Fprintln(out, "Events:\t<none>")
		return err
	}
	sorted := append([]corev1.Event(nil), events...)
	sort.SliceStable(sorted, func(i, j int) bool { return lastSeen(&sorted[i]).Before(lastSeen(&sorted[j])) })
	fmt.Fprintln(out, "Events:")
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "  Type\tReason\tAge\tFrom\tMessage")
	fmt.Fprintln(w, "  ----\t------\t----\t----\t-------")
	for i := range sorted {
		e := &sorted[i]
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, eventAge(e, now), eventSource(e), strings.TrimSpace(e.Message))
	}
	return w.Flush()
}

// lastSeen is when an event last happened, whichever field its reporter
// filled in.
func lastSeen(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// eventAge is "5m", or "5m (x3 over 10m)" for an event seen several times.
func eventAge(e *corev1.Event, now time.Time) string {
	last := lastSeen(e)
	if last.IsZero() {
		return "<unknown>"
	}
	age := duration.HumanDuration(now.Sub(last))
	if e.Count > 1 && !e.FirstTimestamp.IsZero() {
		age += fmt.Sprintf(" (x%d over %s)", e.Count, duration.HumanDuration(now.Sub(e.FirstTimestamp.Time)))
	}
	return age
}

func eventSource(e *corev1.Event) string {
	from := e.Source.Component
	if from == "" {
		from = e.ReportingController
	}
	host := e.Source.Host
	if host == "" {
		host = e.ReportingInstance
	}
	if host != "" && host != from {
		from = strings.Trim(from+", "+host, ", ")
	}
	return from
}

func formatTime(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "<unknown>"
	}
	return t.Format(time.RFC1123Z)
}

// mapLines prints labels one per line, sorted, continuing with sep before
// each further line so they stay in the value column.
func mapLines(m map[string]string, sep string) string {
	if len(m) == 0 {
		return "<none>"
	}
	pairs := make([]string, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, k+"="+v)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "\n"+sep)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
