package admission

import (
	"context"
	"fmt"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/registry/generic"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// ObjectGetter reads one object (a pods registry).
type ObjectGetter interface {
	Get(ctx context.Context, ns, name string) (runtime.Object, error)
}

// NodeRestriction limits what a node agent's credential may write to what
// its node needs, as Kubernetes' NodeRestriction admission does: its own
// Node and heartbeat Lease; the status and the final deletion of the pods
// bound to it; events about its Node and those pods. What a node may read is the API's
// authorization (a node sees only the pods bound to it).
func NodeRestriction(pods ObjectGetter) generic.Admission {
	return generic.AdmissionFunc(func(ctx context.Context, a *generic.Attributes) error {
		id, _ := auth.IdentityFrom(ctx)
		if !id.IsNode() {
			return nil
		}
		node := id.NodeName
		refuse := func(format string, args ...any) error {
			return errdefs.Forbidden("node %q is not allowed to %s: %s", node, describe(a), fmt.Sprintf(format, args...))
		}
		if node == "" {
			return refuse("a bootstrap credential may only join")
		}
		switch a.Resource {
		case "nodes":
			if a.Operation == generic.Delete {
				return refuse("a node may not delete Node objects")
			}
			if a.Name != node {
				return refuse("a node may only create or change its own Node")
			}
			return nil
		case "pods":
			switch {
			case a.Operation == generic.Create:
				return refuse("a node may not create pods")
			case a.Operation == generic.Update && a.Subresource != "status":
				return refuse("a node may only write the status of pods")
			}
			if pod, ok := a.Old.(*v1.Pod); !ok || pod.Spec.NodeName != node {
				return refuse("the pod is not bound to this node")
			}
			return nil
		case "leases":
			if a.Namespace != "kube-node-lease" || a.Name != node || a.Operation == generic.Delete {
				return refuse("a node keeps only its own heartbeat lease, kube-node-lease/%s", node)
			}
			return nil
		case "events":
			if a.Operation == generic.Delete {
				return refuse("a node may not delete events")
			}
			ev, ok := a.Object.(*v1.Event)
			if !ok {
				return refuse("not an event")
			}
			return eventAboutNode(ctx, pods, node, ev, refuse)
		}
		return refuse("a node writes only its Node, its pods' status and events about them")
	})
}

// eventAboutNode allows an event about the node itself or about a pod
// bound to it, recorded in that pod's namespace.
func eventAboutNode(ctx context.Context, pods ObjectGetter, node string, ev *v1.Event, refuse func(string, ...any) error) error {
	ref := ev.InvolvedObject
	switch ref.Kind {
	case "Node":
		if ref.Name == node {
			return nil
		}
	case "Pod":
		if ref.Namespace != ev.Namespace {
			return refuse("an event about a pod belongs in the pod's namespace")
		}
		obj, err := pods.Get(ctx, ref.Namespace, ref.Name)
		if err != nil {
			return refuse("pod %s/%s: %v", ref.Namespace, ref.Name, err)
		}
		if pod := obj.(*v1.Pod); pod.Spec.NodeName == node && (ref.UID == "" || ref.UID == pod.UID) {
			return nil
		}
	}
	return refuse("an event must be about this node or a pod bound to it")
}

func describe(a *generic.Attributes) string {
	what := a.Resource
	if a.Subresource != "" {
		what += "/" + a.Subresource
	}
	target := a.Name
	if a.Namespace != "" {
		target = a.Namespace + "/" + a.Name
	}
	verb := map[generic.Operation]string{generic.Create: "create", generic.Update: "update", generic.Delete: "delete"}[a.Operation]
	return fmt.Sprintf("%s %s %q", verb, what, target)
}
