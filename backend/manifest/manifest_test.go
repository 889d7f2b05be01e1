package manifest

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		wantProblems            []string
		wantMalformed           bool
		wantImage               string
	}{
		{name: "json", contentType: "application/json", body: `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`, wantImage: "nginx"},
		{name: "yaml", contentType: "application/yaml", body: "metadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    image: busybox\n", wantImage: "busybox"},
		{name: "yaml sniffed", body: "metadata: {name: web}\nspec: {containers: [{name: c, image: x}]}\n", wantImage: "x"},
		{name: "unknown field", contentType: "application/json", body: `{"metadata":{"name":"web"},"spec":{"containerz":[]}}`, wantProblems: []string{`unknown field "spec.containerz"`}},
		{name: "duplicate json field", contentType: "application/json", body: `{"metadata":{"name":"a","name":"b"}}`, wantProblems: []string{`duplicate field "metadata.name"`}},
		{name: "duplicate yaml key", contentType: "application/yaml", body: "metadata:\n  name: a\n  name: b\n", wantProblems: []string{`yaml: unmarshal errors:
  line 3: key "name" already set in map`}},
		{name: "malformed json", contentType: "application/json", body: `{"metadata":`, wantMalformed: true},
		{name: "malformed yaml", contentType: "application/yaml", body: "metadata: [\n", wantMalformed: true},
		{name: "wrong type", contentType: "application/json", body: `{"spec":{"containers":"x"}}`, wantMalformed: true},
		{name: "not an object", contentType: "application/json", body: `[1,2]`, wantMalformed: true},
		{name: "empty", contentType: "application/json", body: ` `, wantMalformed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pod v1.Pod
			problems, err := Decode([]byte(tt.body), tt.contentType, &pod)
			if tt.wantMalformed {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(problems, tt.wantProblems) {
				t.Errorf("problems = %q, want %q", problems, tt.wantProblems)
			}
			if tt.wantImage != "" && pod.Spec.Containers[0].Image != tt.wantImage {
				t.Errorf("image = %q", pod.Spec.Containers[0].Image)
			}
		})
	}
}

// FuzzDecode checks that no body makes the decoder panic, and that what
// decodes cleanly survives a round trip unchanged.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"metadata":{"name":"web"},"spec":{"containers":[{"name":"c","image":"nginx","ports":[{"containerPort":80}]}]}}`), "application/json")
	f.Add([]byte("metadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    image: busybox\n"), "application/yaml")
	f.Add([]byte(`{"spec":{"containers":"x"}}`), "")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		var pod v1.Pod
		problems, err := Decode(body, contentType, &pod)
		if err != nil || len(problems) > 0 {
			return
		}
		encoded, err := json.Marshal(&pod)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var again v1.Pod
		if problems, err := Decode(encoded, "application/json", &again); err != nil || len(problems) > 0 {
			t.Fatalf("round trip of %s: %v %v", encoded, err, problems)
		}
		if !reflect.DeepEqual(normalize(t, &pod), normalize(t, &again)) {
			t.Fatalf("round trip changed the pod:\n%s", encoded)
		}
	})
}

func normalize(t *testing.T, pod *v1.Pod) map[string]any {
	data, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
