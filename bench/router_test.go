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

// targetRouterRatio is the target: the router's rate at least
// 0.7 of the direct one.
const targetRouterRatio = 0.7

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
	}
	var straight, through run
	modes := []mode{{direct, "", &straight}, {routed, route.Spec.Host, &through}}
	for _, m := range modes {
		if _, err := runConcurrent(proxyWorkers, proxyRequests/10, func(int) error { return getHost(m.target, m.host) }); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}
	b.ResetTimer()
	for range proxyRounds {
		for _, m := range modes {
			r, err := runConcurrent(proxyWorkers, proxyRequests/proxyRounds, func(int) error { return getHost(m.target, m.host) })
			if err != nil {
				b.Fatalf("GET %s: %v", m.target, err)
			}
			m.sum.elapsed += r.elapsed
			m.sum.latencies = append(m.sum.latencies, r.latencies...)
		}
	}
	slices.Sort(straight.latencies)
	slices.Sort(through.latencies)
	ratio := through.perSecond() / straight.perSecond()
	b.ReportMetric(straight.perSecond(), "direct-req/s")
	b.ReportMetric(through.perSecond(), "routed-req/s")
	fmt.Printf("router: %d requests from %d clients, keep-alive: straight to the pod %.0f/s (p50 %.2f ms, p99 %.2f ms), through the router %.0f/s (p50 %.2f ms, p99 %.2f ms): ratio %.2f (target ≥ %.1f) %s\n",
		proxyRequests, proxyWorkers,
		straight.perSecond(), ms(percentile(straight.latencies, 0.5)), ms(percentile(straight.latencies, 0.99)),
		through.perSecond(), ms(percentile(through.latencies, 0.5)), ms(percentile(through.latencies, 0.99)),
		ratio, targetRouterRatio, verdict(ratio >= targetRouterRatio))
	deleteBenchPods(b, api, ns)
}
