package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/client"
)

func newPsCommand(g *globals) *cobra.Command {
	var allNamespaces bool
	var selector string
	cmd := &cobra.Command{
		Use:   "ps [-A] [-l SELECTOR]",
		Short: "List the containers of pods with their states, like docker ps -a",
		Long: `List every container of the pods of the namespace, one line each, with its
state as docker ps -a shows it: "Up 5 minutes", "Exited (0) 2 minutes ago",
"Waiting (ImagePullBackOff)", "Created". A pod not on a node yet shows
"Pending"; a pod being deleted shows "(Terminating)".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			namespace := ""
			if !allNamespaces {
				if namespace, err = g.ns(); err != nil {
					return err
				}
			}
			var pods corev1.PodList
			if err := c.List(cmd.Context(), client.Pods, namespace, client.ListOptions{LabelSelector: selector}, &pods); err != nil {
				return err
			}
			if len(pods.Items) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), noResources(namespace, client.Pods))
				return nil
			}
			return printPs(cmd.OutOrStdout(), pods.Items, allNamespaces, time.Now())
		},
	}
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "list pods across all namespaces")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "label selector, e.g. app=web")
	return cmd
}

// printPs prints one line per container of pods.
func printPs(out io.Writer, pods []corev1.Pod, withNamespace bool, now time.Time) error {
	tw := tabwriter.NewWriter(out, 6, 4, 3, ' ', 0)
	header := "POD\tCONTAINER\tIMAGE\tSTATUS\tRESTARTS\tNODE\tIP"
	if withNamespace {
		header = "NAMESPACE\t" + header
	}
	fmt.Fprintln(tw, header)
	for i := range pods {
		pod := &pods[i]
		for _, ct := range pod.Spec.Containers {
			st := containerStatus(pod, ct.Name)
			restarts := int32(0)
			if st != nil {
				restarts = st.RestartCount
			}
			cells := []string{pod.Name, ct.Name, ct.Image, containerStateText(pod, st, now),
				fmt.Sprint(restarts), orNone(pod.Spec.NodeName), orNone(pod.Status.PodIP)}
			if withNamespace {
				cells = append([]string{pod.Namespace}, cells...)
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
	}
	return tw.Flush()
}

// containerStatus is the status the node reported for the named container,
// or nil.
func containerStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == name {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// containerStateText says what a container is doing the way docker ps
// does. st may be nil: the node has not reported the container yet.
func containerStateText(pod *corev1.Pod, st *corev1.ContainerStatus, now time.Time) string {
	var text string
	switch {
	case st == nil && pod.Spec.NodeName == "":
		text = "Pending"
	case st == nil:
		text = "Created"
	default:
		text = stateText(st.State, now)
	}
	if pod.DeletionTimestamp != nil {
		text += " (Terminating)"
	}
	return text
}

// stateText is one container state as docker ps shows it.
func stateText(s corev1.ContainerState, now time.Time) string {
	switch {
	case s.Running != nil:
		if s.Running.StartedAt.IsZero() {
			return "Up"
		}
		return "Up " + dockerDuration(now.Sub(s.Running.StartedAt.Time))
	case s.Terminated != nil:
		text := fmt.Sprintf("Exited (%d)", s.Terminated.ExitCode)
		if !s.Terminated.FinishedAt.IsZero() {
			text += " " + dockerDuration(now.Sub(s.Terminated.FinishedAt.Time)) + " ago"
		}
		return text
	case s.Waiting != nil && s.Waiting.Reason != "" && s.Waiting.Reason != "ContainerCreating":
		return fmt.Sprintf("Waiting (%s)", s.Waiting.Reason)
	}
	return "Created"
}

// dockerDuration is Docker's HumanDuration: "Less than a second",
// "About a minute", "5 minutes", "3 hours", "2 days".
func dockerDuration(d time.Duration) string {
	seconds := int(d.Seconds())
	minutes := int(d.Minutes())
	hours := int(d.Hours() + 0.5)
	switch {
	case seconds < 1:
		return "Less than a second"
	case seconds == 1:
		return "1 second"
	case seconds < 60:
		return fmt.Sprintf("%d seconds", seconds)
	case minutes == 1:
		return "About a minute"
	case minutes < 60:
		return fmt.Sprintf("%d minutes", minutes)
	case hours == 1:
		return "About an hour"
	case hours < 48:
		return fmt.Sprintf("%d hours", hours)
	case hours < 24*7*2:
		return fmt.Sprintf("%d days", hours/24)
	case hours < 24*30*2:
		return fmt.Sprintf("%d weeks", hours/24/7)
	case hours < 24*365*2:
		return fmt.Sprintf("%d months", hours/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
