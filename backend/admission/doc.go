// Package admission holds the rules every write to the cluster passes,
// whoever makes it — an API request, a controller or the scheduler — as
// kube-apiserver's admission plugins do. The registries run them
// (generic.Registry.Admission) after a resource's defaults and before its
// validation, with the writer's identity from the context:
//
//	write ─► strategy defaults ─► admission chain ─► strategy validation ─► etcd
//	                               │
//	                               ├─ HostPath        only cluster admins mount host paths; the mark node agents honour
//	                               ├─ NodeRestriction a node writes only its own Node, its pods' status, its events
//	                               ├─ Attribution     whom a pod's usage counts for: its creator, or its controller's
//	                               ├─ HostPorts       tenants' host ports in a range, never on a chosen host IP
//	                               ├─ ReplicaLimit    no controller asks for more than the cluster's cap
//	                               ├─ NetID           only cluster admins move a project to another network
//	                               ├─ PodCIDR         a node gets a pod subnet of its own; it may not choose it
//	                               └─ ServiceTargetPorts a targetPort name some selected container has
//
// Each plugin is a generic.Admission; Chain composes them. A refusal is an
// errdefs error (ErrForbidden, *errdefs.InvalidError naming the field).
package admission
