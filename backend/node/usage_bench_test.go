package node

import (
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/fake"
)

// BenchmarkUsageSampling measures what metering 300 containers costs the
// agent (fake runtime: the engine's share is not the agent's): each
// sample's windows, spooled and fsync'd, as a share of one core at the
// default 15 s interval. Target: under 5%.
func BenchmarkUsageSampling(b *testing.B) {
	const pods, samples = 300, 50
	rt := fake.New(fake.Options{})
	for i := range pods {
		if _, err := rt.SyncPod(b.Context(), &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "bench", UID: types.UID(fmt.Sprintf("uid-%d", i))},
			Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "app", Image: "img"}}},
		}, runtime.PodData{}); err != nil {
			b.Fatal(err)
		}
	}
	m, err := newUsageMeter("bench", b.TempDir(), rt, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	if err := m.sample(b.Context(), ""); err != nil { // baselines
		b.Fatal(err)
	}
	cpu0, t0 := processCPU(), time.Now()
	for range samples {
		if err := m.sample(b.Context(), ""); err != nil {
			b.Fatal(err)
		}
	}
	perSample := (processCPU() - cpu0) / samples
	wall := time.Since(t0) / samples
	b.StopTimer()
	share := perSample.Seconds() / DefaultUsageInterval.Seconds()
	b.ReportMetric(float64(perSample.Microseconds()), "cpu_µs/sample")
	b.ReportMetric(share*100, "%core")
	b.ReportMetric(0, "ns/op")
	verdict := "MISS"
	if share < 0.05 {
		verdict = "PASS"
	}
	fmt.Printf("usage-sampling: %d containers (and %d infra): %v CPU per sample (%v wall, fsync included), %.3f%% of a core at %v (target < 5%%) %s\n",
		pods, pods, perSample.Round(time.Microsecond), wall.Round(time.Microsecond), share*100, DefaultUsageInterval, verdict)
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
