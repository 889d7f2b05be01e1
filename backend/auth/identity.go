package auth

import "context"

type identityKey struct{}

// WithIdentity returns ctx carrying id: the API sets the caller of a
// request, in-process components (controllers, the scheduler) their own
// identity, so that admission and audit see who writes.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity ctx carries.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// ComponentIdentity is the identity of an in-process component of the
// master ("replication-controller"): trusted as cluster admins are, and
// audited under the name system:<component>.
func ComponentIdentity(component string) Identity {
	return Identity{Name: "system:" + component, ClusterAdmin: true, Component: component}
}

// IsNode reports whether the identity is a node agent's credential.
func (id Identity) IsNode() bool { return id.TokenKind == TokenKindNode }

// IsClusterAdmin reports whether the identity has a cluster admin's
// rights: a cluster admin's own credential (not a node credential a
// cluster admin created) or an in-process component.
func (id Identity) IsClusterAdmin() bool { return id.ClusterAdmin && !id.IsNode() }

// NodeUserName is the name a node's credential acts under, in audit
// entries and messages.
func NodeUserName(node string) string { return "system:node:" + node }
