package bench

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/testenv"
)

// keepAliveClient is an HTTP client that keeps one idle connection per
// concurrent worker, so that a run measures requests, not TCP handshakes.
func keepAliveClient(workers int) *http.Client {
	return &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			MaxIdleConns:        workers * 2,
			MaxIdleConnsPerHost: workers * 2,
			IdleConnTimeout:     time.Minute,
		},
	}
}

// do sends one request with the admin's token and returns the status and
// body.
func do(client *http.Client, env *testenv.Env, method, path, accept string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, env.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+env.AdminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// run is what runConcurrent measured.
type run struct {
	elapsed time.Duration
	// latencies holds each call's duration, in no order.
	latencies []time.Duration
	// cpu is the CPU time the whole process (load generator, master and
	// etcd alike) used during the run.
	cpu time.Duration
}

func (r run) perSecond() float64 { return float64(len(r.latencies)) / r.elapsed.Seconds() }

// cores is how many CPUs the process kept busy on average.
func (r run) cores() float64 { return r.cpu.Seconds() / r.elapsed.Seconds() }

// cpuPerOp is the process's CPU time per call, in microseconds.
func (r run) cpuPerOp() float64 {
	return float64(r.cpu.Microseconds()) / float64(max(len(r.latencies), 1))
}

// runConcurrent calls op(i) for i in [0, total) from workers goroutines.
// The first error stops the run and is returned.
func runConcurrent(workers, total int, op func(i int) error) (run, error) {
	var (
		next     atomic.Int64
		firstErr atomic.Pointer[error]
		wg       sync.WaitGroup
	)
	perWorker := make([][]time.Duration, workers)
	cpu0 := processCPU()
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			lat := make([]time.Duration, 0, total/workers+1)
			for firstErr.Load() == nil {
				i := int(next.Add(1) - 1)
				if i >= total {
					break
				}
				t0 := time.Now()
				if err := op(i); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					break
				}
				lat = append(lat, time.Since(t0))
			}
			perWorker[w] = lat
		})
	}
	wg.Wait()
	r := run{elapsed: time.Since(start), cpu: processCPU() - cpu0, latencies: slices.Concat(perWorker...)}
	if p := firstErr.Load(); p != nil {
		return r, *p
	}
	return r, nil
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// percentile returns the q-quantile (0 < q <= 1) of sorted durations,
// nearest rank.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// createNamespace creates ns through the API.
func createNamespace(b *testing.B, env *testenv.Env, ns string) {
	b.Helper()
	resp := env.Do(b, http.MethodPost, "/api/v1/namespaces", env.AdminToken,
		map[string]any{"metadata": map[string]string{"name": ns}})
	if resp.Code != http.StatusCreated {
		b.Fatalf("create namespace %q: %d %s", ns, resp.Code, resp.Body)
	}
}

// podBody is a small, realistic pod manifest as a client would POST it.
func podBody(name string) []byte {
	return fmt.Appendf(nil, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"labels":{"app":"web","tier":"frontend"}},`+
		`"spec":{"containers":[{"name":"web","image":"registry.example/web:1.4.2",`+
		`"ports":[{"containerPort":8080,"protocol":"TCP"}],`+
		`"env":[{"name":"MODE","value":"production"}],`+
		`"resources":{"limits":{"cpu":"500m","memory":"256Mi"}}}]}}`, name)
}
