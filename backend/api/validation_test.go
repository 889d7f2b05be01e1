package api_test

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestBadInput sends bodies that must be refused and checks the status,
// the fields the Status names, and that nothing stored changed.
func TestBadInput(t *testing.T) {
	env := testenv.Start(t)
	tok := env.AdminToken
	createNamespace(t, env, tok, "demo")
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods", tok, pod("keep", nil)), http.StatusCreated)
	before := env.Do(t, "GET", "/api/v1/namespaces/demo/pods/keep", tok, nil).Body

	const podsPath = "/api/v1/namespaces/demo/pods"
	const rcsPath = "/api/v1/namespaces/demo/replicationcontrollers"
	tests := []struct {
		name, method, path, contentType, body string
		code                                  int
		fields                                []string
	}{
		{name: "malformed json", method: "POST", path: podsPath, body: `{"metadata": {"name": "x"`, code: 400},
		{name: "malformed yaml", method: "POST", path: podsPath, contentType: "application/yaml", body: "metadata:\n  name: [x\n", code: 400},
		{name: "wrong type", method: "POST", path: podsPath, body: `{"metadata":{"name":"x"},"spec":{"containers":{}}}`, code: 400},
		{name: "unknown field", method: "POST", path: podsPath, body: `{"metadata":{"name":"x"},"spec":{"containers":[{"name":"c","image":"i","imagee":"j"}]}}`, code: 400,
			fields: []string{"spec.containers[0].imagee"}},
		{name: "duplicate field", method: "POST", path: podsPath, body: `{"metadata":{"name":"x","name":"y"},"spec":{"containers":[{"name":"c","image":"i"}]}}`, code: 400,
			fields: []string{"metadata.name"}},
		{name: "invalid name", method: "POST", path: podsPath, body: `{"metadata":{"name":"Not_A_Name"},"spec":{"containers":[{"name":"c","image":"i"}]}}`, code: 422,
			fields: []string{"metadata.name"}},
		{name: "invalid label", method: "POST", path: podsPath, body: `{"metadata":{"name":"x","labels":{"bad key":"v"}},"spec":{"containers":[{"name":"c","image":"i"}]}}`, code: 422,
			fields: []string{"metadata.labels"}},
		{name: "no containers", method: "POST", path: podsPath, body: `{"metadata":{"name":"x"},"spec":{"containers":[]}}`, code: 422,
			fields: []string{"spec.containers"}},
		{name: "no image and a port out of range", method: "POST", path: podsPath, body: `{"metadata":{"name":"x"},"spec":{"containers":[{"name":"c","ports":[{"containerPort":70000}]}]}}`, code: 422,
			fields: []string{"spec.containers[0].image", "spec.containers[0].ports[0].containerPort"}},
		{name: "yaml body with a bad host port", method: "POST", path: podsPath, contentType: "application/yaml",
			body: "metadata:\n  name: x\nspec:\n  containers:\n  - name: c\n    image: i\n    ports:\n    - containerPort: 80\n      hostPort: 99999\n", code: 422,
			fields: []string{"spec.containers[0].ports[0].hostPort"}},
		{name: "rc selector does not match template", method: "POST", path: rcsPath,
			body: `{"metadata":{"name":"rc"},"spec":{"replicas":2,"selector":{"app":"a"},"template":{"metadata":{"labels":{"app":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`, code: 422,
			fields: []string{"spec.template.metadata.labels"}},
		{name: "namespace mismatch", method: "POST", path: podsPath, body: `{"metadata":{"name":"x","namespace":"other"},"spec":{"containers":[{"name":"c","image":"i"}]}}`, code: 422,
			fields: []string{"metadata.namespace"}},
		{name: "wrong kind", method: "POST", path: podsPath, body: `{"kind":"Service","apiVersion":"v1","metadata":{"name":"x"}}`, code: 400},
		{name: "body over 3 MiB", method: "POST", path: podsPath, body: `{"metadata":{"name":"x","annotations":{"a":"` + strings.Repeat("x", 3<<20) + `"}}}`, code: 413},
		{name: "update with an invalid image", method: "PUT", path: podsPath + "/keep", body: `{"metadata":{"name":"keep"},"spec":{"containers":[{"name":"web","image":""}]}}`, code: 422,
			fields: []string{"spec.containers[0].image"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := []string{}
			if tt.contentType != "" {
				ct = append(ct, tt.contentType)
			}
			resp := env.Do(t, tt.method, tt.path, tok, tt.body, ct...)
			mustCode(t, resp, tt.code)
			var status metav1.Status
			resp.JSON(t, &status)
			if status.Kind != "Status" || status.Status != metav1.StatusFailure || int(status.Code) != tt.code {
				t.Fatalf("not a failure Status: %s", resp.Body)
			}
			if len(tt.fields) == 0 {
				return
			}
			var got []string
			if status.Details != nil {
				for _, c := range status.Details.Causes {
					got = append(got, c.Field)
				}
			}
			sort.Strings(got)
			for _, f := range tt.fields {
				if i := sort.SearchStrings(got, f); i == len(got) || got[i] != f {
					t.Errorf("causes name %q, want %q among them (%s)", got, f, status.Message)
				}
			}
		})
	}

	var list v1.PodList
	env.Do(t, "GET", podsPath, tok, nil).JSON(t, &list)
	if len(list.Items) != 1 {
		t.Errorf("%d pods stored after rejected requests, want 1", len(list.Items))
	}
	if after := env.Do(t, "GET", podsPath+"/keep", tok, nil).Body; string(after) != string(before) {
		t.Errorf("a rejected update changed the pod:\nbefore %s\nafter  %s", before, after)
	}
}

func TestFieldValidationModes(t *testing.T) {
	env := testenv.Start(t)
	tok := env.AdminToken
	createNamespace(t, env, tok, "demo")
	body := `{"metadata":{"name":"%s"},"spec":{"containers":[{"name":"c","image":"i"}],"extra":true}}`
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods?fieldValidation=Strict", tok, strings.Replace(body, "%s", "a", 1)), 400)
	resp := env.Do(t, "POST", "/api/v1/namespaces/demo/pods?fieldValidation=Warn", tok, strings.Replace(body, "%s", "b", 1))
	mustCode(t, resp, 201)
	if w := resp.Header.Get("Warning"); !strings.Contains(w, "spec.extra") {
		t.Errorf("Warning header %q does not name spec.extra", w)
	}
	mustCode(t, env.Do(t, "POST", "/api/v1/namespaces/demo/pods?fieldValidation=Ignore", tok, strings.Replace(body, "%s", "c", 1)), 201)
}
