package api

import (
	"fmt"
	"strings"
	"time"

	"github.com/berthpaas/berth/backend/registry/generic"
	"github.com/labstack/echo/v4"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// wantsTable reports whether the client asked for meta.k8s.io/v1 Table
// output, as kubectl get does.
func wantsTable(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		if strings.Contains(part, "as=Table") && strings.Contains(part, "v=v1;") && strings.Contains(part, "g=meta.k8s.io") {
			return true
		}
		if strings.Contains(part, "v=v1") && strings.HasSuffix(strings.TrimSpace(part), "g=meta.k8s.io") && strings.Contains(part, "as=Table") {
			return true
		}
	}
	return false
}

// writeObject answers an object or a list, as a Table when asked.
func (a *API) writeObject(c echo.Context, code int, res *resource, obj runtime.Object) error {
	setTypeMeta(obj, res)
	if wantsTable(c.Request().Header.Get("Accept")) {
		table, err := toTable(obj, res, true)
		if err != nil {
			return err
		}
		return writeJSON(c, code, table)
	}
	return writeJSON(c, code, obj)
}

func setTypeMeta(obj runtime.Object, res *resource) {
	kind := res.kind
	if meta.IsListType(obj) {
		kind += "List"
	}
	apiVersion := "v1"
	if res.group != "" {
		apiVersion = res.group + "/v1"
	}
	obj.GetObjectKind().SetGroupVersionKind(schemaGVK(apiVersion, kind))
}

// toTable renders an object or a list as a Table; withColumns false leaves
// out the column definitions (later watch events).
func toTable(obj runtime.Object, res *resource, withColumns bool) (*metav1.Table, error) {
	items := []runtime.Object{obj}
	table := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}}
	if meta.IsListType(obj) {
		var err error
		if items, err = meta.ExtractList(obj); err != nil {
			return nil, err
		}
		if lm, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion = lm.GetResourceVersion()
			table.Continue = lm.GetContinue()
		}
	} else if m, err := meta.Accessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}
	defs, cells := columnsFor(res)
	if withColumns {
		table.ColumnDefinitions = defs
	}
	table.Rows = make([]metav1.TableRow, 0, len(items))
	for _, item := range items {
		accessor, ok := item.(metav1.ObjectMetaAccessor)
		if !ok {
			return nil, fmt.Errorf("%T has no object metadata", item)
		}
		m, ok := accessor.GetObjectMeta().(*metav1.ObjectMeta)
		if !ok {
			return nil, fmt.Errorf("%T has no object metadata", item)
		}
		partial := &metav1.PartialObjectMetadata{
			TypeMeta:   metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"},
			ObjectMeta: *m.DeepCopy(),
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells:  cells(item),
			Object: runtime.RawExtension{Object: partial},
		})
	}
	return table, nil
}

// columnsFor returns the resource's columns, as its strategy declares
// them, or a name and an age.
func columnsFor(res *resource) ([]metav1.TableColumnDefinition, func(runtime.Object) []any) {
	if res.registry != nil {
		if tc, ok := res.registry.Strategy.(generic.TableConvertor); ok {
			return tc.TableColumns(), tc.TableRow
		}
	}
	defs := []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."},
		{Name: "Age", Type: "string", Description: "Time since the object was created."},
	}
	return defs, func(o runtime.Object) []any {
		m, _ := meta.Accessor(o)
		created := m.GetCreationTimestamp()
		ageText := "<unknown>"
		if !created.IsZero() {
			ageText = duration.HumanDuration(time.Since(created.Time))
		}
		return []any{m.GetName(), ageText}
	}
}
