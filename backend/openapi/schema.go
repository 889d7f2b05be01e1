package openapi

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// DocSource gives the descriptions of a struct type: "" for the type and
// each field's JSON name for the field, as SwaggerDoc() does. It answers
// nil for types it does not know.
type DocSource func(t reflect.Type) map[string]string

// Builder collects the schemas of the kinds of one OpenAPI document.
type Builder struct {
	v3      bool
	docs    []DocSource
	schemas map[string]spec.Schema
	names   map[reflect.Type]string
}

// NewBuilder starts a document: OpenAPI 3 when v3 (references to
// #/components/schemas) or Swagger 2 (#/definitions). SwaggerDoc() is
// always read; docs are asked, in order, for types without it.
func NewBuilder(v3 bool, docs ...DocSource) *Builder {
	return &Builder{v3: v3, docs: docs, schemas: map[string]spec.Schema{}, names: map[reflect.Type]string{}}
}

// Kind adds the schema of a served kind, marked with its group, version
// and kind, and returns its name.
func (b *Builder) Kind(gvk schema.GroupVersionKind, t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := b.define(t)
	s := b.schemas[name]
	if s.Extensions == nil {
		s.Extensions = spec.Extensions{}
	}
	gvks, _ := s.Extensions["x-kubernetes-group-version-kind"].([]any)
	entry := map[string]any{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
	for _, e := range gvks {
		if reflect.DeepEqual(e, entry) {
			return name
		}
	}
	s.Extensions["x-kubernetes-group-version-kind"] = append(gvks, entry)
	b.schemas[name] = s
	return name
}

// V3 says whether the document is OpenAPI 3 (or Swagger 2).
func (b *Builder) V3() bool { return b.v3 }

// Schemas returns every schema defined so far, by name.
func (b *Builder) Schemas() map[string]spec.Schema { return b.schemas }

// Ref is the reference to a defined schema, in this document's form.
func (b *Builder) Ref(name string) spec.Schema {
	prefix := "#/definitions/"
	if b.v3 {
		prefix = "#/components/schemas/"
	}
	return spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef(prefix + name)}}
}

// Interfaces of types that say how they are serialised (apimachinery's
// Quantity, Time, MicroTime, Duration, IntOrString).
type (
	schemaTyped interface {
		OpenAPISchemaType() []string
		OpenAPISchemaFormat() string
	}
	oneOfTyped interface{ OpenAPIV3OneOfTypes() []string }
	modelNamed interface{ OpenAPIModelName() string }
)

var (
	timeType    = reflect.TypeFor[time.Time]()
	rawJSONType = reflect.TypeFor[json.RawMessage]()
)

// define makes sure the struct type t has a schema and returns its name.
func (b *Builder) define(t reflect.Type) string {
	if name, ok := b.names[t]; ok {
		return name
	}
	name := modelName(t)
	b.names[t] = name
	// Defined before its fields are, so that a type reaching itself
	// (directly or not) refers to its own name.
	b.schemas[name] = spec.Schema{}
	docs := b.docsOf(t)
	s := spec.Schema{SchemaProps: spec.SchemaProps{
		Type: spec.StringOrArray{"object"}, Description: docs[""], Properties: map[string]spec.Schema{},
	}}
	b.fields(t, docs, &s)
	sort.Strings(s.Required)
	if len(s.Properties) == 0 {
		s.Properties = nil
	}
	b.schemas[name] = s
	return name
}

// fields adds the JSON fields of the struct t to s, inlining embedded
// structs without a name of their own (TypeMeta).
func (b *Builder) fields(t reflect.Type, docs map[string]string, s *spec.Schema) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && (name == "" || strings.Contains(","+opts+",", ",inline,")) {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				b.fields(ft, mergeDocs(docs, b.docsOf(ft)), s)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		p := b.fieldSchema(f.Type)
		if d := docs[name]; d != "" {
			p.Description = d
		}
		if v := f.Tag.Get("patchStrategy"); v != "" {
			p.AddExtension("x-kubernetes-patch-strategy", v)
		}
		if v := f.Tag.Get("patchMergeKey"); v != "" {
			p.AddExtension("x-kubernetes-patch-merge-key", v)
		}
		s.Properties[name] = p
		optional := strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
		if !optional && f.Type.Kind() != reflect.Pointer {
			s.Required = append(s.Required, name)
		}
	}
}

