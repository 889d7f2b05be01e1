package core

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"

	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// The columns `kubectl get` shows for each resource (Table output), as
// kube-apiserver's printers define them; priority 1 columns show with -o wide.

var (
	_ generic.TableConvertor = PodStrategy{}
	_ generic.TableConvertor = ServiceStrategy{}
	_ generic.TableConvertor = ReplicationControllerStrategy{}
	_ generic.TableConvertor = NamespaceStrategy{}
	_ generic.TableConvertor = NodeStrategy{}
	_ generic.TableConvertor = EventStrategy{}
)

func col(name, typ string, priority int32, desc string) metav1.TableColumnDefinition {
	format := ""
	if name == "Name" {
		format = "name"
	}
	return metav1.TableColumnDefinition{Name: name, Type: typ, Format: format, Priority: priority, Description: desc}
}

var (
	nameCol = col("Name", "string", 0, "Name must be unique within a namespace.")
	ageCol  = col("Age", "string", 0, "Time since the object was created.")
)

// TableColumns of pods.
func (PodStrategy) TableColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameCol, col("Ready", "string", 0, "Ready containers"),
		col("Status", "string", 0, "Pod status"), col("Restarts", "string", 0, "Container restarts"), ageCol,
		col("IP", "string", 1, "Pod IP"), col("Node", "string", 1, "Node the pod is bound to")}
}

// TableRow of a pod: the status column reads as kubectl's does (a waiting
// reason, Terminating).
func (PodStrategy) TableRow(obj runtime.Object) []any {
	p := obj.(*v1.Pod)
	ready, restarts := 0, int32(0)
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready {
			ready++
		}
		restarts += cs.RestartCount
	}
	status := string(p.Status.Phase)
	if p.Status.Reason != "" {
		status = p.Status.Reason
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting != nil && cs.State.Waiting.Reason != "" {
			status = cs.State.Waiting.Reason
		} else if cs.State.Terminated != nil && cs.State.Terminated.Reason != "" && p.Status.Phase != v1.PodRunning {
			status = cs.State.Terminated.Reason
		}
	}
	if p.DeletionTimestamp != nil {
		status = "Terminating"
	}
	return []any{p.Name, fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers)), status, int64(restarts),
		age(p.CreationTimestamp), orNone(p.Status.PodIP), orNone(p.Spec.NodeName)}
}

// TableColumns of services.
func (ServiceStrategy) TableColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameCol, col("Type", "string", 0, "Service type"),
		col("Cluster-IP", "string", 0, "Cluster IP"), col("External-IP", "string", 0, "External IPs"),
		col("Port(s)", "string", 0, "Ports"), ageCol, col("Selector", "string", 1, "Pod selector")}
}

// TableRow of a service.
func (ServiceStrategy) TableRow(obj runtime.Object) []any {
	s := obj.(*v1.Service)
	ext := "<none>"
	if len(s.Spec.ExternalIPs) > 0 {
		ext = strings.Join(s.Spec.ExternalIPs, ",")
	}
	return []any{s.Name, string(s.Spec.Type), orNone(s.Spec.ClusterIP), ext, servicePorts(s), age(s.CreationTimestamp), SelectorString(s.Spec.Selector)}
}

// TableColumns of replication controllers.
func (ReplicationControllerStrategy) TableColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameCol, col("Desired", "integer", 0, "Desired replicas"),
		col("Current", "integer", 0, "Current replicas"), col("Ready", "integer", 0, "Ready replicas"), ageCol,
		col("Containers", "string", 1, "Container names"), col("Images", "string", 1, "Images"), col("Selector", "string", 1, "Selector")}
}

// TableRow of a replication controller.
func (ReplicationControllerStrategy) TableRow(obj runtime.Object) []any {
	rc := obj.(*v1.ReplicationController)
	desired := int32(1)
	if rc.Spec.Replicas != nil {
		desired = *rc.Spec.Replicas
	}
	var names, images []string
	if rc.Spec.Template != nil {
		for _, ct := range rc.Spec.Template.Spec.Containers {
			names, images = append(names, ct.Name), append(images, ct.Image)
		}
	}
	return []any{rc.Name, int64(desired), int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas), age(rc.CreationTimestamp),
		strings.Join(names, ","), strings.Join(images, ","), SelectorString(rc.Spec.Selector)}
}

