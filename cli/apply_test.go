package cli_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/client"
	"github.com/berthpaas/berth/client/clienttest"
)

const webYAML = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
  - name: web
    image: echo:1
---
# a comment-only document is skipped
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
`

func TestApplyCreatesThenConfigures(t *testing.T) {
	f := newFixture(t)
	file := writeFile(t, webYAML)

	if out := mustRun(t, "", "apply", "-f", file); out != "pod/web created\nservice/web created\n" {
		t.Errorf("first apply = %q", out)
	}
	if out := mustRun(t, "", "apply", "-f", file); out != "pod/web unchanged\nservice/web unchanged\n" {
		t.Errorf("second apply = %q", out)
	}
	if got := f.srv.Writes(); len(got) != 2 {
		t.Errorf("writes = %q, want only the two creates", got)
	}

	current := f.srv.Object(client.Pods, "dev", "web")
	wantRV := current["metadata"].(map[string]any)["resourceVersion"]
	changed := strings.Replace(webYAML, "image: echo:1", "image: echo:2", 1)
	if out := mustRun(t, changed, "apply", "-f", "-"); out != "pod/web configured\nservice/web unchanged\n" {
		t.Errorf("apply of a change = %q", out)
	}
	put := lastRequest(t, f.srv, http.MethodPut)
	if put.Path != "/api/v1/namespaces/dev/pods/web" {
		t.Errorf("PUT path = %q", put.Path)
	}
	var sent map[string]any
	if err := json.Unmarshal(put.Body, &sent); err != nil {
		t.Fatal(err)
	}
	if rv := sent["metadata"].(map[string]any)["resourceVersion"]; rv != wantRV {
		t.Errorf("PUT resourceVersion = %v, want the current %v", rv, wantRV)
	}
	image := f.srv.Object(client.Pods, "dev", "web")["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"]
	if image != "echo:2" {
		t.Errorf("stored image = %v", image)
	}
}

func TestApplyKeepsServerFields(t *testing.T) {
	f := newFixture(t)
	f.srv.Seed(client.Pods, "dev", clienttest.Object{
		"metadata": map[string]any{"name": "web", "uid": "u1"},
		"spec": map[string]any{
			"nodeName": "node-1",
			"containers": []any{
				map[string]any{"name": "web", "image": "echo:1", "imagePullPolicy": "IfNotPresent"},
				map[string]any{"name": "sidecar", "image": "log:1"},
			},
		},
		"status": map[string]any{"phase": "Running"},
	})
	manifest := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"echo:2"}]},"status":{"phase":"Pending"}}`
	if out := mustRun(t, manifest, "apply", "-f", "-"); out != "pod/web configured\n" {
		t.Fatalf("apply = %q", out)
	}
	var sent map[string]any
	if err := json.Unmarshal(lastRequest(t, f.srv, http.MethodPut).Body, &sent); err != nil {
		t.Fatal(err)
	}
	spec := sent["spec"].(map[string]any)
	wantContainers := []any{map[string]any{"name": "web", "image": "echo:2", "imagePullPolicy": "IfNotPresent"}}
	if spec["nodeName"] != "node-1" || !reflect.DeepEqual(spec["containers"], wantContainers) {
		t.Errorf("PUT spec = %v", spec)
	}
	if phase := sent["status"].(map[string]any)["phase"]; phase != "Running" {
		t.Errorf("PUT status.phase = %v: apply must not set status", phase)
	}
	if uid := sent["metadata"].(map[string]any)["uid"]; uid != "u1" {
		t.Errorf("PUT metadata.uid = %v", uid)
	}
}

func TestApplyList(t *testing.T) {
	f := newFixture(t)
	list := `{"apiVersion":"v1","kind":"List","items":[
	  {"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}},
	  {"apiVersion":"v1","kind":"Pod","metadata":{"name":"b","namespace":"other"}},
	  {"apiVersion":"berth.dev/v1","kind":"Project","metadata":{"name":"p"}}]}`
	if out := mustRun(t, list, "apply", "-f", "-"); out != "pod/a created\npod/b created\nproject/p created\n" {
		t.Errorf("apply = %q", out)
	}
	if f.srv.Object(client.Pods, "dev", "a") == nil || f.srv.Object(client.Pods, "other", "b") == nil {
		t.Error("pods not stored in their namespaces")
	}
}

