package node

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// DefaultEmptyDirLimit is the size limit of emptyDir volumes that set no
// sizeLimit (Config.EmptyDirLimit).
const DefaultEmptyDirLimit = 1 << 30

// An emptyDir lives on the host's disk, so a container could fill it. As
// the kubelet's eviction manager does, the agent measures each running
// pod's emptyDir volumes at every resync and evicts the pod whose volume
// exceeds its sizeLimit (or the node's default):
//
//	running ─► resync: usage > limit ─► worker.fail: KillPod (no grace)
//	        ─► status Failed, reason Evicted,
//	           "Usage of EmptyDir volume "v" exceeds the limit "1Gi". "
//	        ─► never run again (also after an agent restart)

// volumeLimit is the size limit of one emptyDir volume.
type volumeLimit struct {
	volume string
	bytes  int64
	text   string // as the pod says it, or the default's quantity
}

// emptyDirLimits lists the limits of a pod's emptyDir volumes;
// defaultLimit applies where sizeLimit is not set, and none where it is
// not positive.
func emptyDirLimits(pod *v1.Pod, defaultLimit int64) []volumeLimit {
	var out []volumeLimit
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir == nil {
			continue
		}
		switch size := v.EmptyDir.SizeLimit; {
		case size != nil && size.Sign() > 0:
			out = append(out, volumeLimit{volume: v.Name, bytes: size.Value(), text: size.String()})
		case defaultLimit > 0:
			out = append(out, volumeLimit{volume: v.Name, bytes: defaultLimit, text: resource.NewQuantity(defaultLimit, resource.BinarySI).String()})
		}
	}
	return out
}

// enforceVolumeLimits evicts the pods whose emptyDir volumes exceed their
// limits.
func (a *Agent) enforceVolumeLimits(ctx context.Context) {
	a.mu.Lock()
	workers := slices.Collect(maps.Values(a.workers))
	a.mu.Unlock()
	for _, w := range workers {
		pod, removed := w.state()
		if removed || pod.DeletionTimestamp != nil || terminal(pod) || w.failed() != nil {
			continue
		}
		limits := emptyDirLimits(pod, a.cfg.EmptyDirLimit)
		if len(limits) == 0 {
			continue
		}
		usage, err := a.rt.VolumeUsage(ctx, w.uid)
		if errors.Is(err, runtime.ErrNotFound) {
			continue
		}
		if err != nil {
			w.log.Warn("cannot measure the pod's volumes", "error", err)
			continue
		}
		for _, l := range limits {
			if used := usage[l.volume]; used > l.bytes {
				msg := fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q. ", l.volume, l.text)
				w.log.Warn("evicting pod", "volume", l.volume, "used_bytes", used, "limit_bytes", l.bytes)
				w.fail(evictedStatus(pod, msg, time.Now()))
				break
			}
		}
	}
}

// evictedStatus is the status of an evicted pod, as the kubelet writes
// it: Failed, reason Evicted, a DisruptionTarget condition, and its
// running containers terminated.
func evictedStatus(pod *v1.Pod, msg string, now time.Time) *v1.PodStatus {
	st := pod.Status.DeepCopy()
	st.Phase = v1.PodFailed
	st.Reason = reasonEvicted
	st.Message = msg
	at := metav1.NewTime(now.Truncate(time.Second))
	conditions := st.Conditions[:0]
	for _, c := range st.Conditions {
		if c.Type == v1.DisruptionTarget {
			continue
		}
		if (c.Type == v1.PodReady || c.Type == v1.ContainersReady) && c.Status != v1.ConditionFalse {
			c.Status, c.Reason, c.Message, c.LastTransitionTime = v1.ConditionFalse, "PodCompleted", "", at
		}
		conditions = append(conditions, c)
	}
	st.Conditions = append(conditions, v1.PodCondition{
		Type: v1.DisruptionTarget, Status: v1.ConditionTrue, LastTransitionTime: at,
		Reason: v1.PodReasonTerminationByKubelet, Message: msg,
	})
	for i := range st.ContainerStatuses {
		cs := &st.ContainerStatuses[i]
		cs.Ready = false
		started := false
		cs.Started = &started
		if r := cs.State.Running; r != nil {
			cs.State = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
				ExitCode: 137, Reason: "Error", StartedAt: r.StartedAt, FinishedAt: at, ContainerID: cs.ContainerID,
			}}
		}
	}
	return st
}
