package clientgo

import (
	"encoding/json"
	"net/http"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berthpaas/berth/backend/testenv"
	"k8s.io/client-go/openapi3"
)

// client-go reads the served kinds' schemas: OpenAPI 3 per group version
// (with each kind found by its group, version and kind, as kubectl
// explain finds it) and the Swagger 2 document as protobuf. Both carry
// the real schemas of k8s.io/api and Berth's own types; a client that has
// a document already is answered 304; strangers get nothing.
func TestOpenAPI(t *testing.T) {
	env := testenv.Start(t)
	cs := clientset(t, env, env.AdminToken)

	root := openapi3.NewRoot(cs.Discovery().OpenAPIV3())
	for _, tt := range []struct {
		gv, schema, property string
	}{
		{"v1", "io.k8s.api.core.v1.Pod", "spec"},
		{"v1", "io.k8s.api.core.v1.ReplicationControllerList", "items"},
		{"coordination.k8s.io/v1", "io.k8s.api.coordination.v1.Lease", "spec"},
		{"berth.dev/v1", "com.github.berthpaas.berth.backend.apis.berth.v1.Project", "spec"},
	} {
		gv, err := schema.ParseGroupVersion(tt.gv)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := root.GVSpec(gv)
		if err != nil {
			t.Fatalf("%s: %v", tt.gv, err)
		}
		s, ok := doc.Components.Schemas[tt.schema]
		if !ok {
			t.Fatalf("%s: no schema %s", tt.gv, tt.schema)
		}
		if _, ok := s.Properties[tt.property]; !ok || s.Extensions["x-kubernetes-group-version-kind"] == nil {
			t.Errorf("%s: %s has no %s or no group-version-kind: %+v", tt.gv, tt.schema, tt.property, s)
		}
	}

	v2, err := cs.Discovery().OpenAPISchema()
	if err != nil {
		t.Fatalf("openapi v2 (protobuf): %v", err)
	}
	found := false
	for _, d := range v2.GetDefinitions().GetAdditionalProperties() {
		if d.GetName() == "io.k8s.api.core.v1.PodSpec" {
			found = len(d.GetValue().GetProperties().GetAdditionalProperties()) > 20
		}
	}
	if !found {
		t.Error("openapi v2 has no PodSpec with its properties")
	}

	resp := env.Do(t, http.MethodGet, "/openapi/v2", env.AdminToken, nil)
	var swagger struct {
		Swagger     string                     `json:"swagger"`
		Definitions map[string]json.RawMessage `json:"definitions"`
	}
	resp.JSON(t, &swagger)
	if swagger.Swagger != "2.0" || swagger.Definitions["io.k8s.api.core.v1.Pod"] == nil {
		t.Errorf("openapi v2 as JSON: swagger %q, %d definitions", swagger.Swagger, len(swagger.Definitions))
	}
	etag := resp.Header.Get("ETag")
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/openapi/v2", nil)
	req.Header.Set("Authorization", "Bearer "+env.AdminToken)
	req.Header.Set("If-None-Match", etag)
	again, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if etag == "" || again.StatusCode != http.StatusNotModified {
		t.Errorf("openapi v2 with If-None-Match %q: %d, want 304", etag, again.StatusCode)
	}

	for _, path := range []string{"/openapi/v2", "/openapi/v3", "/openapi/v3/api/v1"} {
		if resp := env.Do(t, http.MethodGet, path, "", nil); resp.Code != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %d, want 401", path, resp.Code)
		}
	}
}
