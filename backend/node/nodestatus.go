package node

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/version"
	"github.com/berthpaas/berth/client"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnnotationBootedDeployment carries the OSTree deployment the node booted.
const AnnotationBootedDeployment = berthv1.AnnotationBootedDeployment

// maxNodeImages bounds the images listed in a Node's status.
const maxNodeImages = 50

// readiness is the node's Ready condition as the agent last reported it.
type readiness struct {
	status        v1.ConditionStatus
	reason, msg   string
	since         time.Time // last transition
	lastHeartbeat time.Time // last heartbeat the master accepted
}

// register creates the Node, or updates the one a previous run created,
// and writes its full status.
func (a *Agent) register(ctx context.Context) error {
	info, err := a.rt.Info(ctx)
	if err != nil {
		return fmt.Errorf("runtime info: %w", err)
	}
	if scheme, _, ok := strings.Cut(info.RuntimeVersion, "://"); ok {
		a.scheme = scheme
	} else {
		a.scheme = "runtime"
	}
	return a.call(ctx, func(api *client.Client) error {
		var node v1.Node
		err := api.Get(ctx, client.Nodes, "", a.cfg.Name, &node)
		switch {
		case apierrors.IsNotFound(err):
			node = v1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.Name}}
			a.applyMeta(&node, info)
			if err := api.Create(ctx, client.Nodes, "", &node, &node); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create node: %w", err)
			}
		case err != nil:
			return fmt.Errorf("get node: %w", err)
		default:
			a.applyMeta(&node, info)
			if err := api.Update(ctx, client.Nodes, "", a.cfg.Name, &node, &node); err != nil {
				return fmt.Errorf("update node: %w", err)
			}
		}
		status := a.nodeStatus(info, time.Now())
		a.allocatable = status.Allocatable
		return a.patchNodeStatus(ctx, api, map[string]any{"status": status})
	})
}

// applyMeta sets the labels and annotations the agent owns, keeping the
// others (an admin's).
func (a *Agent) applyMeta(node *v1.Node, info runtime.NodeInfo) {
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	node.Labels["kubernetes.io/hostname"] = a.cfg.Name
	node.Labels["kubernetes.io/os"] = info.OperatingSystem
	node.Labels["kubernetes.io/arch"] = info.Architecture
	for k, v := range a.cfg.Labels {
		node.Labels[k] = v
	}
	if info.BootedDeployment != "" {
		if node.Annotations == nil {
			node.Annotations = map[string]string{}
		}
		node.Annotations[AnnotationBootedDeployment] = info.BootedDeployment
	} else {
		delete(node.Annotations, AnnotationBootedDeployment)
	}
}

func (a *Agent) nodeStatus(info runtime.NodeInfo, now time.Time) v1.NodeStatus {
	capacity := v1.ResourceList{
		v1.ResourceCPU:    *resource.NewQuantity(int64(info.CPUs), resource.DecimalSI),
		v1.ResourceMemory: *resource.NewQuantity(info.MemoryBytes, resource.BinarySI),
		v1.ResourcePods:   *resource.NewQuantity(MaxPods, resource.DecimalSI),
	}
	hostname := info.Hostname
	if hostname == "" {
		hostname = a.cfg.Name
	}
	st := v1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity.DeepCopy(),
		Phase:       v1.NodeRunning,
		Conditions:  a.conditions(now, nil),
		Addresses: []v1.NodeAddress{
			{Type: v1.NodeInternalIP, Address: a.hostIP},
			{Type: v1.NodeHostName, Address: hostname},
		},
		DaemonEndpoints: v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: int32(a.port)}},
		NodeInfo: v1.NodeSystemInfo{
			KernelVersion:           info.KernelVersion,
			OSImage:                 info.OSImage,
			ContainerRuntimeVersion: info.RuntimeVersion,
			KubeletVersion:          version.Version,
			OperatingSystem:         info.OperatingSystem,
			Architecture:            info.Architecture,
		},
	}
	for i, img := range info.Images {
		if i == maxNodeImages {
			break
		}
		st.Images = append(st.Images, v1.ContainerImage{Names: []string{img}})
	}
	return st
}

// conditions are the node's conditions at now: Ready, and for a node with
// a pod network, NetworkUnavailable. A merge patch replaces the list
// whole: every write of conditions carries them all.
func (a *Agent) conditions(now time.Time, runtimeErr error) []v1.NodeCondition {
	out := []v1.NodeCondition{a.readyCondition(now, runtimeErr)}
	if c := a.networkCondition(now); c != nil {
		out = append(out, *c)
	}
	if c := a.serviceCondition(); c != nil {
		c.LastHeartbeatTime = metav1.NewTime(now)
		out = append(out, *c)
	}
	return out
}

