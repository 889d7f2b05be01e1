package core

import (
	"fmt"

	"github.com/berthpaas/berth/backend/registry/generic"
	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// scheme holds the served types; the field managers convert and create
// objects with it.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{v1.AddToScheme, coordinationv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// typeConverter knows the structure of every built-in type (which lists
// are sets, which are maps keyed by name ...) from client-go's own
// schemas, as server-side apply needs.
var typeConverter = applyconfigurations.NewTypeConverter(scheme)

// fieldManagers are the field managers of one resource: writes through
// the main resource leave status to the status subresource and the other
// way round, as Kubernetes' strategies reset those fields.
func fieldManagers(gv schema.GroupVersion, kind string, hasStatus bool) *generic.FieldManagers {
	gvk := gv.WithKind(kind)
	version := fieldpath.APIVersion(gv.String())
	mainReset := map[fieldpath.APIVersion]fieldpath.Filter{}
	if hasStatus {
		mainReset[version] = fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie("status")))
	}
	managers := &generic.FieldManagers{Main: mustFieldManager(gvk, "", mainReset)}
	if hasStatus {
		statusReset := map[fieldpath.APIVersion]fieldpath.Filter{version: fieldpath.NewExcludeSetFilter(fieldpath.NewSet(
			fieldpath.MakePathOrDie("spec"),
			fieldpath.MakePathOrDie("metadata", "deletionTimestamp"),
			fieldpath.MakePathOrDie("metadata", "ownerReferences"),
		))}
		managers.Status = mustFieldManager(gvk, "status", statusReset)
	}
	return managers
}

func mustFieldManager(gvk schema.GroupVersionKind, subresource string, reset map[fieldpath.APIVersion]fieldpath.Filter) *managedfields.FieldManager {
	fm, err := managedfields.NewDefaultFieldManager(typeConverter, scheme, scheme, scheme, gvk, gvk.GroupVersion(), subresource, reset)
	if err != nil {
		panic(fmt.Sprintf("field manager of %v: %v", gvk, err))
	}
	return fm
}
