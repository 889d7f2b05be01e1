package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// goodSession is the only session the fake API accepts.
const goodSession = "good-session"

// fakeAPI is a hand-written stand-in for Berth's API: the session watch
// (whoami?watch=1), and watches of a few paths.
//
//	/apis/berth.dev/v1/whoami?watch=1 the session: ADDED, then open until
//	                                  endSession
//	/api/v1/namespaces/demo/pods      history of pod events, then live ones
//	                                  (append); 410 below compactedBelow
//	/api/v1/namespaces/demo/services  two events, then the stream ends
//	/api/v1/namespaces/demo/events    one event, then an ERROR event (410)
//	/api/v1/namespaces/other/pods     403
type fakeAPI struct {
	compactedBelow int

	mu       sync.Mutex // guards events, changed and requests
	events   []fakeEvent
	changed  chan struct{} // closed and replaced by append
	requests []*http.Request

	live  atomic.Int64 // watch handlers running
	holds atomic.Int64 // session watches running

	endOnce    sync.Once
	sessionEnd chan struct{} // closed by endSession: the session is revoked
	holdsOnce  sync.Once
	holdsEnd   chan struct{} // closed by endHolds: the session watches end, the session lives
}

type fakeEvent struct {
	Type   string         `json:"type"`
	Object map[string]any `json:"object"`
}

func newFakeAPI() *fakeAPI {
	f := &fakeAPI{changed: make(chan struct{}), sessionEnd: make(chan struct{}), holdsEnd: make(chan struct{})}
	for i := 1; i <= 3; i++ {
		f.append("ADDED", fmt.Sprintf("web-%d", i))
	}
	return f
}

// append records a pod event; its resourceVersion is its position.
func (f *fakeAPI) append(typ, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rv := strconv.Itoa(len(f.events) + 1)
	f.events = append(f.events, fakeEvent{Type: typ, Object: pod(name, rv)})
	close(f.changed)
	f.changed = make(chan struct{})
}

func pod(name, rv string) map[string]any {
	return map[string]any{"kind": "Pod", "apiVersion": "v1",
		"metadata": map[string]any{"name": name, "namespace": "demo", "resourceVersion": rv}}
}

// watchRequests returns the watch requests received so far.
func (f *fakeAPI) watchRequests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.requests...)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err != nil || ck.Value != goodSession || f.sessionEnded() {
		writeFakeStatus(w, newStatus(http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "invalid, expired or revoked credentials"))
		return
	}
	if r.URL.Path+"?"+r.URL.RawQuery == holdPath {
		f.holdSession(w, r)
		return
	}
	if r.URL.Query().Get("watch") != "1" {
		writeFakeStatus(w, newStatus(http.StatusNotFound, metav1.StatusReasonNotFound, "the fake serves watches only"))
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, r)
	f.mu.Unlock()
	f.live.Add(1)
	defer f.live.Add(-1)
	switch r.URL.Path {
	case "/api/v1/namespaces/demo/pods":
		f.watchPods(w, r)
	case "/api/v1/namespaces/demo/services":
		stream(w, fakeEvent{"ADDED", map[string]any{"kind": "Service", "metadata": map[string]any{"name": "a"}}},
			fakeEvent{"ADDED", map[string]any{"kind": "Service", "metadata": map[string]any{"name": "b"}}})
	case "/api/v1/namespaces/demo/events":
		gone, _ := json.Marshal(newStatus(http.StatusGone, metav1.StatusReasonExpired, "too old resource version"))
		var status map[string]any
		json.Unmarshal(gone, &status)
		stream(w, fakeEvent{"ADDED", map[string]any{"kind": "Event", "metadata": map[string]any{"name": "e"}}},
			fakeEvent{"ERROR", status})
	case "/api/v1/namespaces/other/pods":
		writeFakeStatus(w, newStatus(http.StatusForbidden, metav1.StatusReasonForbidden, `pods is forbidden: user "alice" cannot watch in project "other"`))
	default:
		writeFakeStatus(w, newStatus(http.StatusNotFound, metav1.StatusReasonNotFound, "not found"))
	}
}

// holdSession answers the session watch: the caller, then nothing until
// the request or the session ends.
func (f *fakeAPI) holdSession(w http.ResponseWriter, r *http.Request) {
	f.holds.Add(1)
	defer f.holds.Add(-1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintln(w, `{"type":"ADDED","object":{"kind":"WhoAmI","apiVersion":"berth.dev/v1","username":"alice"}}`)
	w.(http.Flusher).Flush()
	select {
	case <-r.Context().Done():
	case <-f.sessionEnd:
	case <-f.holdsEnd:
	}
}

func (f *fakeAPI) sessionEnded() bool {
	select {
	case <-f.sessionEnd:
		return true
	default:
		return false
	}
}

// endHolds ends the session watches as a stopping server does, the
// session still valid.
func (f *fakeAPI) endHolds() {
	f.holdsOnce.Do(func() { close(f.holdsEnd) })
}

// endSession ends the session as a logout would: the session watches
// end, and the API answers 401 from then on.
func (f *fakeAPI) endSession() {
	f.endOnce.Do(func() { close(f.sessionEnd) })
}

// watchPods streams the pod events after the requested version, then the
// new ones as they are appended, until the request ends.
func (f *fakeAPI) watchPods(w http.ResponseWriter, r *http.Request) {
	from := 0
	if s := r.URL.Query().Get("resourceVersion"); s != "" {
		from, _ = strconv.Atoi(s)
		if from < f.compactedBelow {
			writeFakeStatus(w, newStatus(http.StatusGone, metav1.StatusReasonExpired, "too old resource version"))
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	next := from
	for {
		f.mu.Lock()
		pending := append([]fakeEvent(nil), f.events[min(next, len(f.events)):]...)
		next = len(f.events)
		changed := f.changed
		f.mu.Unlock()
		for _, ev := range pending {
			if err := enc.Encode(ev); err != nil {
				return
			}
		}
		w.(http.Flusher).Flush()
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}

func stream(w http.ResponseWriter, events ...fakeEvent) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	for _, ev := range events {
		enc.Encode(ev)
	}
}

func writeFakeStatus(w http.ResponseWriter, st *metav1.Status) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	json.NewEncoder(w).Encode(st)
}