// readyCondition is the Ready condition at now: True while the runtime
// answers, False with its error otherwise. The transition time moves only
// when the status changes or the master has not heard from the node for
// long enough to have marked it not ready.
func (a *Agent) readyCondition(now time.Time, runtimeErr error) v1.NodeCondition {
	status, reason, msg := v1.ConditionTrue, "KubeletReady", "berth node agent is posting ready status"
	if runtimeErr != nil {
		status, reason, msg = v1.ConditionFalse, "ContainerRuntimeUnhealthy", "container runtime is down: "+runtimeErr.Error()
	}
	a.readyMu.Lock()
	defer a.readyMu.Unlock()
	r := &a.ready
	stale := now.Sub(r.lastHeartbeat) > 4*a.cfg.HeartbeatInterval
	if r.status != status || stale {
		r.since = now
	}
	r.status, r.reason, r.msg = status, reason, msg
	return v1.NodeCondition{
		Type:               v1.NodeReady,
		Status:             status,
		Reason:             reason,
		Message:            msg,
		LastHeartbeatTime:  metav1.NewTime(now),
		LastTransitionTime: metav1.NewTime(r.since),
	}
}

func (a *Agent) heartbeatAccepted(at time.Time) {
	a.readyMu.Lock()
	defer a.readyMu.Unlock()
	a.ready.lastHeartbeat = at
}

// conditionsKey sums up what a change of the node's conditions would
// change: their types, statuses and reasons.
func conditionsKey(conds []v1.NodeCondition) string {
	var b strings.Builder
	for _, c := range conds {
		b.WriteString(string(c.Type) + "=" + string(c.Status) + "/" + c.Reason + ";")
	}
	return b.String()
}

// leaseDuration is how long a node's lease holds without renewal, as the
// kubelet's nodeLeaseDurationSeconds.
const leaseDuration = 40

// renewLease renews the node's heartbeat lease, creating it the first time.
func (a *Agent) renewLease(ctx context.Context, api *client.Client, now time.Time) error {
	renew := metav1.NewMicroTime(now)
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"renewTime": renew}})
	if err != nil {
		return err
	}
	err = api.Patch(ctx, client.Leases, leaseNamespace, a.cfg.Name, client.MergePatch, patch, nil)
	if !apierrors.IsNotFound(err) {
		if err == nil {
			a.heartbeatAccepted(now)
		}
		return err
	}
	duration := int32(leaseDuration)
	lease := coordinationv1.Lease{
		TypeMeta:   metav1.TypeMeta{Kind: "Lease", APIVersion: "coordination.k8s.io/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: a.cfg.Name, Namespace: leaseNamespace},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: &a.cfg.Name, LeaseDurationSeconds: &duration, RenewTime: &renew, AcquireTime: &renew,
		},
	}
	if err := api.Create(ctx, client.Leases, leaseNamespace, &lease, nil); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("node lease: %w", err)
	}
	a.heartbeatAccepted(now)
	return nil
}

// leaseNamespace holds the nodes' heartbeat leases.
const leaseNamespace = "kube-node-lease"

func (a *Agent) patchNodeStatus(ctx context.Context, api *client.Client, patch any) error {
	data, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	if err := api.Patch(ctx, client.Nodes, "", a.cfg.Name+"/status", client.MergePatch, data, nil); err != nil {
		return fmt.Errorf("node status: %w", err)
	}
	a.heartbeatAccepted(time.Now())
	return nil
}

// heartbeat renews the node's Lease (kube-node-lease/NAME) every
// HeartbeatInterval, as the kubelet does: a write far smaller than the
// Node. The Node's status is written when its Ready condition changes,
// after a failed heartbeat, and at least every StatusReportInterval. A
// node that disappeared (deleted by an admin) is registered again; a
// master without node leases gets the status every time.
func (a *Agent) heartbeat(ctx context.Context) {
	ticker := time.NewTicker(a.cfg.HeartbeatInterval)
	defer ticker.Stop()
	log := a.log.With("runner", "heartbeat")
	failing := false
	var reported string // conditionsKey of the conditions last written
	var reportedAt time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		now := time.Now()
		_, rtErr := a.rt.Info(ctx)
		conds := a.conditions(now, rtErr)
		leaseErr := a.call(ctx, func(api *client.Client) error { return a.renewLease(ctx, api, now) })
		var err error
		if key := conditionsKey(conds); leaseErr != nil || failing || key != reported || now.Sub(reportedAt) >= a.cfg.StatusReportInterval {
			err = a.call(ctx, func(api *client.Client) error {
				return a.patchNodeStatus(ctx, api, map[string]any{"status": map[string]any{"conditions": conds}})
			})
			if err == nil {
				reported, reportedAt = key, now
			}
		}
		if apierrors.IsNotFound(err) {
			log.Warn("node object gone; registering again")
			err = a.register(ctx)
		}
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				log.Warn("heartbeat failed; containers keep running", "error", err)
			}
			failing = true
		case err == nil && failing:
			log.Info("heartbeat accepted again")
			failing = false
		}
	}
}
