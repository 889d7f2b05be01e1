package cli

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStateText(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	tests := []struct {
		name  string
		state corev1.ContainerState
		want  string
	}{
		{"running", corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(5 * time.Minute)}}, "Up 5 minutes"},
		{"just started", corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(0)}}, "Up Less than a second"},
		{"running, no start time", corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}, "Up"},
		{"exited", corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, FinishedAt: ago(2 * time.Minute)}}, "Exited (0) 2 minutes ago"},
		{"killed", corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, FinishedAt: ago(3 * time.Hour)}}, "Exited (137) 3 hours ago"},
		{"exited, no finish time", corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}, "Exited (1)"},
		{"image pull back-off", corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}, "Waiting (ImagePullBackOff)"},
		{"crash loop", corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}, "Waiting (CrashLoopBackOff)"},
		{"creating", corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}, "Created"},
		{"no state", corev1.ContainerState{}, "Created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stateText(tt.state, now); got != tt.want {
				t.Errorf("stateText = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestContainerStateTextOfPod(t *testing.T) {
	now := time.Now()
	deleting := metav1.NewTime(now)
	running := &corev1.ContainerStatus{Name: "web", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now.Add(-time.Minute))}}}
	tests := []struct {
		name string
		pod  corev1.Pod
		st   *corev1.ContainerStatus
		want string
	}{
		{"not scheduled", corev1.Pod{}, nil, "Pending"},
		{"on a node, not reported", corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}}, nil, "Created"},
		{"running", corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}}, running, "Up About a minute"},
		{"terminating", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleting}, Spec: corev1.PodSpec{NodeName: "n1"}}, running, "Up About a minute (Terminating)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := containerStateText(&tt.pod, tt.st, now); got != tt.want {
				t.Errorf("containerStateText = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDockerDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{500 * time.Millisecond, "Less than a second"},
		{time.Second, "1 second"},
		{45 * time.Second, "45 seconds"},
		{90 * time.Second, "About a minute"},
		{59 * time.Minute, "59 minutes"},
		{70 * time.Minute, "About an hour"},
		{5 * time.Hour, "5 hours"},
		{47 * time.Hour, "47 hours"},
		{72 * time.Hour, "3 days"},
		{15 * 24 * time.Hour, "2 weeks"},
		{90 * 24 * time.Hour, "3 months"},
		{800 * 24 * time.Hour, "2 years"},
	}
	for _, tt := range tests {
		if got := dockerDuration(tt.d); got != tt.want {
			t.Errorf("dockerDuration(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
