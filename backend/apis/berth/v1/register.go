package v1

import (
	"k8s.io/apimachinery/pkg/runtime"
)

// AddToScheme registers Berth's kinds, so that their schemas can be
// found by group, version and kind (OpenAPI).
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion,
		&Project{}, &ProjectList{}, &User{}, &UserList{}, &PasswordChange{},
		&Token{}, &TokenList{}, &Member{}, &MemberList{}, &WhoAmI{}, &AuditEntryList{},
		&ClusterNetwork{}, &ClusterNetworkList{}, &ProjectNetwork{}, &Route{}, &RouteList{},
	)
	return nil
}
