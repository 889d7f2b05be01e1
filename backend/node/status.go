package node

import (
	"fmt"
	"strings"
	"time"

	"github.com/berthpaas/berth/backend/node/runtime"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podStatus translates what the runtime observed of pod into the pod's
// API status. It is a pure function of its inputs: times that did not
// change (startTime, a condition's lastTransitionTime, a container's last
// termination) are carried over from pod.Status, so an unchanged pod
// yields an unchanged status and no write.
func podStatus(pod *v1.Pod, rs runtime.PodStatus, hostIP, runtimeScheme string, now time.Time) v1.PodStatus {
	old := pod.Status
	st := v1.PodStatus{
		HostIP:   hostIP,
		HostIPs:  []v1.HostIP{{IP: hostIP}},
		QOSClass: old.QOSClass,
	}
	if rs.IP != "" {
		st.PodIP = rs.IP
		st.PodIPs = []v1.PodIP{{IP: rs.IP}}
	}
	st.StartTime = old.StartTime
	if st.StartTime == nil {
		t := metav1.NewTime(now.Truncate(time.Second))
		st.StartTime = &t
	}

	observed := make(map[string]runtime.ContainerStatus, len(rs.Containers))
	for _, c := range rs.Containers {
		observed[c.Name] = c
	}
	previous := make(map[string]v1.ContainerStatus, len(old.ContainerStatuses))
	for _, c := range old.ContainerStatuses {
		previous[c.Name] = c
	}
	var unready []string
	for _, spec := range pod.Spec.Containers {
		cs := containerStatus(spec, observed, previous[spec.Name], runtimeScheme)
		if !cs.Ready {
			unready = append(unready, spec.Name)
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	st.Phase = phase(pod.Spec.RestartPolicy, st.ContainerStatuses)

	containersReady := condition(v1.ContainersReady, v1.ConditionTrue, "", "")
	if len(unready) > 0 {
		containersReady = condition(v1.ContainersReady, v1.ConditionFalse, "ContainersNotReady",
			fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " ")))
	}
	ready := containersReady
	ready.Type = v1.PodReady
	if st.Phase == v1.PodSucceeded || st.Phase == v1.PodFailed {
		ready = condition(v1.PodReady, v1.ConditionFalse, "PodCompleted", "")
		containersReady = condition(v1.ContainersReady, v1.ConditionFalse, "PodCompleted", "")
	}
	st.Conditions = []v1.PodCondition{
		condition(v1.PodScheduled, v1.ConditionTrue, "", ""),
		condition(v1.PodInitialized, v1.ConditionTrue, "", ""),
		containersReady,
		ready,
	}
	for i := range st.Conditions {
		c := &st.Conditions[i]
		c.LastTransitionTime = metav1.NewTime(now.Truncate(time.Second))
		for _, o := range old.Conditions {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
	}
	return st
}

func condition(t v1.PodConditionType, s v1.ConditionStatus, reason, msg string) v1.PodCondition {
	return v1.PodCondition{Type: t, Status: s, Reason: reason, Message: msg}
}

func containerStatus(spec v1.Container, observed map[string]runtime.ContainerStatus, prev v1.ContainerStatus, scheme string) v1.ContainerStatus {
	cs := v1.ContainerStatus{Name: spec.Name, Image: spec.Image, Started: new(bool)}
	o, ok := observed[spec.Name]
	if !ok {
		cs.State.Waiting = &v1.ContainerStateWaiting{Reason: "ContainerCreating"}
		cs.LastTerminationState = prev.LastTerminationState
		cs.RestartCount = prev.RestartCount
		return cs
	}
	if o.Image != "" {
		cs.Image = o.Image
	}
	cs.ImageID = o.ImageID
	if o.ID != "" {
		cs.ContainerID = scheme + "://" + o.ID
	}
	cs.RestartCount = o.RestartCount
	switch o.State {
	case runtime.StateRunning:
		cs.State.Running = &v1.ContainerStateRunning{StartedAt: mtime(o.StartedAt)}
		cs.Ready, *cs.Started = true, true
	case runtime.StateExited:
		cs.State.Terminated = terminated(o, cs.ContainerID)
	default:
		cs.State.Waiting = &v1.ContainerStateWaiting{Reason: o.Reason, Message: o.Message}
		if o.RestartCount > 0 && !o.FinishedAt.IsZero() {
			cs.LastTerminationState.Terminated = terminated(o, cs.ContainerID)
		}
	}
	if lt := o.LastTermination; lt != nil && cs.LastTerminationState.Terminated == nil {
		cs.LastTerminationState.Terminated = terminated(runtime.ContainerStatus{
			ID: lt.ID, ExitCode: lt.ExitCode, Reason: lt.Reason, Message: lt.Message,
			StartedAt: lt.StartedAt, FinishedAt: lt.FinishedAt,
		}, scheme+"://"+lt.ID)
	}
	// The previous run's end, when the runtime only reports the current
	// one: carried over from the last status after a restart.
	if cs.LastTerminationState.Terminated == nil && o.RestartCount > 0 {
		switch {
		case prev.RestartCount < o.RestartCount && prev.State.Terminated != nil:
			cs.LastTerminationState.Terminated = prev.State.Terminated
		default:
			cs.LastTerminationState = prev.LastTerminationState
		}
	}
	return cs
}

func terminated(o runtime.ContainerStatus, id string) *v1.ContainerStateTerminated {
	reason := o.Reason
	if reason == "" || reason == "CrashLoopBackOff" {
		reason = "Completed"
		if o.ExitCode != 0 {
			reason = "Error"
		}
	}
	return &v1.ContainerStateTerminated{
		ExitCode:    int32(o.ExitCode),
		Reason:      reason,
		Message:     o.Message,
		StartedAt:   mtime(o.StartedAt),
		FinishedAt:  mtime(o.FinishedAt),
		ContainerID: id,
	}
}

// mtime is t at the API's precision (seconds), so that statuses compare
// equal after a round trip.
func mtime(t time.Time) metav1.Time {
	if t.IsZero() {
		return metav1.Time{}
	}
	return metav1.NewTime(t.Truncate(time.Second))
}

// phase follows the kubelet's rules: pending while a container has not
// started yet; running while one runs or will be restarted; succeeded or
// failed once all have terminated for good.
func phase(policy v1.RestartPolicy, statuses []v1.ContainerStatus) v1.PodPhase {
	var waiting, running, stopped, succeeded int
	for _, cs := range statuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.LastTerminationState.Terminated != nil:
			stopped++
		default:
			waiting++
		}
	}
	switch {
	case len(statuses) == 0 || waiting > 0:
		return v1.PodPending
	case running > 0:
		return v1.PodRunning
	case policy == v1.RestartPolicyAlways || policy == "":
		return v1.PodRunning
	case stopped == succeeded:
		return v1.PodSucceeded
	case policy == v1.RestartPolicyNever:
		return v1.PodFailed
	default:
		return v1.PodRunning
	}
}