// mergeDocs lets an embedding type's descriptions win over the embedded
// type's own.
func mergeDocs(outer, inner map[string]string) map[string]string {
	out := make(map[string]string, len(outer)+len(inner))
	for k, v := range inner {
		out[k] = v
	}
	for k, v := range outer {
		if k != "" {
			out[k] = v
		}
	}
	return out
}

// fieldSchema is the schema of a field or element of type t: a
// primitive inline, a struct by reference.
func (b *Builder) fieldSchema(t reflect.Type) spec.Schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := b.declared(t); ok {
		return s
	}
	switch t.Kind() {
	case reflect.Struct:
		ref := b.Ref(b.define(t))
		if !b.v3 {
			return ref
		}
		// OpenAPI 3 ignores the siblings of a $ref: kube-apiserver
		// wraps it so that a field's description stays.
		return spec.Schema{SchemaProps: spec.SchemaProps{AllOf: []spec.Schema{ref}, Default: map[string]any{}}}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return primitive("string", "byte")
		}
		items := b.fieldSchema(t.Elem())
		return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"array"}, Items: &spec.SchemaOrArray{Schema: &items}}}
	case reflect.Map:
		values := b.fieldSchema(t.Elem())
		return spec.Schema{SchemaProps: spec.SchemaProps{
			Type: spec.StringOrArray{"object"}, AdditionalProperties: &spec.SchemaOrBool{Allows: true, Schema: &values},
		}}
	case reflect.String:
		return primitive("string", "")
	case reflect.Bool:
		return primitive("boolean", "")
	case reflect.Int32, reflect.Int16, reflect.Int8, reflect.Uint16, reflect.Uint8:
		return primitive("integer", "int32")
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return primitive("integer", "int64")
	case reflect.Float32, reflect.Float64:
		return primitive("number", "double")
	}
	// interface{} and the like: anything.
	s := spec.Schema{}
	s.AddExtension("x-kubernetes-preserve-unknown-fields", true)
	return s
}

// declared is the schema of a type that says how it is serialised.
func (b *Builder) declared(t reflect.Type) (spec.Schema, bool) {
	switch t {
	case timeType:
		return primitive("string", "date-time"), true
	case rawJSONType:
		s := spec.Schema{}
		s.AddExtension("x-kubernetes-preserve-unknown-fields", true)
		return s, true
	}
	v := reflect.New(t).Interface()
	st, ok := v.(schemaTyped)
	if !ok {
		return spec.Schema{}, false
	}
	if o, ok := v.(oneOfTyped); ok && b.v3 {
		s := spec.Schema{}
		for _, typ := range o.OpenAPIV3OneOfTypes() {
			s.OneOf = append(s.OneOf, primitive(typ, ""))
		}
		if st.OpenAPISchemaFormat() == "int-or-string" {
			s.AddExtension("x-kubernetes-int-or-string", true)
		}
		return s, true
	}
	return spec.Schema{SchemaProps: spec.SchemaProps{Type: st.OpenAPISchemaType(), Format: st.OpenAPISchemaFormat()}}, true
}

func primitive(typ, format string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{typ}, Format: format}}
}

// docsOf asks the type, then each DocSource, for its descriptions.
func (b *Builder) docsOf(t reflect.Type) map[string]string {
	if d, ok := reflect.New(t).Elem().Interface().(interface{ SwaggerDoc() map[string]string }); ok {
		return d.SwaggerDoc()
	}
	for _, src := range b.docs {
		if d := src(t); d != nil {
			return d
		}
	}
	return nil
}

// modelName is the name of t's schema: its OpenAPIModelName(), or its
// package path with the domain turned around, as kube-openapi names
// definitions (github.com/x/y.T is com.github.x.y.T).
func modelName(t reflect.Type) string {
	if m, ok := reflect.New(t).Interface().(modelNamed); ok {
		return m.OpenAPIModelName()
	}
	parts := strings.Split(t.PkgPath(), "/")
	if host := strings.Split(parts[0], "."); len(host) > 1 {
		for i, j := 0, len(host)-1; i < j; i, j = i+1, j-1 {
			host[i], host[j] = host[j], host[i]
		}
		parts[0] = strings.Join(host, ".")
	}
	return strings.ReplaceAll(strings.Join(parts, "."), "-", "_") + "." + t.Name()
}
