//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

package cli

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/berthpaas/berth/client"
)

func runDescribeService(cmd *cobra.Command, g *globals, name string) error {
	namespace, c, err := g.target()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	var svc corev1.Service
	if err := c.Get(ctx, client.Services, namespace, name, &svc); err != nil {
		return err
	}
	var ep *corev1.Endpoints
	var got corev1.Endpoints
	switch err := c.Get(ctx, client.Endpoints, namespace, name, &got); {
	case err == nil:
		ep = &got
	case !apierrors.IsNotFound(err):
		return err
	}
	var events corev1.EventList
	eventsErr := c.List(ctx, client.Events, namespace, client.ListOptions{
		FieldSelector: "involvedObject.name=" + name + ",involvedObject.kind=Service",
	}, &events)
	return describeService(cmd.OutOrStdout(), &svc, ep, events.Items, eventsErr, time.Now())
}

// describeService prints a service as kubectl describe does, then each of
// its endpoints (ready or not, with pod and node), then its events.
func describeService(out io.Writer, svc *corev1.Service, ep *corev1.Endpoints, events []corev1.Event, eventsErr error, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	line := func(indent int, format string, args ...any) {
		fmt.Fprintf(w, strings.Repeat("  ", indent)+format+"\n", args...)
	}
	spec := &svc.Spec
	line(0, "Name:\t%s", svc.Name)
	line(0, "Namespace:\t%s", svc.Namespace)
	line(0, "Labels:\t%s", mapLines(svc.Labels, "\t"))
	line(0, "Annotations:\t%s", mapLines(svc.Annotations, "\t"))
	line(0, "Selector:\t%s", selectorText(spec.Selector))
	line(0, "Type:\t%s", spec.Type)
	if spec.Type == corev1.ServiceTypeExternalName {
		line(0, "External Name:\t%s", spec.ExternalName)
	} else {
		line(0, "IP:\t%s", orNone(spec.ClusterIP))
	}
	if len(spec.ExternalIPs) > 0 {
		line(0, "External IPs:\t%s", strings.Join(spec.ExternalIPs, ","))
	}
	for _, p := range spec.Ports {
		portName := orDefault(p.Name, "<unset>")
		line(0, "Port:\t%s  %d/%s", portName, p.Port, p.Protocol)
		target := p.TargetPort.String()
		if p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal == 0 {
			target = strconv.Itoa(int(p.Port))
		}
		line(0, "TargetPort:\t%s/%s", target, p.Protocol)
		if p.NodePort != 0 {
			line(0, "NodePort:\t%s  %d/%s", portName, p.NodePort, p.Protocol)
		}
		line(0, "Endpoints:\t%s", endpointsOfPort(ep, p.Name))
	}
	line(0, "Session Affinity:\t%s", spec.SessionAffinity)
	if spec.ExternalTrafficPolicy != "" {
		line(0, "External Traffic Policy:\t%s", spec.ExternalTrafficPolicy)
	}
	if ep != nil && len(ep.Subsets) > 0 {
		line(0, "Endpoint Addresses:")
		line(1, "Address\tReady\tPod\tNode")
		for _, a := range endpointAddresses(ep) {
			line(1, "%s\t%t\t%s\t%s", a.ip, a.ready, a.pod, a.node)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return describeEvents(out, events, eventsErr, now)
}

func selectorText(sel map[string]string) string {
	if len(sel) == 0 {
		return "<none>"
	}
	pairs := make([]string, 0, len(sel))
	for k, v := range sel {
		pairs = append(pairs, k+"="+v)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

// endpointsOfPort lists the ready addresses that serve the port named
// name, as ip:port, all of them.
func endpointsOfPort(ep *corev1.Endpoints, name string) string {
	if ep == nil {
		return "<none>"
	}
	var list []string
	for _, ss := range ep.Subsets {
		for _, p := range ss.Ports {
			if p.Name != name {
				continue
			}
			for _, a := range ss.Addresses {
				list = append(list, net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	return orNone(strings.Join(list, ","))
}

type endpointAddress struct {
	ip, pod, node string
	ready         bool
}

// endpointAddresses are the endpoints' addresses, ready ones first.
func endpointAddresses(ep *corev1.Endpoints) []endpointAddress {
	var out []endpointAddress
	add := func(addrs []corev1.EndpointAddress, ready bool) {
		for _, a := range addrs {
			e := endpointAddress{ip: a.IP, ready: ready, pod: "<none>", node: "<none>"}
			if a.TargetRef != nil {
				e.pod = a.TargetRef.Name
			}
			if a.NodeName != nil {
				e.node = *a.NodeName
			}
			out = append(out, e)
		}
	}
	for _, ss := range ep.Subsets {
		add(ss.Addresses, true)
	}
	for _, ss := range ep.Subsets {
		add(ss.NotReadyAddresses, false)
	}
	return out
}
