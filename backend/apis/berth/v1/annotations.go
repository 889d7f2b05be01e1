package v1

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnnotationHostPathAllowed marks the pods (and the pod templates of
// replication controllers) that a cluster admin wrote: only those may
// mount hostPath volumes. The API's admission sets it for cluster admins
// and removes it from everyone else's objects, and etcd answers only the
// master, so nothing but the API can set it; node agents honour it.
const AnnotationHostPathAllowed = "berth.dev/host-path-allowed"

// HostPathAllowed reports whether the pod may mount hostPath volumes.
func HostPathAllowed(pod *corev1.Pod) bool {
	return pod.Annotations[AnnotationHostPathAllowed] == "true"
}

// DefaultClusterDomain is the DNS domain of services when the master is
// told no other (--cluster-domain), Kubernetes' default.
const DefaultClusterDomain = "cluster.local"

// Annotations on Nodes about their host image.
const (
	// AnnotationBootedDeployment is what the node's agent reports it
	// booted on an OSTree host: "<osname> <commit>.<serial>", as the
	// starred line of `ostree admin status`.
	AnnotationBootedDeployment = "berth.dev/booted-deployment"
	// AnnotationHostImage names the build whose commit the node booted
	// (the master sets it when it knows the commit).
	AnnotationHostImage = "berth.dev/host-image"
	// AnnotationHostImageNewest names the newest build of the node's host
	// image when it is not the one the node booted: the node is behind.
	AnnotationHostImageNewest = "berth.dev/host-image-newest"
	// AnnotationUpgrade holds the node's upgrade (a NodeUpgradeState, as
	// JSON): asked for by berth node upgrade, driven by the master
	// (cordon, drain) and by the node's agent (stage, reboot).
	AnnotationUpgrade = "berth.dev/upgrade"
)

// Upgrade phases.
const (
	UpgradePending   = "Pending"   // asked for: the master cordons the node
	UpgradeDraining  = "Draining"  // the node's pods are being deleted
	UpgradeStaging   = "Staging"   // the agent pulls and deploys the commit
	UpgradeRebooting = "Rebooting" // the agent reboots into it
	UpgradeSucceeded = "Succeeded" // the node booted it; uncordoned
	UpgradeFailed    = "Failed"    // see Message; the node stays cordoned
)

// NodeUpgradeState is a node's upgrade, kept in AnnotationUpgrade.
type NodeUpgradeState struct {
	Phase string `json:"phase"`
	// HostImage, Build, Ref and Target say what the node is upgraded to.
	HostImage string `json:"hostImage"`
	Build     string `json:"build"`
	Ref       string `json:"ref"`
	Target    string `json:"target"`
	// From is the commit the node booted when the upgrade was asked for.
	From string `json:"from"`
	// Force deletes pods no replication controller recreates.
	Force bool `json:"force,omitempty"`
	// Cordoned says the upgrade made the node unschedulable, and so
	// makes it schedulable again when it succeeds.
	Cordoned bool   `json:"cordoned,omitempty"`
	Message  string `json:"message,omitempty"`
	// Since is when the phase began.
	Since metav1.Time `json:"since"`
}

// BootedCommit is the commit of a booted deployment annotation ("" when
// there is none): "<osname> <commit>.<serial>".
func BootedCommit(node *corev1.Node) string {
	d := node.Annotations[AnnotationBootedDeployment]
	if i := strings.LastIndexByte(d, ' '); i >= 0 {
		d = d[i+1:]
	}
	if i := strings.IndexByte(d, '.'); i >= 0 {
		d = d[:i]
	}
	if len(d) != 64 {
		return ""
	}
	return d
}
