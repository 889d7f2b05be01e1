package runtime

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

func TestRestarts(t *testing.T) {
	tests := []struct {
		policy v1.RestartPolicy
		code   int
		want   bool
	}{
		{v1.RestartPolicyAlways, 0, true},
		{v1.RestartPolicyAlways, 1, true},
		{"", 0, true},
		{v1.RestartPolicyOnFailure, 0, false},
		{v1.RestartPolicyOnFailure, 137, true},
		{v1.RestartPolicyNever, 1, false},
	}
	for _, tt := range tests {
		if got := Restarts(tt.policy, tt.code); got != tt.want {
			t.Errorf("Restarts(%q, %d) = %t", tt.policy, tt.code, got)
		}
	}
}

func TestBackOff(t *testing.T) {
	kubelet := BackOff{}
	fast := BackOff{Initial: time.Second}
	tests := []struct {
		b        BackOff
		restarts int
		ran      time.Duration
		want     time.Duration
	}{
		{kubelet, 0, 0, 0},
		{kubelet, 1, 0, 10 * time.Second},
		{kubelet, 2, 0, 20 * time.Second},
		{kubelet, 5, 0, 160 * time.Second},
		{kubelet, 6, 0, 5 * time.Minute},
		{kubelet, 1000, 0, 5 * time.Minute},
		{kubelet, 6, 11 * time.Minute, 0},
		{fast, 1, 0, time.Second},
		{fast, 4, 0, 8 * time.Second},
	}
	for _, tt := range tests {
		if got := tt.b.RestartDelay(tt.restarts, tt.ran); got != tt.want {
			t.Errorf("%+v.RestartDelay(%d, %s) = %s, want %s", tt.b, tt.restarts, tt.ran, got, tt.want)
		}
	}
	if got := kubelet.Step(3); got != 40*time.Second {
		t.Errorf("Step(3) = %s", got)
	}
}
