package bench

//lint:file-ignore SA1019 Endpoints (core/v1), deprecated in k8s.io/api for EndpointSlices, is what Berth serves, as kube-apiserver still does

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/berthpaas/berth/client"
)

const (
	proxyRequests = 3000
	proxyWorkers  = 4
	proxyRounds   = 6
	// proxyReadySamples pods are started, one at a time, each the only
	// endpoint of its service.
	proxyReadySamples = 10

	targetProxyRatio    = 0.8
	targetProxyAddedP99 = time.Millisecond
	targetReadyToServed = time.Second
)

// BenchmarkServiceProxy measures, on berth up's own node, HTTP requests
// from the host through a service's cluster IP (the agent's iptables
// proxy) against the same requests straight to the pod's address, in the
// same run, a new connection each (the proxy works on a connection's
// first packet): targets ≥ 0.8 of the direct rate and under 1 ms added
// p99. Then the time from a pod seen Ready to the first request the
// proxy brings it (its service had no other endpoint): p99 under 1 s.
func BenchmarkServiceProxy(b *testing.B) {
	ns := benchNamespace("bench-svc")
	_, echo := benchDocker(b, ns)
	up := startBerthUp(b)
	api := up.client
	createBenchNamespace(b, up.env, ns)
	ctx := b.Context()

	svc := benchService(b, api, ns, "echo", "bench")
	pod := benchEchoPod("echo", echo)
	if err := api.Create(ctx, client.Pods, ns, pod, pod); err != nil {
		b.Fatalf("create pod: %v", err)
	}
	podIP := waitReady(b, api, ns, "echo")
	direct := "http://" + net.JoinHostPort(podIP, "8080") + "/"
	proxied := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, "80") + "/"
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if !waitUntil(30*time.Second, func() bool { return get(hc, proxied) == nil }) {
		b.Fatalf("the service %s never answered: %v", proxied, get(hc, proxied))
	}

	// Warm-up, then rounds that alternate between the two, so that the
	// host's noise (the machine is shared) falls on both alike.
	for _, url := range []string{direct, proxied} {
		if _, err := runConcurrent(proxyWorkers, proxyRequests/10, func(int) error { return get(hc, url) }); err != nil {
			b.Fatalf("GET %s: %v", url, err)
		}
	}
	b.ResetTimer()
	var straight, through run
	for range proxyRounds {
		for _, m := range []struct {
			url string
			sum *run
		}{{direct, &straight}, {proxied, &through}} {
			r, err := runConcurrent(proxyWorkers, proxyRequests/proxyRounds, func(int) error { return get(hc, m.url) })
			if err != nil {
				b.Fatalf("GET %s: %v", m.url, err)
			}
			m.sum.elapsed += r.elapsed
			m.sum.latencies = append(m.sum.latencies, r.latencies...)
		}
	}
	slices.Sort(straight.latencies)
	slices.Sort(through.latencies)
	ratio := through.perSecond() / straight.perSecond()
	added := percentile(through.latencies, 0.99) - percentile(straight.latencies, 0.99)
	b.ReportMetric(straight.perSecond(), "direct-req/s")
	b.ReportMetric(through.perSecond(), "proxied-req/s")
	b.ReportMetric(ms(added), "added-p99-ms")
	fmt.Printf("service proxy: %d requests from %d clients, a connection each: straight to the pod %.0f/s (p50 %.2f ms, p99 %.2f ms), through the cluster IP %.0f/s (p50 %.2f ms, p99 %.2f ms): ratio %.2f (target ≥ %.1f) %s, added p99 %.2f ms (target < %v) %s\n",
		proxyRequests, proxyWorkers,
		straight.perSecond(), ms(percentile(straight.latencies, 0.5)), ms(percentile(straight.latencies, 0.99)),
		through.perSecond(), ms(percentile(through.latencies, 0.5)), ms(percentile(through.latencies, 0.99)),
		ratio, targetProxyRatio, verdict(ratio >= targetProxyRatio), ms(added), targetProxyAddedP99, verdict(added < targetProxyAddedP99))

	// Ready to served: each sample pod is the only endpoint of "fresh".
	fresh := benchService(b, api, ns, "fresh", "fresh")
	url := "http://" + net.JoinHostPort(fresh.Spec.ClusterIP, "80") + "/"
	fast := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var delays []time.Duration
	for i := range proxyReadySamples {
		name := "fresh-" + strconv.Itoa(i)
		p := benchEchoPod(name, echo)
		p.Labels = map[string]string{"app": "fresh"}
		served := make(chan time.Time, 1)
		pctx, stop := context.WithCancel(ctx)
		go func() {
			for pctx.Err() == nil {
				if get(fast, url) == nil {
					served <- time.Now()
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
		if err := api.Create(ctx, client.Pods, ns, p, nil); err != nil {
			b.Fatalf("create pod %s: %v", name, err)
		}
		waitReady(b, api, ns, name)
		readyAt := time.Now()
		select {
		case at := <-served:
			delays = append(delays, max(at.Sub(readyAt), 0))
		case <-time.After(30 * time.Second):
			b.Fatalf("pod %s: Ready, and no request reached it through its service in 30s", name)
		}
		stop()
		if err := api.Delete(ctx, client.Pods, ns, name); err != nil {
			b.Fatalf("delete pod %s: %v", name, err)
		}
		// The next sample starts once the service refuses again.
		if !waitUntil(30*time.Second, func() bool { return get(fast, url) != nil }) {
			b.Fatalf("the service still answers 30s after its only pod %s was deleted", name)
		}
	}
	slices.Sort(delays)
	p99 := percentile(delays, 0.99)
	b.ReportMetric(ms(p99), "ready-to-served-p99-ms")
	fmt.Printf("service proxy: pod seen Ready through the API → first request through its cluster IP, %d pods: p50 %.0f ms, p99 %.0f ms (target < %v) %s\n",
		len(delays), ms(percentile(delays, 0.5)), ms(p99), targetReadyToServed, verdict(p99 < targetReadyToServed))
	deleteBenchPods(b, api, ns)
}

// benchService creates a ClusterIP service of port 80 to 8080 of the pods
// labelled app=selector.
func benchService(b *testing.B, api *client.Client, ns, name, selector string) *v1.Service {
	b.Helper()
	svc := &v1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1.ServiceSpec{Selector: map[string]string{"app": selector}, Ports: []v1.ServicePort{
			{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: v1.ProtocolTCP},
		}},
	}
	if err := api.Create(b.Context(), client.Services, ns, svc, svc); err != nil {
		b.Fatalf("create service %s: %v", name, err)
	}
	return svc
}

// waitReady polls the pod until it is Ready and returns its address.
func waitReady(b *testing.B, api *client.Client, ns, name string) string {
	b.Helper()
	var pod v1.Pod
	ok := waitUntil(2*time.Minute, func() bool {
		pod = v1.Pod{}
		if err := api.Get(b.Context(), client.Pods, ns, name, &pod); err != nil {
			return false
		}
		for _, c := range pod.Status.Conditions {
			if c.Type == v1.PodReady && c.Status == v1.ConditionTrue && pod.Status.PodIP != "" {
				return true
			}
		}
		return false
	})
	if !ok {
		b.Fatalf("pod %s not Ready in 2m: %+v", name, pod.Status)
	}
	return pod.Status.PodIP
}

// waitUntil polls cond every 5 ms until it holds or timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// get is one GET that must answer 200.
func get(hc *http.Client, url string) error {
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
