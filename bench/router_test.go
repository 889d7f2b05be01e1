package bench

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// targetRouterRatio is the target: the router's rate at
	// least 0.7 of the direct one.
	targetRouterRatio = 0.7
	// routerRequests are four times the service proxy's: a keep-alive
	// request takes a fraction of a new connection's, and 3000 of them
	// (about a second a side) measured much of which other process of
	// the shared machine ran then (ratios 0.45 to 0.54 in three runs of
	// one build). The rounds alternate as before, so noise still falls
	// on both sides alike.
	routerRequests = 12000
)

// BenchmarkRouter measures, on berth up's own node, HTTP requests from
// the host through the master's router (a route's Host header) against
// the same requests straight to the pod's address, in the same run, in
// alternating rounds. Both use keep-alive connections, as browsers do
// (the router keeps its own to the pods): target ≥ 0.7 of the direct rate.
func BenchmarkRouter(b *testing.B) {
	ns := benchNamespace("bench-route")
	_, echo := benchDocker(b, ns)
	up := startBerthUp(b)
	api := up.client
	createBenchNamespace(b, up.env, ns)
	ctx := b.Context()

	benchService(b, api, ns, "echo", "bench")
	pod := benchEchoPod("echo", echo)
	if err := api.Create(ctx, client.Pods, ns, pod, pod); err != nil {
		b.Fatalf("create pod: %v", err)
	}
	podIP := waitReady(b, api, ns, "echo")
	route := &berthv1.Route{
		TypeMeta:   metav1.TypeMeta{APIVersion: "berth.dev/v1", Kind: "Route"},
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec:       berthv1.RouteSpec{Host: ns + ".bench.example.com", To: berthv1.RouteTarget{Name: "echo"}},
	}
	if err := api.Create(ctx, client.Routes, ns, route, route); err != nil {
		b.Fatalf("create route: %v", err)
	}
	u, err := url.Parse(route.Status.URL)
	if err != nil || u.Port() == "" {
		b.Fatalf("route URL %q: %v", route.Status.URL, err)
	}
	direct := "http://" + net.JoinHostPort(podIP, "8080") + "/"
	routed := "http://127.0.0.1:" + u.Port() + "/"
	hc := keepAliveClient(proxyWorkers)
	getHost := func(target, host string) error {
		req, err := http.NewRequestWithContext(ctx, "GET", target, nil)
		if err != nil {
			return err
		}
		req.Host = host
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s (Host %s): %s", target, host, resp.Status)
		}
		return nil
	}
	if !waitUntil(30*time.Second, func() bool { return getHost(routed, route.Spec.Host) == nil }) {
		b.Fatalf("the route never answered: %v", getHost(routed, route.Spec.Host))
	}
	type mode struct {
		target, host string
		sum          *run
		// berth is the CPU time berth up used (the router, and what
		// the master and agent do anyway).
		berth *time.Duration
	}
	var (
		straight, through       run
		berthDirect, berthRoute time.Duration
	)
	modes := []mode{{direct, "", &straight, &berthDirect}, {routed, route.Spec.Host, &through, &berthRoute}}
	for _, m := range modes {
		if _, err := runConcurrent(proxyWorkers, routerRequests/10, func(int) error { return getHost(m.target, m.host) }); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}
	b.ResetTimer()
	for range proxyRounds {
		for _, m := range modes {
			cpu0 := up.cpu(b)
			r, err := runConcurrent(proxyWorkers, routerRequests/proxyRounds, func(int) error { return getHost(m.target, m.host) })
			if err != nil {
				b.Fatalf("GET %s: %v", m.target, err)
			}
			*m.berth += up.cpu(b) - cpu0
			m.sum.elapsed += r.elapsed
			m.sum.latencies = append(m.sum.latencies, r.latencies...)
		}
	}
	// The router's CPU per request: what berth up used during the routed
	// rounds, less its own work (its rate during the direct rounds,
	// where it carries nothing), per request. A busier router is bounded
	// by it rather than by the hop's latency.
	background := float64(berthDirect) / float64(straight.elapsed)
	hop := (float64(berthRoute) - background*float64(through.elapsed)) / float64(len(through.latencies)) / float64(time.Microsecond)
	slices.Sort(straight.latencies)
	slices.Sort(through.latencies)
	ratio := through.perSecond() / straight.perSecond()
	b.ReportMetric(straight.perSecond(), "direct-req/s")
	b.ReportMetric(through.perSecond(), "routed-req/s")
	b.ReportMetric(hop, "router-cpu-us/req")
	fmt.Printf("router: %d requests from %d clients, keep-alive: straight to the pod %.0f/s (p50 %.2f ms, p99 %.2f ms), through the router %.0f/s (p50 %.2f ms, p99 %.2f ms): ratio %.2f (target ≥ %.1f) %s; the router's CPU %.0f µs a request\n",
		routerRequests, proxyWorkers,
		straight.perSecond(), ms(percentile(straight.latencies, 0.5)), ms(percentile(straight.latencies, 0.99)),
		through.perSecond(), ms(percentile(through.latencies, 0.5)), ms(percentile(through.latencies, 0.99)),
		ratio, targetRouterRatio, verdict(ratio >= targetRouterRatio), hop)
	deleteBenchPods(b, api, ns)
}
