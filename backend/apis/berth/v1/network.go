package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The pod network's defaults.
const (
	// DefaultClusterCIDR is the range nodes' pod subnets are cut from
	// (--cluster-cidr), flannel's and kubeadm's usual one.
	DefaultClusterCIDR = "10.244.0.0/16"
	// NodeSubnetPrefixLength is the size of every node's pod subnet: a
	// /24, 254 pod addresses, as flannel gives.
	NodeSubnetPrefixLength = 24
	// ClusterNetworkName names the one ClusterNetwork object.
	ClusterNetworkName = "default"
)

// ClusterNetwork is the pod and service network as the masters run it,
// as OpenShift's ClusterNetwork was: served read-only at
// /apis/berth.dev/v1/clusternetworks/default, set by the master's flags
// (--cluster-cidr, --network-isolation, --service-cluster-ip-range,
// --cluster-domain). Node agents read it to program their hosts.
type ClusterNetwork struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Network is the range nodes' pod subnets are cut from.
	Network string `json:"network"`
	// SubnetPrefixLength is the prefix length of each node's subnet.
	SubnetPrefixLength int `json:"subnetPrefixLength"`
	// ProjectIsolation says whether a pod reaches only the pods of its own
	// project, of projects joined with it and of global projects (true),
	// or every pod (false).
	ProjectIsolation bool `json:"projectIsolation"`
	// ServiceNetwork is the range services' cluster IPs come from
	// (--service-cluster-ip-range).
	ServiceNetwork string `json:"serviceNetwork,omitempty"`
	// ClusterDomain is the DNS domain of services
	// (<service>.<project>.svc.<domain>; --cluster-domain).
	ClusterDomain string `json:"clusterDomain,omitempty"`
}

// ClusterNetworkList is the list of the one ClusterNetwork.
type ClusterNetworkList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterNetwork `json:"items"`
}

// AnnotationNetID is a namespace's virtual network, as OpenShift's
// NetNamespace netid: pods reach the pods of projects with the same NetID,
// and those of the global ones. A namespace without it is alone on its own
// network, whose NetID is the namespace's UID. Only cluster admins set it
// (admission.NetID), through the projects' network subresource.
const AnnotationNetID = "berth.dev/netid"

// GlobalNetID is the NetID of projects whose pods reach, and are reached
// by, every pod.
const GlobalNetID = "global"

// NetIDOf is the namespace's NetID.
func NetIDOf(ns *corev1.Namespace) string {
	if id := ns.Annotations[AnnotationNetID]; id != "" {
		return id
	}
	return string(ns.UID)
}

// AnnotationPodIPs is set by a node agent on its own Node: a JSON object
// that maps the IP of each pod running there to its namespace. The other
// agents read it to let in the traffic a pod's project may receive; they
// trust it only for addresses in that node's spec.podCIDR.
const AnnotationPodIPs = "berth.dev/pod-ips"

// ProjectNetwork is a project's place on the pod network: the network
// subresource of projects (/apis/berth.dev/v1/projects/NAME/network).
// Reading it needs a project member's role; changing it, a cluster admin's.
type ProjectNetwork struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// NetID is the project's virtual network. On update: the NetID of the
	// project to join, GlobalNetID to make it global, or "" to isolate it
	// on a network of its own.
	NetID string `json:"netID"`
	// Joined lists the other projects on the same network (read only).
	Joined []string `json:"joined,omitempty"`
}

func (in *ClusterNetwork) DeepCopyObject() runtime.Object {
	out := *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	return &out
}

func (in *ClusterNetworkList) DeepCopyObject() runtime.Object {
	out := *in
	out.Items = make([]ClusterNetwork, len(in.Items))
	for i := range in.Items {
		out.Items[i] = *in.Items[i].DeepCopyObject().(*ClusterNetwork)
	}
	return &out
}

func (in *ProjectNetwork) DeepCopyObject() runtime.Object {
	out := *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Joined = append([]string(nil), in.Joined...)
	return &out
}
