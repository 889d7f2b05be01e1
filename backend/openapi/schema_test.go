package openapi

import (
	"encoding/json"
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// recursive reaches itself, as some API types do.
type recursive struct {
	Name     string      `json:"name"`
	Children []recursive `json:"children,omitempty"`
	Parent   *recursive  `json:"parent,omitempty"`
	Raw      any         `json:"raw,omitempty"`
	Hidden   string      `json:"-"`
}

func TestSchemas(t *testing.T) {
	pod := schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	tests := []struct {
		name string
		v3   bool
		// path of keys into the JSON of the named schema, and the value
		// expected there.
		schema string
		path   []string
		want   any
	}{
		{"kind marked", true, "io.k8s.api.core.v1.Pod", []string{"x-kubernetes-group-version-kind"},
			[]any{map[string]any{"group": "", "version": "v1", "kind": "Pod"}}},
		{"TypeMeta inlined", true, "io.k8s.api.core.v1.Pod", []string{"properties", "kind", "type"}, "string"},
		{"struct field by reference, v3", true, "io.k8s.api.core.v1.Pod", []string{"properties", "spec", "allOf"},
			[]any{map[string]any{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}}},
		{"struct field by reference, v2", false, "io.k8s.api.core.v1.Pod", []string{"properties", "spec", "$ref"},
			"#/definitions/io.k8s.api.core.v1.PodSpec"},
		{"field description from SwaggerDoc", true, "io.k8s.api.core.v1.PodSpec", []string{"properties", "restartPolicy", "description"},
			v1.PodSpec{}.SwaggerDoc()["restartPolicy"]},
		{"required without omitempty", true, "io.k8s.api.core.v1.PodSpec", []string{"required"}, []any{"containers"}},
		{"patch merge key", true, "io.k8s.api.core.v1.PodSpec", []string{"properties", "containers", "x-kubernetes-patch-merge-key"}, "name"},
		{"patch strategy", true, "io.k8s.api.core.v1.PodSpec", []string{"properties", "containers", "x-kubernetes-patch-strategy"}, "merge"},
		{"time as a string", true, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", []string{"properties", "creationTimestamp", "format"}, "date-time"},
		{"quantity one of, v3", true, "io.k8s.api.core.v1.ResourceRequirements", []string{"properties", "limits", "additionalProperties", "oneOf"},
			[]any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}},
		{"quantity a string, v2", false, "io.k8s.api.core.v1.ResourceRequirements", []string{"properties", "limits", "additionalProperties", "type"}, "string"},
		{"int or string", true, "io.k8s.api.core.v1.HTTPGetAction", []string{"properties", "port", "x-kubernetes-int-or-string"}, true},
		{"bytes", true, "io.k8s.api.core.v1.ConfigMap", []string{"properties", "binaryData", "additionalProperties", "format"}, "byte"},
		{"int32", true, "io.k8s.api.core.v1.ContainerPort", []string{"properties", "containerPort", "format"}, "int32"},
		{"recursion by reference", true, "com.github.berthpaas.berth.backend.openapi.recursive", []string{"properties", "parent", "allOf"},
			[]any{map[string]any{"$ref": "#/components/schemas/com.github.berthpaas.berth.backend.openapi.recursive"}}},
		{"json:\"-\" left out", true, "com.github.berthpaas.berth.backend.openapi.recursive", []string{"properties", "Hidden"}, nil},
		{"anything", true, "com.github.berthpaas.berth.backend.openapi.recursive", []string{"properties", "raw", "x-kubernetes-preserve-unknown-fields"}, true},
		{"doc source", true, "com.github.berthpaas.berth.backend.openapi.recursive", []string{"properties", "name", "description"}, "its name"},
	}
	docs := func(t reflect.Type) map[string]string {
		if t == reflect.TypeFor[recursive]() {
			return map[string]string{"name": "its name"}
		}
		return nil
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder(tt.v3, docs)
			b.Kind(pod, reflect.TypeFor[v1.Pod]())
			b.Kind(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, reflect.TypeFor[*v1.ConfigMap]())
			b.Kind(schema.GroupVersionKind{Version: "v1", Kind: "R"}, reflect.TypeFor[recursive]())
			s, ok := b.Schemas()[tt.schema]
			if !ok {
				t.Fatalf("no schema %s", tt.schema)
			}
			data, _ := json.Marshal(s)
			var got any
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			for _, k := range tt.path {
				m, _ := got.(map[string]any)
				got = m[k]
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%v = %#v, want %#v", tt.path, got, tt.want)
			}
		})
	}
}
