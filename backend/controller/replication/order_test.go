package replication

import (
	"slices"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDeletionOrder(t *testing.T) {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	pod := func(name, node string, phase v1.PodPhase, ready bool, age time.Duration) *v1.Pod {
		status := v1.ConditionFalse
		if ready {
			status = v1.ConditionTrue
		}
		return &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(base.Add(-age))},
			Spec:       v1.PodSpec{NodeName: node},
			Status:     v1.PodStatus{Phase: phase, Conditions: []v1.PodCondition{{Type: v1.PodReady, Status: status}}},
		}
	}
	tests := []struct {
		name string
		pods []*v1.Pod
		want []string
	}{
		{
			name: "unscheduled first",
			pods: []*v1.Pod{pod("bound", "n1", v1.PodRunning, true, time.Minute), pod("unbound", "", v1.PodPending, false, time.Hour)},
			want: []string{"unbound", "bound"},
		},
		{
			name: "pending before running",
			pods: []*v1.Pod{pod("running", "n1", v1.PodRunning, false, time.Minute), pod("pending", "n1", v1.PodPending, false, time.Hour)},
			want: []string{"pending", "running"},
		},
		{
			name: "not ready before ready",
			pods: []*v1.Pod{pod("ready", "n1", v1.PodRunning, true, time.Minute), pod("unready", "n1", v1.PodRunning, false, time.Hour)},
			want: []string{"unready", "ready"},
		},
		{
			name: "newest first",
			pods: []*v1.Pod{pod("old", "n1", v1.PodRunning, true, time.Hour), pod("new", "n1", v1.PodRunning, true, time.Minute), pod("mid", "n1", v1.PodRunning, true, 10*time.Minute)},
			want: []string{"new", "mid", "old"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pods := slices.Clone(tt.pods)
			slices.SortStableFunc(pods, deletionOrder)
			var got []string
			for _, p := range pods {
				got = append(got, p.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("order %v, want %v", got, tt.want)
			}
		})
	}
}
