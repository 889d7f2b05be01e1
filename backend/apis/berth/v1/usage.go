package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnnotationCreatedBy names the user a pod's usage is attributed to: the
// creator of the pod, or of the replication controller that made it. The
// API sets it at admission (backend/admission Attribution); nobody else
// chooses it.
const AnnotationCreatedBy = "berth.dev/created-by"

// UsageRecord is what one container used over one sampling window, as a
// node agent measured it. Node, ContainerID and WindowStart are its
// idempotency key: the master stores a key once, however often it is
// delivered. The master fills in Project and User from the pod, never
// from what the node says.
type UsageRecord struct {
	Node        string    `json:"node"`
	ContainerID string    `json:"containerID"`
	WindowStart time.Time `json:"windowStart"`
	WindowEnd   time.Time `json:"windowEnd"`

	PodUID    string `json:"podUID"`
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	// Container is the container's name in the pod; the pod's infra
	// container ("POD") carries the pod's network bytes and running time.
	Container string `json:"container"`
	User      string `json:"user,omitempty"`

	CPUSeconds        float64 `json:"cpuSeconds"`
	MemoryByteSeconds float64 `json:"memoryByteSeconds"`
	// MemoryBytes is the working set at WindowEnd; MemoryPeakBytes the
	// most seen in the window.
	MemoryBytes     int64   `json:"memoryBytes"`
	MemoryPeakBytes int64   `json:"memoryPeakBytes"`
	NetworkRxBytes  int64   `json:"networkRxBytes"`
	NetworkTxBytes  int64   `json:"networkTxBytes"`
	RunningSeconds  float64 `json:"runningSeconds"`
}

// UsageRecordList is a batch of records a node agent delivers
// (POST /apis/berth.dev/v1/usagerecords, node credentials only).
type UsageRecordList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []UsageRecord `json:"items"`
}

// UsageIngest is the master's answer to a batch: how many records were
// new, how many it already had, and how many named pods it does not know
// (deleted before any of their records arrived).
type UsageIngest struct {
	metav1.TypeMeta `json:",inline"`
	Stored          int `json:"stored"`
	Duplicates      int `json:"duplicates"`
	UnknownPods     int `json:"unknownPods"`
}

// UsageReport answers GET .../usage: one row per group, and the totals.
type UsageReport struct {
	metav1.TypeMeta `json:",inline"`
	From            time.Time  `json:"from"`
	To              time.Time  `json:"to"`
	GroupBy         []string   `json:"groupBy"`
	Rows            []UsageRow `json:"rows"`
	Total           UsageRow   `json:"total"`
}

// UsageRow is the usage of one group; the fields not grouped by are
// empty.
type UsageRow struct {
	Hour    *time.Time `json:"hour,omitempty"`
	Day     string     `json:"day,omitempty"`
	Minute  *time.Time `json:"minute,omitempty"`
	Project string     `json:"project,omitempty"`
	User    string     `json:"user,omitempty"`
	Pod     string     `json:"pod,omitempty"`

	CPUCoreHours   float64 `json:"cpuCoreHours"`
	MemoryGiBHours float64 `json:"memoryGiBHours"`
	PodHours       float64 `json:"podHours"`
	NetworkInGiB   float64 `json:"networkInGiB"`
	NetworkOutGiB  float64 `json:"networkOutGiB"`
	// MemoryPeakBytes is the largest working set seen in the group.
	MemoryPeakBytes int64 `json:"memoryPeakBytes"`
}
