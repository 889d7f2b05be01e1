package v1

import corev1 "k8s.io/api/core/v1"

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
