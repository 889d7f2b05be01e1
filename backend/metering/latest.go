package metering

import (
	"context"
	"time"
)

// Freshness is how old the newest sample of a container may be to count
// as live (metrics.k8s.io): a few sampling intervals.
const Freshness = 2 * time.Minute

// Sample is the newest window of one container.
type Sample struct {
	Node, Project, Pod, Container string
	WindowStart, WindowEnd        time.Time
	// CPUCores is the CPU the window used, per second of it.
	CPUCores    float64
	MemoryBytes int64
}

// Latest returns the newest window of every container whose window
// ended within Freshness of now, in the project ("" for every one), by
// project, pod and container.
func (s *Store) Latest(ctx context.Context, project string, now time.Time) ([]Sample, error) {
	rows, err := s.pool.Query(ctx, `
SELECT DISTINCT ON (project, pod, container) node, project, pod, container, window_start, window_end, cpu_seconds, memory_bytes
FROM usage_records
WHERE window_start >= $1 AND window_end >= $2 AND ($3 = '' OR project = $3)
ORDER BY project, pod, container, window_end DESC`, now.Add(-24*time.Hour), now.Add(-Freshness), project)
	if err != nil {
		return nil, unavailable("latest usage", err)
	}
	defer rows.Close()
	var out []Sample
	for rows.Next() {
		var smp Sample
		var cpu float64
		if err := rows.Scan(&smp.Node, &smp.Project, &smp.Pod, &smp.Container, &smp.WindowStart, &smp.WindowEnd, &cpu, &smp.MemoryBytes); err != nil {
			return nil, unavailable("latest usage", err)
		}
		if d := smp.WindowEnd.Sub(smp.WindowStart).Seconds(); d > 0 {
			smp.CPUCores = cpu / d
		}
		out = append(out, smp)
	}
	return out, unavailable("latest usage", rows.Err())
}