func TestApplyErrors(t *testing.T) {
	f := newFixture(t)
	f.srv.Reject = func(res client.Resource, obj clienttest.Object) *metav1.Status {
		if obj["spec"] != nil {
			return nil
		}
		return &metav1.Status{
			TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status:   metav1.StatusFailure, Code: 422, Reason: metav1.StatusReasonInvalid,
			Message: `Pod "bad" is invalid: [spec.containers[0].image: Required value, spec.containers[0].name: Required value]`,
			Details: &metav1.StatusDetails{Name: "bad", Kind: "Pod", Causes: []metav1.StatusCause{
				{Type: metav1.CauseTypeFieldValueRequired, Field: "spec.containers[0].image", Message: "Required value"},
				{Type: metav1.CauseTypeFieldValueRequired, Field: "spec.containers[0].name", Message: "Required value"},
			}},
		}
	}
	manifests := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad"}}
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"good"},"spec":{}}`
	out, _, err := run(t, manifests, "apply", "-f", "-")
	if out != "pod/good created\n" {
		t.Errorf("output = %q: the valid object should still be applied", out)
	}
	want := "pod/bad: Pod \"bad\" is invalid:\n  * spec.containers[0].image: Required value\n  * spec.containers[0].name: Required value"
	if err == nil || err.Error() != want {
		t.Errorf("error =\n%v\nwant\n%s", err, want)
	}

	tests := []struct {
		name, stdin string
		args        []string
		wantErr     string
	}{
		{"no kind", `{"metadata":{"name":"x"}}`, []string{"apply", "-f", "-"}, "apiVersion and kind are required"},
		{"unknown kind", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n", []string{"apply", "-f", "-"}, `no kind "Deployment"`},
		{"no name", "apiVersion: v1\nkind: Pod\n", []string{"apply", "-f", "-"}, "without metadata.name"},
		{"namespace mismatch", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  namespace: a\n", []string{"apply", "-f", "-", "-n", "b"}, `namespace "a", but --namespace says "b"`},
		{"no file", "", []string{"apply"}, "no file"},
		{"empty", "", []string{"apply", "-f", "-"}, "no objects"},
		{"missing file", "", []string{"apply", "-f", "/nonexistent.yaml"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, tt.stdin, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	f := newFixture(t)
	file := writeFile(t, webYAML)
	if out := mustRun(t, "", "create", "-f", file); out != "pod/web created\nservice/web created\n" {
		t.Errorf("create = %q", out)
	}
	_, _, err := run(t, "", "create", "-f", file)
	if !apierrors.IsAlreadyExists(err) || !strings.Contains(err.Error(), `pod/web: pods "web" already exists`) {
		t.Errorf("second create error = %v", err)
	}
	if f.srv.Object(client.Services, "dev", "web") == nil {
		t.Error("service not stored")
	}
}

func TestDelete(t *testing.T) {
	f := newFixture(t)
	seedPods(f)
	if out := mustRun(t, "", "delete", "pod", "web", "db-primary"); out != "pod \"web\" deleted\npod \"db-primary\" deleted\n" {
		t.Errorf("delete = %q", out)
	}
	if out := mustRun(t, "", "delete", "po", "cache", "-n", "other"); out != "pod \"cache\" deleted\n" {
		t.Errorf("delete -n = %q", out)
	}
	_, _, err := run(t, "", "delete", "pod", "web")
	if !apierrors.IsNotFound(err) {
		t.Errorf("delete of a missing pod error = %v", err)
	}
	mustRun(t, "", "delete", "pod", "web", "--ignore-not-found")

	file := writeFile(t, webYAML)
	mustRun(t, "", "create", "-f", file)
	if out := mustRun(t, "", "delete", "-f", file); out != "pod \"web\" deleted\nservice \"web\" deleted\n" {
		t.Errorf("delete -f = %q", out)
	}
	if _, _, err := run(t, "", "delete", "pod"); err == nil {
		t.Error("delete without a name succeeded")
	}
}

func lastRequest(t *testing.T, srv *clienttest.Server, method string) clienttest.Request {
	t.Helper()
	reqs := srv.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == method {
			return reqs[i]
		}
	}
	t.Fatalf("no %s request", method)
	return clienttest.Request{}
}
