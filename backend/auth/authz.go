package auth

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/fields"

	"github.com/berthpaas/berth/backend/errdefs"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
)

// Identity is the authenticated caller of a request.
type Identity struct {
	UserID       int64
	Name         string
	ClusterAdmin bool
	// Via is "token" or "session" (the console cookie).
	Via string
	// TokenKind is the kind of the credential: "api", "session" or "node".
	TokenKind string
	// Secret is the credential as presented, so logout can revoke it.
	Secret string
	// NodeName is the node a node credential belongs to ("" for a
	// bootstrap token, which may only join).
	NodeName string
	// Component names an in-process component of the master ("scheduler");
	// empty for every caller of the API.
	Component string
}

// workloads are the namespaced resources that edit may change and view
// may read (of namesOnly resources, view reads the names only).
var workloads = map[string]bool{
	"pods": true, "services": true, "replicationcontrollers": true, "events": true,
	"configmaps": true, "secrets": true,
}

// namesOnly are the resources whose content only edit may read: view
// lists and watches them and sees their names (NamesOnly), and may not
// get one, as OpenShift shows secrets to viewers.
var namesOnly = map[string]bool{"secrets": true}

// NamesOnly reports whether id, holding role in the request's namespace,
// sees only the names of what it reads: the API strips the rest (a
// secret's data) from the lists and watch events it answers.
func NamesOnly(id Identity, role string, ri RequestInfo) bool {
	if ri.APIGroup != "" || !namesOnly[ri.Resource] || id.ClusterAdmin || id.TokenKind == TokenKindNode {
		return false
	}
	return role != berthv1.RoleAdmin && role != berthv1.RoleEdit
}

// Decide says whether id, holding role in the request's namespace ("" for
// none), may do what ri asks. It returns nil or an error wrapping
// ErrForbidden that reads like the Kubernetes apiserver's.
func Decide(id Identity, role string, ri RequestInfo) error {
	if id.TokenKind == TokenKindNode {
		// A node credential carries only the node's rights, whoever made it.
		if !ri.IsResourceRequest || nodeAllowed(id, ri) {
			return nil
		}
		return forbidden(id, ri)
	}
	if id.ClusterAdmin || !ri.IsResourceRequest {
		return nil
	}
	if allowed(id, role, ri) {
		return nil
	}
	return forbidden(id, ri)
}

// TokenKindNode marks the credentials of node agents.
const TokenKindNode = "node"

// nodeAllowed is Kubernetes' Node authorizer for Berth: a node reports the
// usage of its pods (usagerecords), reads the
// pods bound to it (a list or watch must select spec.nodeName=<node>; a
// single pod is checked once read), writes their status and confirms their
// deletion, registers and heartbeats its own Node, records events, and
// reads every service and endpoints (its proxy, DNS and the service
// variables of its containers need them), without writing either.
// Which pod, which Node and which event is NodeRestriction's to check
// (backend/admission), since it takes the objects. For the pod network it
// reads every Node (subnets, addresses, pod IPs), the namespaces (their
// NetIDs) and the ClusterNetwork, and writes none of them but its Node.
// It gets (never lists or watches) secrets and config maps: which ones
// (those its pods use) the API checks before it reads one.
func nodeAllowed(id Identity, ri RequestInfo) bool {
	if id.NodeName == "" {
		return false
	}
	if ri.APIGroup == "coordination.k8s.io" {
		return nodeLeaseAllowed(id, ri)
	}
	if ri.APIGroup == berthv1.GroupName {
		switch ri.Resource {
		case "clusternetworks":
			return ri.Subresource == "" && (ri.Verb == "get" || ri.Verb == "list")
		case "usagerecords":
			// Its own pods' usage only: the API checks each pod's node.
			return ri.Subresource == "" && ri.Verb == "create"
		}
		return false
	}
	if ri.APIGroup != "" {
		return false
	}
	switch ri.Resource {
	case "namespaces":
		return ri.Subresource == "" && IsReadOnly(ri.Verb)
	case "pods":
		switch {
		case ri.Subresource == "" && (ri.Verb == "list" || ri.Verb == "watch"):
			return selectsNode(ri.FieldSelector, id.NodeName)
		case ri.Subresource == "" && (ri.Verb == "get" || ri.Verb == "delete"):
			return true
		case ri.Subresource == "status":
			return ri.Verb == "get" || ri.Verb == "update" || ri.Verb == "patch"
		}
	case "nodes":
		switch ri.Verb {
		case "get", "list", "watch", "create":
			return ri.Subresource == "" || ri.Subresource == "status"
		case "update", "patch":
			return ri.Name == id.NodeName
		}
	case "events":
		return ri.Verb == "create" || ri.Verb == "update" || ri.Verb == "patch"
	case "services", "endpoints":
		return ri.Subresource == "" && (ri.Verb == "get" || ri.Verb == "list" || ri.Verb == "watch")
	case "secrets", "configmaps":
		return ri.Verb == "get" && ri.Name != "" && ri.Subresource == ""
	}
	return false
}

