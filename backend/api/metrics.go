package api

import (
	"slices"
	"time"

	"github.com/labstack/echo/v4"
	v1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/metering"
)

// metricsGroup serves the newest usage sample of each pod and node as
// metrics-server does, so that kubectl top works.
const metricsGroup = "metrics.k8s.io"

func (a *API) metricsResources() map[string]*resource {
	return byName([]*resource{
		{group: metricsGroup, name: "pods", singular: "", kind: "PodMetrics", namespaced: true,
			verbs: map[string]objectHandler{"get": a.podMetrics, "list": a.podMetrics}},
		{group: metricsGroup, name: "nodes", singular: "", kind: "NodeMetrics",
			verbs: map[string]objectHandler{"get": a.nodeMetrics, "list": a.nodeMetrics}},
	})
}

// podMetrics lists the pods of a project (or, for cluster admins, of
// every project) that have a fresh sample, or gets one of them.
func (a *API) podMetrics(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	samples, err := a.latestUsage(c, ri.Namespace)
	if err != nil {
		return nil, err
	}
	list := &metricsv1beta1.PodMetricsList{}
	byPod := map[string]int{}
	for _, s := range samples {
		if ri.Name != "" && s.Pod != ri.Name {
			continue
		}
		key := s.Project + "/" + s.Pod
		i, ok := byPod[key]
		if !ok {
			i = len(list.Items)
			byPod[key] = i
			list.Items = append(list.Items, metricsv1beta1.PodMetrics{
				ObjectMeta: metav1.ObjectMeta{Name: s.Pod, Namespace: s.Project, CreationTimestamp: metav1.Now()},
				Timestamp:  metav1.NewTime(s.WindowEnd), Window: metav1.Duration{Duration: s.WindowEnd.Sub(s.WindowStart)},
				Containers: []metricsv1beta1.ContainerMetrics{},
			})
		}
		if s.Container == metering.InfraContainer {
			continue // the kubelet reports no pause container either
		}
		list.Items[i].Containers = append(list.Items[i].Containers, metricsv1beta1.ContainerMetrics{
			Name: s.Container, Usage: usageList(s.CPUCores, s.MemoryBytes),
		})
	}
	if ri.Name != "" {
		if len(list.Items) == 0 {
			return nil, errdefs.Newf(errdefs.ErrNotFound, "podmetrics.metrics.k8s.io %q not found", ri.Name)
		}
		item := &list.Items[0]
		item.Kind, item.APIVersion = "PodMetrics", metricsv1beta1.SchemeGroupVersion.String()
		return item, nil
	}
	list.Kind, list.APIVersion = "PodMetricsList", metricsv1beta1.SchemeGroupVersion.String()
	return list, nil
}

// nodeMetrics is what the pods on each node use (the containers Berth
// runs there), for cluster admins.
func (a *API) nodeMetrics(c echo.Context, ri auth.RequestInfo) (runtime.Object, error) {
	samples, err := a.latestUsage(c, "")
	if err != nil {
		return nil, err
	}
	type total struct {
		cpu       float64
		mem       int64
		start, at time.Time
	}
	totals := map[string]*total{}
	for _, s := range samples {
		t, ok := totals[s.Node]
		if !ok {
			t = &total{start: s.WindowStart}
			totals[s.Node] = t
		}
		t.cpu += s.CPUCores
		t.mem += s.MemoryBytes
		if s.WindowEnd.After(t.at) {
			t.at, t.start = s.WindowEnd, s.WindowStart
		}
	}
	list := &metricsv1beta1.NodeMetricsList{}
	for _, name := range sortedKeys(totals) {
		if ri.Name != "" && name != ri.Name {
			continue
		}
		t := totals[name]
		list.Items = append(list.Items, metricsv1beta1.NodeMetrics{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.Now()},
			Timestamp:  metav1.NewTime(t.at), Window: metav1.Duration{Duration: t.at.Sub(t.start)},
			Usage: usageList(t.cpu, t.mem),
		})
	}
	if ri.Name != "" {
		if len(list.Items) == 0 {
			return nil, errdefs.Newf(errdefs.ErrNotFound, "nodemetrics.metrics.k8s.io %q not found", ri.Name)
		}
		item := &list.Items[0]
		item.Kind, item.APIVersion = "NodeMetrics", metricsv1beta1.SchemeGroupVersion.String()
		return item, nil
	}
	list.Kind, list.APIVersion = "NodeMetricsList", metricsv1beta1.SchemeGroupVersion.String()
	return list, nil
}

func (a *API) latestUsage(c echo.Context, project string) ([]metering.Sample, error) {
	if a.metering == nil {
		return nil, errdefs.New(errdefs.ErrUnavailable, "usage metering is not configured")
	}
	return a.metering.Latest(c.Request().Context(), project, time.Now())
}

func usageList(cores float64, memory int64) v1.ResourceList {
	return v1.ResourceList{
		v1.ResourceCPU:    *apiresource.NewMilliQuantity(int64(cores*1000+0.5), apiresource.DecimalSI),
		v1.ResourceMemory: *apiresource.NewQuantity(memory, apiresource.BinarySI),
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
