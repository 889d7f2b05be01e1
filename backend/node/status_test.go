package node

import (
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/node/runtime"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func specPod(policy v1.RestartPolicy, names ...string) *v1.Pod {
	pod := &v1.Pod{Spec: v1.PodSpec{RestartPolicy: policy}}
	for _, n := range names {
		pod.Spec.Containers = append(pod.Spec.Containers, v1.Container{Name: n, Image: "img"})
	}
	return pod
}

func TestPodStatusPhase(t *testing.T) {
	started := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	running := runtime.ContainerStatus{Name: "a", ID: "c1", State: runtime.StateRunning, StartedAt: started}
	exited := func(code int) runtime.ContainerStatus {
		return runtime.ContainerStatus{Name: "a", ID: "c1", State: runtime.StateExited, ExitCode: code, StartedAt: started, FinishedAt: started.Add(time.Second)}
	}
	tests := []struct {
		name      string
		policy    v1.RestartPolicy
		observed  []runtime.ContainerStatus
		wantPhase v1.PodPhase
		wantReady v1.ConditionStatus
	}{
		{"nothing yet", v1.RestartPolicyAlways, nil, v1.PodPending, v1.ConditionFalse},
		{"pulling", v1.RestartPolicyAlways, []runtime.ContainerStatus{{Name: "a", State: runtime.StateWaiting, Reason: "ErrImagePull"}}, v1.PodPending, v1.ConditionFalse},
		{"running", v1.RestartPolicyAlways, []runtime.ContainerStatus{running}, v1.PodRunning, v1.ConditionTrue},
		{"crash loop", v1.RestartPolicyAlways, []runtime.ContainerStatus{{Name: "a", State: runtime.StateWaiting, Reason: "CrashLoopBackOff", RestartCount: 2, ExitCode: 1, FinishedAt: started}}, v1.PodRunning, v1.ConditionFalse},
		{"stopped, always", v1.RestartPolicyAlways, []runtime.ContainerStatus{exited(143)}, v1.PodRunning, v1.ConditionFalse},
		{"completed, on failure", v1.RestartPolicyOnFailure, []runtime.ContainerStatus{exited(0)}, v1.PodSucceeded, v1.ConditionFalse},
		{"failed, never", v1.RestartPolicyNever, []runtime.ContainerStatus{exited(2)}, v1.PodFailed, v1.ConditionFalse},
		{"failed, on failure", v1.RestartPolicyOnFailure, []runtime.ContainerStatus{exited(2)}, v1.PodRunning, v1.ConditionFalse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := podStatus(specPod(tt.policy, "a"), runtime.PodStatus{IP: "10.0.0.2", Containers: tt.observed}, "192.0.2.1", "docker", started)
			if st.Phase != tt.wantPhase {
				t.Errorf("phase %s, want %s", st.Phase, tt.wantPhase)
			}
			if ready := st.Conditions[3]; ready.Type != v1.PodReady || ready.Status != tt.wantReady {
				t.Errorf("ready condition %+v, want %s", ready, tt.wantReady)
			}
			if st.PodIP != "10.0.0.2" || st.HostIP != "192.0.2.1" || len(st.ContainerStatuses) != 1 {
				t.Errorf("status %+v", st)
			}
		})
	}
}

func TestPodStatusIsStable(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 500, time.UTC)
	pod := specPod(v1.RestartPolicyAlways, "a", "b")
	observed := runtime.PodStatus{IP: "10.0.0.2", Containers: []runtime.ContainerStatus{
		{Name: "a", ID: "c1", State: runtime.StateRunning, StartedAt: t0},
		{Name: "b", ID: "c2", State: runtime.StateExited, ExitCode: 1, StartedAt: t0, FinishedAt: t0.Add(time.Second)},
	}}
	first := podStatus(pod, observed, "192.0.2.1", "docker", t0)
	pod.Status = first
	again := podStatus(pod, observed, "192.0.2.1", "docker", t0.Add(time.Minute))
	if !equality.Semantic.DeepEqual(first, again) {
		t.Fatalf("unchanged pod, changed status:\n%+v\n%+v", first, again)
	}
	if cs := first.ContainerStatuses[0]; cs.ContainerID != "docker://c1" || !cs.Ready {
		t.Errorf("container a: %+v", cs)
	}

	// After a restart the previous run's end becomes the last state.
	pod.Status.ContainerStatuses[1].State = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}
	observed.Containers[1] = runtime.ContainerStatus{Name: "b", ID: "c3", State: runtime.StateRunning, StartedAt: t0, RestartCount: 1}
	restarted := podStatus(pod, observed, "192.0.2.1", "docker", t0)
	if last := restarted.ContainerStatuses[1].LastTerminationState.Terminated; last == nil || last.ExitCode != 1 {
		t.Fatalf("last state after restart: %+v", restarted.ContainerStatuses[1])
	}
	if restarted.Conditions[2].LastTransitionTime != metav1.NewTime(t0.Truncate(time.Second)) {
		t.Errorf("ContainersReady transition time %v", restarted.Conditions[2].LastTransitionTime)
	}
}

func TestMergePatch(t *testing.T) {
	tests := []struct {
		name     string
		from, to any
		want     string
	}{
		{"unchanged", map[string]any{"a": 1}, map[string]any{"a": 1}, `{}`},
		{"changed and added", map[string]any{"a": 1}, map[string]any{"a": 2, "b": "x"}, `{"a":2,"b":"x"}`},
		{"removed", map[string]any{"a": 1, "b": 2}, map[string]any{"a": 1}, `{"b":null}`},
		{"nested", map[string]any{"s": map[string]any{"ip": "1", "phase": "P"}}, map[string]any{"s": map[string]any{"phase": "R"}}, `{"s":{"ip":null,"phase":"R"}}`},
		{"lists replaced", map[string]any{"l": []int{1, 2}}, map[string]any{"l": []int{2}}, `{"l":[2]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mergePatch(tt.from, tt.to)
			if err != nil || string(got) != tt.want {
				t.Fatalf("mergePatch = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// A restarted container's previous run shows as lastState even when the
// agent never saw it exited (it restarted within one sync).
func TestLastTerminationFromRuntime(t *testing.T) {
	started := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	observed := runtime.ContainerStatus{
		Name: "a", ID: "c2", State: runtime.StateRunning, StartedAt: started.Add(time.Minute), RestartCount: 1,
		LastTermination: &runtime.Termination{ID: "c1", ExitCode: 1, Reason: "Error", StartedAt: started, FinishedAt: started.Add(time.Second)},
	}
	st := podStatus(specPod(v1.RestartPolicyAlways, "a"), runtime.PodStatus{IP: "10.0.0.2", Containers: []runtime.ContainerStatus{observed}}, "192.0.2.1", "docker", started)
	last := st.ContainerStatuses[0].LastTerminationState.Terminated
	if last == nil || last.ExitCode != 1 || last.Reason != "Error" || last.ContainerID != "docker://c1" || !last.FinishedAt.Equal(&metav1.Time{Time: started.Add(time.Second)}) {
		t.Fatalf("lastState.terminated = %+v", last)
	}
}