// nodeLeaseAllowed lets a node keep its heartbeat Lease, the one named
// after it in kube-node-lease, as the kubelet does.
func nodeLeaseAllowed(id Identity, ri RequestInfo) bool {
	switch ri.Verb {
	case "get", "create", "update", "patch":
		return ri.Resource == "leases" && ri.Namespace == "kube-node-lease" &&
			ri.Subresource == "" && (ri.Name == id.NodeName || (ri.Verb == "create" && ri.Name == ""))
	}
	return false
}

// selectsNode reports whether a field selector asks only for the objects
// bound to node (spec.nodeName=node, possibly with more terms).
func selectsNode(selector, node string) bool {
	sel, err := fields.ParseSelector(selector)
	if err != nil {
		return false
	}
	value, ok := sel.RequiresExactMatch("spec.nodeName")
	return ok && value == node
}

func allowed(id Identity, role string, ri RequestInfo) bool {
	read := IsReadOnly(ri.Verb)
	member := role != ""
	admin := role == berthv1.RoleAdmin
	canEdit := admin || role == berthv1.RoleEdit
	switch ri.APIGroup {
	case "":
		switch {
		case ri.Resource == "namespaces":
			return namespaceAllowed(ri, read, member, admin)
		case ri.Resource == "resourcequotas" || ri.Resource == "limitranges":
			// What a project may use is the cluster admins' to set: a
			// member who could write a quota could lift it.
			return read && member && ri.Namespace != ""
		case ri.Resource == "endpoints":
			// Members read the endpoints of their services; only the
			// endpoints controller (and cluster admins) write them:
			// endpoints a tenant wrote could point a NodePort at another
			// tenant's pods, which the proxy would then forward to.
			return read && member && ri.Namespace != "" && ri.Subresource == ""
		case workloads[ri.Resource]:
			if ri.Namespace == "" {
				return false // all-namespace lists are for cluster admins
			}
			if ri.Subresource == "status" && !read {
				// Status is what nodes and controllers observe: a member
				// who could write it could mark a pod Failed or an RC
				// satisfied. Only they (and cluster admins) write it.
				return false
			}
			if ri.Subresource != "" && ri.Subresource != "status" && ri.Subresource != "scale" {
				// Operations on a pod's containers: reading what they
				// show (log, diff) is a member's; acting on them (exec,
				// attach, stop, start, restart) needs edit.
				if readSubresources[ri.Subresource] {
					return member
				}
				return canEdit
			}
			if read && namesOnly[ri.Resource] && ri.Verb == "get" {
				return canEdit
			}
			if read {
				return member
			}
			return canEdit
		}
	case "coordination.k8s.io":
		// Leases, for the leader elections of a project's own controllers.
		if ri.Resource != "leases" || ri.Namespace == "" {
			return false
		}
		if read {
			return member
		}
		return canEdit
	case "metrics.k8s.io":
		// The usage of a project's pods, for its members (kubectl top
		// pod); nodes' are cluster admins'.
		return ri.Resource == "pods" && read && member && ri.Namespace != ""
	case "authorization.k8s.io", "authentication.k8s.io":
		// Asking what one may do, or who one is: everyone, about
		// themselves.
		return ri.Verb == "create" && strings.HasPrefix(ri.Resource, "selfsubject")
	case berthv1.GroupName:
		switch ri.Resource {
		case "projects":
			return namespaceAllowed(ri, read, member, admin)
		case "members":
			if ri.Namespace == "" {
				return false
			}
			if read {
				return member
			}
			return admin
		case "tokens", "whoami":
			return true
		case "routes":
			// A project's routes are its workloads' face: members read
			// them, editors write them; all-namespace lists are cluster
			// admins'.
			if ri.Namespace == "" || ri.Subresource != "" {
				return false
			}
			if read {
				return member
			}
			return canEdit
		case "clusternetworks":
			return read
		case "hostimages", "hostimagebuilds":
			// Host images are what every node runs: everyone may see
			// them and their builds; cluster admins (who return above)
			// edit, build and cancel.
			return read
		case "usage":
			// A project's usage for its members; across the cluster,
			// the API narrows a non-admin to their projects.
			return ri.Verb == "list" && (ri.Namespace == "" || member)
		case "users":
			return read && ri.Name == id.Name
		}
	}
	return false
}

// readSubresources are the subresources that only read what the pod
// already shows.
var readSubresources = map[string]bool{"log": true, "diff": true}

// namespaceAllowed holds for namespaces and their Berth face, projects:
// anyone may list (the list is filtered) and create (they become admin);
// members read; project admins change and delete.
func namespaceAllowed(ri RequestInfo, read, member, admin bool) bool {
	switch {
	case ri.Subresource != "" && !read:
		return false // status and finalize are the master's
	case ri.Name == "" && (ri.Verb == "list" || ri.Verb == "watch" || ri.Verb == "create"):
		return true
	case read:
		return member
	default:
		return admin
	}
}

func forbidden(id Identity, ri RequestInfo) error {
	res := ri.Resource
	if ri.Subresource != "" {
		res += "/" + ri.Subresource
	}
	where := "at the cluster scope"
	if ri.Namespace != "" && ri.Resource != "namespaces" {
		where = fmt.Sprintf("in the namespace %q", ri.Namespace)
	}
	return errdefs.Newf(errdefs.ErrForbidden, "user %q cannot %s resource %q in API group %q %s",
		id.Name, ri.Verb, res, ri.APIGroup, where)
}