// TableColumns of namespaces.
func (NamespaceStrategy) TableColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameCol, col("Status", "string", 0, "Phase"), ageCol}
}

// TableRow of a namespace.
func (NamespaceStrategy) TableRow(obj runtime.Object) []any {
	n := obj.(*v1.Namespace)
	return []any{n.Name, string(n.Status.Phase), age(n.CreationTimestamp)}
}

// TableColumns of nodes.
func (NodeStrategy) TableColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameCol, col("Status", "string", 0, "Ready condition"), ageCol,
		col("Version", "string", 0, "Agent version"), col("Internal-IP", "string", 1, "Address"),
		col("OS-Image", "string", 1, "OS image"), col("Kernel-Version", "string", 1, "Kernel"), col("Container-Runtime", "string", 1, "Runtime"),
		col("Host-Image", "string", 1, "The host image build the node booted (an OSTree host), or its commit"),
		col("Newer-Build", "string", 1, "The newest build of the node's host image, when the node runs an older one; or its upgrade's phase")}
}

// TableRow of a node.
func (NodeStrategy) TableRow(obj runtime.Object) []any {
	n := obj.(*v1.Node)
	return []any{n.Name, nodeStatus(n), age(n.CreationTimestamp), n.Status.NodeInfo.KubeletVersion, nodeAddress(n),
		n.Status.NodeInfo.OSImage, n.Status.NodeInfo.KernelVersion, n.Status.NodeInfo.ContainerRuntimeVersion,
		nodeHostImage(n), nodeNewerBuild(n)}
}

// nodeHostImage is the build a node booted, else its commit.
func nodeHostImage(n *v1.Node) string {
	if b := n.Annotations[berthv1.AnnotationHostImage]; b != "" {
		return b
	}
	if c := berthv1.BootedCommit(n); c != "" {
		return c[:12]
	}
	return "<none>"
}

// nodeNewerBuild says what the node could be upgraded to, or where its
// upgrade is.
func nodeNewerBuild(n *v1.Node) string {
	var up berthv1.NodeUpgradeState
	if raw := n.Annotations[berthv1.AnnotationUpgrade]; raw != "" && json.Unmarshal([]byte(raw), &up) == nil &&
		up.Phase != berthv1.UpgradeSucceeded {
		return fmt.Sprintf("%s (upgrade %s)", up.Build, up.Phase)
	}
	if b := n.Annotations[berthv1.AnnotationHostImageNewest]; b != "" {
		return b
	}
	return "<none>"
}

// TableColumns of events.
func (EventStrategy) TableColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{col("Last Seen", "string", 0, "Last seen"), col("Type", "string", 0, "Type"),
		col("Reason", "string", 0, "Reason"), col("Object", "string", 0, "Object"), col("Message", "string", 0, "Message"), nameCol}
}

// TableRow of an event.
func (EventStrategy) TableRow(obj runtime.Object) []any {
	e := obj.(*v1.Event)
	last := e.LastTimestamp
	if last.IsZero() {
		last = e.CreationTimestamp
	}
	return []any{age(last), e.Type, e.Reason, strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name, e.Message, e.Name}
}

func servicePorts(s *v1.Service) string {
	var parts []string
	for _, p := range s.Spec.Ports {
		part := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if p.NodePort != 0 {
			part = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return "<none>"
	}
	return strings.Join(parts, ",")
}

func nodeStatus(n *v1.Node) string {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			if c.Status == v1.ConditionTrue {
				status = "Ready"
			} else {
				status = "NotReady"
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

func nodeAddress(n *v1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == v1.NodeInternalIP {
			return a.Address
		}
	}
	return "<none>"
}

// SelectorString prints an equality selector as kubectl does ("<none>"
// when empty).
func SelectorString(sel map[string]string) string {
	if len(sel) == 0 {
		return "<none>"
	}
	return metav1.FormatLabelSelector(metav1.SetAsLabelSelector(sel))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}
