package api

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/berthpaas/berth/backend/version"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/openapi"
	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"github.com/labstack/echo/v4"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// openAPIScheme knows the Go type of every kind Berth may serve: the
// Kubernetes kinds client-go knows, and Berth's own.
var openAPIScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, berthv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// The media type of /openapi/v2 as protobuf (gnostic's OpenAPIv2
// Document), and the spelling client-go asks for, which is no valid media
// type: kube-apiserver answers both with the first.
const (
	openAPIv2Protobuf   = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	openAPIv2ProtobufAt = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
)

// openAPIDocs are the documents of the served API, made once (the served
// resources do not change while the API runs).
type openAPIDocs struct {
	v2JSON, v2Proto []byte
	v2ETag          string
	// v3 are the OpenAPI 3 documents by path ("api/v1", "apis/berth.dev/v1")
	// and v3Hash their hashes, which the index puts in their URLs.
	v3     map[string][]byte
	v3Hash map[string]string
}

// buildOpenAPI describes every served resource: one OpenAPI 3 document
// per group version, one Swagger 2 document for all.
func (a *API) buildOpenAPI() (*openAPIDocs, error) {
	docs := &openAPIDocs{v3: map[string][]byte{}, v3Hash: map[string]string{}}
	v2 := openapi.NewBuilder(false, berthv1.SwaggerDocs)
	v2Paths := map[string]any{}
	for _, g := range a.groups {
		v3 := openapi.NewBuilder(true, berthv1.SwaggerDocs)
		v3Paths := map[string]any{}
		for _, name := range sortedNames(g.resources) {
			r := g.resources[name]
			addOperations(v3, v3Paths, g, r)
			addOperations(v2, v2Paths, g, r)
		}
		doc, err := json.Marshal(map[string]any{
			"openapi":    "3.0.0",
			"info":       map[string]string{"title": "Berth", "version": version.GitVersion()},
			"paths":      v3Paths,
			"components": map[string]any{"schemas": v3.Schemas()},
		})
		if err != nil {
			return nil, err
		}
		path := openAPIPath(g)
		sum := sha512.Sum512(doc)
		docs.v3[path], docs.v3Hash[path] = doc, strings.ToUpper(hex.EncodeToString(sum[:32]))
	}
	var err error
	docs.v2JSON, err = json.Marshal(map[string]any{
		"swagger":     "2.0",
		"info":        map[string]string{"title": "Berth", "version": version.GitVersion()},
		"paths":       v2Paths,
		"definitions": v2.Schemas(),
	})
	if err != nil {
		return nil, err
	}
	parsed, err := openapiv2.ParseDocument(docs.v2JSON)
	if err != nil {
		return nil, fmt.Errorf("openapi v2: %w", err)
	}
	if docs.v2Proto, err = proto.Marshal(parsed); err != nil {
		return nil, err
	}
	sum := sha512.Sum512(docs.v2JSON)
	docs.v2ETag = `"` + strings.ToUpper(hex.EncodeToString(sum[:32])) + `"`
	return docs, nil
}

