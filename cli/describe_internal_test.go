package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDescribePodText(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	started := at(10 * time.Minute)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "dev", Labels: map[string]string{"run": "web", "tier": "front"}},
		Spec: corev1.PodSpec{
			NodeName:      "node-1",
			RestartPolicy: corev1.RestartPolicyAlways,
			Containers: []corev1.Container{{
				Name: "web", Image: "hello:1", Args: []string{"serve"},
				Ports: []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Env:   []corev1.EnvVar{{Name: "GREETING", Value: "hi"}},
				Resources: corev1.ResourceRequirements{
					Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
				},
			}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, HostIP: "192.168.1.10", PodIP: "10.1.0.5", StartTime: &started,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "web", Ready: true, RestartCount: 1,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: at(5 * time.Minute)}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 2, Reason: "Error", StartedAt: at(10 * time.Minute), FinishedAt: at(6 * time.Minute),
				}},
			}},
		},
	}
	events := []corev1.Event{
		{Type: "Warning", Reason: "BackOff", Message: "Back-off restarting", Count: 3,
			FirstTimestamp: at(8 * time.Minute), LastTimestamp: at(6 * time.Minute),
			Source: corev1.EventSource{Component: "berth-node", Host: "node-1"}},
		{Type: "Normal", Reason: "Scheduled", Message: "Successfully assigned dev/web to node-1",
			LastTimestamp: at(10 * time.Minute), Source: corev1.EventSource{Component: "scheduler"}},
	}
	var b strings.Builder
	if err := describePod(&b, pod, events, nil, now); err != nil {
		t.Fatal(err)
	}
	want := `Name:            web
Namespace:       dev
Node:            node-1/192.168.1.10
Start Time:      Sat, 01 Mar 2025 11:50:00 +0000
Labels:          run=web
                 tier=front
Status:          Running
IP:              10.1.0.5
Restart Policy:  Always
Containers:
  web:
    Image:          hello:1
    Ports:          8080/TCP
    Args:           serve
    State:          Running
      Started:      Sat, 01 Mar 2025 11:55:00 +0000
    Last State:     Terminated
      Reason:       Error
      Exit Code:    2
      Started:      Sat, 01 Mar 2025 11:50:00 +0000
      Finished:     Sat, 01 Mar 2025 11:54:00 +0000
    Ready:          true
    Restart Count:  1
    Limits:
      cpu:  500m
    Environment:
      GREETING:  hi
Conditions:
  Type   Status
  Ready  True
Events:
  Type     Reason     Age              From                Message
  ----     ------     ----             ----                -------
  Normal   Scheduled  10m              scheduler           Successfully assigned dev/web to node-1
  Warning  BackOff    6m (x3 over 8m)  berth-node, node-1  Back-off restarting
`
	if got := b.String(); got != want {
		t.Errorf("describe =\n%s\nwant\n%s", got, want)
	}

	b.Reset()
	if err := describePod(&b, pod, nil, errors.New("forbidden"), now); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "Events:\t<cannot list them: forbidden>\n") {
		t.Errorf("events error not shown:\n%s", b.String())
	}
}
