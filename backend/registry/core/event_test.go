package core

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func validEvent() *v1.Event {
	return &v1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-1.17a8b2c3d4e5f6a7", Namespace: "shop"},
		InvolvedObject: v1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "web-1", UID: "uid-1"},
		Reason:         "Scheduled",
		Message:        "Successfully assigned shop/web-1 to node-1",
		Type:           v1.EventTypeNormal,
		Source:         v1.EventSource{Component: "default-scheduler"},
	}
}

func TestEventValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*v1.Event)
		want   []string
	}{
		{"valid", func(*v1.Event) {}, nil},
		{"about a cluster-scoped object", func(e *v1.Event) { e.InvolvedObject = v1.ObjectReference{Kind: "Node", Name: "node-1"} }, nil},
		{"missing namespace", func(e *v1.Event) { e.Namespace = ""; e.InvolvedObject.Namespace = "" }, []string{"metadata.namespace"}},
		{"involved object in another namespace", func(e *v1.Event) { e.InvolvedObject.Namespace = "other" }, []string{"involvedObject.namespace"}},
		{"unsupported type", func(e *v1.Event) { e.Type = "Error" }, []string{"type"}},
		{"reason too long", func(e *v1.Event) { e.Reason = strings.Repeat("r", MaxEventReasonLength+1) }, []string{"reason"}},
		{"message too long", func(e *v1.Event) { e.Message = strings.Repeat("m", MaxEventMessageLength+1) }, []string{"message"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			event := validEvent()
			tt.mutate(event)
			EventStrategy{}.PrepareForCreate(event)
			assertPaths(t, EventStrategy{}.Validate(event), tt.want...)
		})
	}
}

func TestEventUpdate(t *testing.T) {
	old := validEvent()
	old.ResourceVersion, old.UID = "4", "uid-e"
	event := old.DeepCopy()
	event.UID = ""
	event.Count = 2
	EventStrategy{}.PrepareForUpdate(event, old)
	assertPaths(t, EventStrategy{}.ValidateUpdate(event, old))
}

// kubectl describe finds an object's events with these selectors.
func TestEventFields(t *testing.T) {
	got := EventStrategy{}.Fields(validEvent())
	want := map[string]string{
		"metadata.namespace":       "shop",
		"involvedObject.kind":      "Pod",
		"involvedObject.namespace": "shop",
		"involvedObject.name":      "web-1",
		"involvedObject.uid":       "uid-1",
		"reason":                   "Scheduled",
		"source":                   "default-scheduler",
		"type":                     "Normal",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Fields()[%q] = %q, want %q", k, got[k], v)
		}
	}
}