// addOperations describes r's verbs under paths, with the schemas of its
// kind and list kind in b. Every writing operation takes fieldValidation:
// kubectl sees by it that the server validates fields itself.
func addOperations(b *openapi.Builder, paths map[string]any, g *apiGroup, r *resource) {
	gvk := schema.GroupVersionKind{Group: g.name, Version: g.version, Kind: r.kind}
	item, list := kindType(gvk), kindType(gvk.GroupVersion().WithKind(r.kind+"List"))
	if item == nil && list != nil {
		// A kind served only in lists (audit entries): its items' type.
		if f, ok := list.FieldByName("Items"); ok && f.Type.Kind() == reflect.Slice {
			item = f.Type.Elem()
		}
	}
	var itemRef, listRef *spec.Schema
	if item != nil {
		s := b.Ref(b.Kind(gvk, item))
		itemRef = &s
	}
	if list != nil {
		s := b.Ref(b.Kind(gvk.GroupVersion().WithKind(r.kind+"List"), list))
		listRef = &s
	}
	for _, sub := range r.subresources {
		if sub.gvk.Kind != "" {
			if t := kindType(sub.gvk); t != nil {
				b.Kind(sub.gvk, t)
			}
		}
	}

	prefix := "/" + openAPIPath(g)
	collection := prefix + "/" + r.name
	if r.namespaced {
		collection = prefix + "/namespaces/{namespace}/" + r.name
	}
	itemPath := collection + "/{name}"
	op := func(verb, action string, ref *spec.Schema) map[string]any {
		o := map[string]any{
			"operationId":                     verb + r.kind,
			"x-kubernetes-action":             action,
			"x-kubernetes-group-version-kind": map[string]string{"group": g.name, "version": g.version, "kind": r.kind},
			"parameters":                      []any{},
		}
		if action == "post" || action == "put" || action == "patch" {
			o["parameters"] = []any{fieldValidationParameter(b)}
		}
		resp := map[string]any{"description": "OK"}
		if ref != nil {
			if b.V3() {
				resp["content"] = map[string]any{"application/json": map[string]any{"schema": ref}}
			} else {
				resp["schema"] = ref
			}
		}
		o["responses"] = map[string]any{"200": resp}
		return o
	}
	items, collections := map[string]any{}, map[string]any{}
	for _, v := range r.discoveryVerbs() {
		switch v {
		case "get":
			items["get"] = op("read", "get", itemRef)
		case "update":
			items["put"] = op("replace", "put", itemRef)
		case "patch":
			items["patch"] = op("patch", "patch", itemRef)
		case "delete":
			items["delete"] = op("delete", "delete", nil)
		case "list":
			collections["get"] = op("list", "list", listRef)
		case "create":
			collections["post"] = op("create", "post", itemRef)
		}
	}
	if len(items) > 0 {
		paths[itemPath] = items
	}
	if len(collections) > 0 {
		paths[collection] = collections
	}
}

func fieldValidationParameter(b *openapi.Builder) map[string]any {
	p := map[string]any{
		"name": "fieldValidation", "in": "query", "uniqueItems": true,
		"description": "Strict (default), Warn or Ignore: what to do with unknown or duplicate fields.",
	}
	if b.V3() {
		p["schema"] = map[string]string{"type": "string"}
	} else {
		p["type"] = "string"
	}
	return p
}

// kindType is the Go type of a kind, nil when none is known.
func kindType(gvk schema.GroupVersionKind) reflect.Type {
	if t, ok := openAPIScheme.AllKnownTypes()[gvk]; ok {
		return t
	}
	return nil
}

// openAPIPath is a group version's path under /openapi/v3/.
func openAPIPath(g *apiGroup) string {
	if g.name == "" {
		return "api/" + g.version
	}
	return "apis/" + g.groupVersion()
}

// openAPIIndex lists the OpenAPI 3 documents, one per group version, with
// their hashes in their URLs as kube-apiserver does (clients cache them).
func (a *API) openAPIIndex(c echo.Context) error {
	docs, err := a.openAPI()
	if err != nil {
		return err
	}
	paths := map[string]any{}
	for path, hash := range docs.v3Hash {
		paths[path] = map[string]string{"serverRelativeURL": "/openapi/v3/" + path + "?hash=" + hash}
	}
	return writeJSON(c, http.StatusOK, map[string]any{"paths": paths})
}

// openAPIDocument serves one group version's OpenAPI 3 document.
func (a *API) openAPIDocument(c echo.Context) error {
	docs, err := a.openAPI()
	if err != nil {
		return err
	}
	path := strings.TrimPrefix(c.Request().URL.Path, "/openapi/v3/")
	doc, ok := docs.v3[path]
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, notFoundMessage)
	}
	if c.QueryParam("hash") == docs.v3Hash[path] {
		c.Response().Header().Set("Cache-Control", "public, immutable")
	}
	return serveDocument(c, `"`+docs.v3Hash[path]+`"`, "application/json", doc)
}

// openAPIv2 serves the Swagger 2 document, as protobuf to the clients
// that ask for it (client-go's discovery) and as JSON to others.
func (a *API) openAPIv2(c echo.Context) error {
	docs, err := a.openAPI()
	if err != nil {
		return err
	}
	accept := c.Request().Header.Get("Accept")
	if strings.Contains(accept, openAPIv2Protobuf) || strings.Contains(accept, openAPIv2ProtobufAt) {
		return serveDocument(c, docs.v2ETag, openAPIv2Protobuf, docs.v2Proto)
	}
	return serveDocument(c, docs.v2ETag, "application/json", docs.v2JSON)
}

// serveDocument answers 304 to a client that has this version already.
func serveDocument(c echo.Context, etag, contentType string, body []byte) error {
	h := c.Response().Header()
	h.Set("ETag", etag)
	h.Set("Vary", "Accept")
	if c.Request().Header.Get("If-None-Match") == etag {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, contentType, body)
}
