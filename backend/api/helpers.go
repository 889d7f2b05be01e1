package api

import (
	"encoding/json"
	"io"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func schemaGVK(apiVersion, kind string) schema.GroupVersionKind {
	gv, _ := schema.ParseGroupVersion(apiVersion)
	return gv.WithKind(kind)
}

func objectName(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetName()
}

// fieldsAnd adds key=value to a field selector.
func fieldsAnd(sel fields.Selector, key, value string) fields.Selector {
	one := fields.OneTermEqualSelector(key, value)
	if sel == nil || sel.Empty() {
		return one
	}
	return fields.AndSelectors(sel, one)
}

func jsonDecoder(r io.Reader) *json.Decoder { return json.NewDecoder(r) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
