// Package v1 holds the types of Berth's own API group, berth.dev/v1:
// projects, users, tokens and project members. They are served beside the
// Kubernetes core/v1 resources and discovered the same way.
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is Berth's API group.
const GroupName = "berth.dev"

// SchemeGroupVersion is the group and version of every type in this package.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1"}

// Project roles, from most to least powerful.
const (
	RoleAdmin = "admin" // members and everything in the project
	RoleEdit  = "edit"  // workloads
	RoleView  = "view"  // read only
)

// Project is a namespace seen from Berth: a namespace with members.
type Project struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ProjectSpec   `json:"spec,omitempty"`
	Status            ProjectStatus `json:"status,omitempty"`
}

// ProjectSpec is what a user may set on a project.
type ProjectSpec struct {
	DisplayName string `json:"displayName,omitempty"`
	Description string `json:"description,omitempty"`
}

// ProjectStatus is what the server reports about a project.
type ProjectStatus struct {
	Phase string `json:"phase,omitempty"`
	// Role is the requesting user's role in the project ("" for cluster
	// admins who are not members).
	Role string `json:"role,omitempty"`
}

// ProjectList is a list of projects.
type ProjectList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Project `json:"items"`
}

// User is an account. The password is write-only: it is accepted on create
// and never returned.
type User struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              UserSpec `json:"spec,omitempty"`
}

// UserSpec is what an administrator sets on a user.
type UserSpec struct {
	ClusterAdmin bool   `json:"clusterAdmin,omitempty"`
	Password     string `json:"password,omitempty"`
}

// PasswordChange is the body of PUT /apis/berth.dev/v1/users/NAME/password.
// Users change their own password with their current one; cluster admins
// set anyone else's without it. The user's other sessions end.
type PasswordChange struct {
	metav1.TypeMeta `json:",inline"`
	// CurrentPassword is required to change one's own password.
	CurrentPassword string `json:"currentPassword,omitempty"`
	NewPassword     string `json:"newPassword"`
}

// UserList is a list of users.
type UserList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []User `json:"items"`
}

// Token is a named API token of the requesting user. Its secret appears
// once, in the answer to its creation.
type Token struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              TokenSpec   `json:"spec,omitempty"`
	Status            TokenStatus `json:"status,omitempty"`
}

// TokenSpec is what a user asks for when creating a token.
type TokenSpec struct {
	// TTL is how long the token lives, as a Go duration ("720h"); empty
	// means the server default.
	TTL string `json:"ttl,omitempty"`
	// Kind is "api" (default) or "bootstrap" (cluster admins only): a
	// bootstrap token lets the node NodeName join once. Listed tokens
	// may also be "node": a node's own credential, which only node-join
	// issues.
	Kind string `json:"kind,omitempty"`
	// NodeName is the node a bootstrap token may join as, or the node a
	// node credential belongs to.
	NodeName string `json:"nodeName,omitempty"`
}

// TokenStatus is what the server reports about a token.
type TokenStatus struct {
	Secret    string       `json:"secret,omitempty"`
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
	LastUsed  *metav1.Time `json:"lastUsed,omitempty"`
}

// TokenList is a list of tokens.
type TokenList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Token `json:"items"`
}

// Member is a user's role in a project; it is namespaced and named after
// the user.
type Member struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              MemberSpec `json:"spec,omitempty"`
}

// MemberSpec holds the role.
type MemberSpec struct {
	Role string `json:"role"`
}

// MemberList is a list of members.
type MemberList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Member `json:"items"`
}

// WhoAmI answers GET /apis/berth.dev/v1/whoami.
type WhoAmI struct {
	metav1.TypeMeta `json:",inline"`
	Username        string `json:"username"`
	ClusterAdmin    bool   `json:"clusterAdmin"`
	// Via says how the request was authenticated: "token" or "session".
	Via string `json:"via"`
}

var (
	_ runtime.Object = (*Project)(nil)
	_ runtime.Object = (*ProjectList)(nil)
	_ runtime.Object = (*User)(nil)
	_ runtime.Object = (*UserList)(nil)
	_ runtime.Object = (*Token)(nil)
	_ runtime.Object = (*TokenList)(nil)
	_ runtime.Object = (*Member)(nil)
	_ runtime.Object = (*MemberList)(nil)
)

// AuditEntry is one mutating request as the audit log recorded it.
type AuditEntry struct {
	At        metav1.Time `json:"at"`
	User      string      `json:"user"`
	Verb      string      `json:"verb"`
	Resource  string      `json:"resource"`
	Namespace string      `json:"namespace,omitempty"`
	Name      string      `json:"name,omitempty"`
	Code      int         `json:"code"`
	SourceIP  string      `json:"sourceIP,omitempty"`
	UserAgent string      `json:"userAgent,omitempty"`
	// Stage is set on the two entries of a stream (log, exec, attach):
	// ResponseStarted when the node answered, ResponseComplete when it
	// ended.
	Stage string `json:"stage,omitempty"`
	// Details is a JSON object: a session's container, command and
	// duration.
	Details string `json:"details,omitempty"`
}

// AuditEntryList answers GET /apis/berth.dev/v1/auditentries (cluster
// admins), newest first.
type AuditEntryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AuditEntry `json:"items"`
}
