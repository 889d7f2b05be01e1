package api

import (
	"fmt"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// wantsTable reports whether the client asked for meta.k8s.io/v1 Table
// output, as kubectl get does.
func wantsTable(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		if strings.Contains(part, "as=Table") && strings.Contains(part, "v=v1;") && strings.Contains(part, "g=meta.k8s.io") {
			return true
		}
		if strings.Contains(part, "v=v1") && strings.HasSuffix(strings.TrimSpace(part), "g=meta.k8s.io") && strings.Contains(part, "as=Table") {
			return true
		}
	}
	return false
}

// writeObject answers an object or a list, as a Table when asked.
func (a *API) writeObject(c echo.Context, code int, res *resource, obj runtime.Object) error {
	setTypeMeta(obj, res)
	if wantsTable(c.Request().Header.Get("Accept")) {
		table, err := toTable(obj, res, true)
		if err != nil {
			return err
		}
		return writeJSON(c, code, table)
	}
	return writeJSON(c, code, obj)
}

func setTypeMeta(obj runtime.Object, res *resource) {
	kind := res.kind
	if meta.IsListType(obj) {
		kind += "List"
	}
	apiVersion := "v1"
	if res.group != "" {
		apiVersion = res.group + "/v1"
	}
	obj.GetObjectKind().SetGroupVersionKind(schemaGVK(apiVersion, kind))
}

// toTable renders an object or a list as a Table; withColumns false leaves
// out the column definitions (later watch events).
func toTable(obj runtime.Object, res *resource, withColumns bool) (*metav1.Table, error) {
	items := []runtime.Object{obj}
	table := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}}
	if meta.IsListType(obj) {
		var err error
		if items, err = meta.ExtractList(obj); err != nil {
			return nil, err
		}
		if lm, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion = lm.GetResourceVersion()
			table.Continue = lm.GetContinue()
		}
	} else if m, err := meta.Accessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}
	cols := columnsFor(res.kind)
	if withColumns {
		table.ColumnDefinitions = cols.defs
	}
	table.Rows = make([]metav1.TableRow, 0, len(items))
	for _, item := range items {
		accessor, ok := item.(metav1.ObjectMetaAccessor)
		if !ok {
			return nil, fmt.Errorf("%T has no object metadata", item)
		}
		m, ok := accessor.GetObjectMeta().(*metav1.ObjectMeta)
		if !ok {
			return nil, fmt.Errorf("%T has no object metadata", item)
		}
		partial := &metav1.PartialObjectMetadata{
			TypeMeta:   metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"},
			ObjectMeta: *m.DeepCopy(),
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells:  cols.cells(item),
			Object: runtime.RawExtension{Object: partial},
		})
	}
	return table, nil
}

type columns struct {
	defs  []metav1.TableColumnDefinition
	cells func(runtime.Object) []any
}

func col(name, typ string, priority int32, desc string) metav1.TableColumnDefinition {
	format := ""
	if name == "Name" {
		format = "name"
	}
	return metav1.TableColumnDefinition{Name: name, Type: typ, Format: format, Priority: priority, Description: desc}
}

var nameCol = col("Name", "string", 0, "Name must be unique within a namespace.")
var ageCol = col("Age", "string", 0, "Time since the object was created.")

func columnsFor(kind string) columns {
	switch kind {
	case "Pod":
		return columns{
			defs: []metav1.TableColumnDefinition{nameCol, col("Ready", "string", 0, "Ready containers"),
				col("Status", "string", 0, "Pod status"), col("Restarts", "string", 0, "Container restarts"), ageCol,
				col("IP", "string", 1, "Pod IP"), col("Node", "string", 1, "Node the pod is bound to")},
			cells: func(o runtime.Object) []any { return podCells(o.(*v1.Pod)) },
		}
	case "Service":
		return columns{
			defs: []metav1.TableColumnDefinition{nameCol, col("Type", "string", 0, "Service type"),
				col("Cluster-IP", "string", 0, "Cluster IP"), col("External-IP", "string", 0, "External IPs"),
				col("Port(s)", "string", 0, "Ports"), ageCol, col("Selector", "string", 1, "Pod selector")},
			cells: func(o runtime.Object) []any {
				s := o.(*v1.Service)
				ext := "<none>"
				if len(s.Spec.ExternalIPs) > 0 {
					ext = strings.Join(s.Spec.ExternalIPs, ",")
				}
				return []any{s.Name, string(s.Spec.Type), orNone(s.Spec.ClusterIP), ext, servicePorts(s), age(s.CreationTimestamp), selectorString(s.Spec.Selector)}
			},
		}
	case "ReplicationController":
		return columns{
			defs: []metav1.TableColumnDefinition{nameCol, col("Desired", "integer", 0, "Desired replicas"),
				col("Current", "integer", 0, "Current replicas"), col("Ready", "integer", 0, "Ready replicas"), ageCol,
				col("Containers", "string", 1, "Container names"), col("Images", "string", 1, "Images"), col("Selector", "string", 1, "Selector")},
			cells: func(o runtime.Object) []any {
				rc := o.(*v1.ReplicationController)
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
					strings.Join(names, ","), strings.Join(images, ","), selectorString(rc.Spec.Selector)}
			},
		}
	case "Namespace":
		return columns{
			defs: []metav1.TableColumnDefinition{nameCol, col("Status", "string", 0, "Phase"), ageCol},
			cells: func(o runtime.Object) []any {
				n := o.(*v1.Namespace)
				return []any{n.Name, string(n.Status.Phase), age(n.CreationTimestamp)}
			},
		}
	case "Node":
		return columns{
			defs: []metav1.TableColumnDefinition{nameCol, col("Status", "string", 0, "Ready condition"), ageCol,
				col("Version", "string", 0, "Agent version"), col("Internal-IP", "string", 1, "Address"),
				col("OS-Image", "string", 1, "OS image"), col("Kernel-Version", "string", 1, "Kernel"), col("Container-Runtime", "string", 1, "Runtime")},
			cells: func(o runtime.Object) []any {
				n := o.(*v1.Node)
				return []any{n.Name, nodeStatus(n), age(n.CreationTimestamp), n.Status.NodeInfo.KubeletVersion, nodeAddress(n),
					n.Status.NodeInfo.OSImage, n.Status.NodeInfo.KernelVersion, n.Status.NodeInfo.ContainerRuntimeVersion}
			},
		}
	case "Event":
		return columns{
			defs: []metav1.TableColumnDefinition{col("Last Seen", "string", 0, "Last seen"), col("Type", "string", 0, "Type"),
				col("Reason", "string", 0, "Reason"), col("Object", "string", 0, "Object"), col("Message", "string", 0, "Message"), nameCol},
			cells: func(o runtime.Object) []any {
				e := o.(*v1.Event)
				last := e.LastTimestamp
				if last.IsZero() {
					last = e.CreationTimestamp
				}
				return []any{age(last), e.Type, e.Reason, strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name, e.Message, e.Name}
			},
		}
	}
	return columns{
		defs: []metav1.TableColumnDefinition{nameCol, ageCol},
		cells: func(o runtime.Object) []any {
			m, _ := meta.Accessor(o)
			return []any{m.GetName(), age(m.GetCreationTimestamp())}
		},
	}
}

func podCells(p *v1.Pod) []any {
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

func selectorString(sel map[string]string) string {
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
