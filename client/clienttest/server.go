// Package clienttest is an in-memory fake of the Berth API server for unit
// tests of the client and the CLI. It keeps objects as JSON maps, bumps a
// resourceVersion on every write, answers Status errors, Tables and watches
// the way the real server's contract says, and records every request. It
// checks no schema: use the real server for that.
package clienttest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	noderuntime "github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/remotecommand"
	"github.com/berthpaas/berth/client"
)

// Object is a stored object, as decoded JSON.
type Object = map[string]any

// Request is a request the server received.
type Request struct {
	Method string
	Path   string
	Query  string
	Accept string
	Body   []byte
}

// Server is the fake. Its exported fields may be set before the first
// request.
type Server struct {
	*httptest.Server

	// Reject, when set, is asked about every create and update; a non-nil
	// Status is answered instead of the write.
	Reject func(res client.Resource, obj Object) *metav1.Status

	// Logs, when set, writes the log of a pod's container to w; each write
	// reaches the client at once, and the stream ends when Logs returns.
	// Unset, every log is empty.
	Logs func(ctx context.Context, namespace, pod string, opts client.LogOptions, w io.Writer) error

	// Exec, when set, runs exec and attach sessions (attach has no
	// command) on the websocket protocol. Unset, they are refused.
	Exec func(namespace, pod string, opts remotecommand.Options) remotecommand.RunFunc

	mu       sync.Mutex // guards everything below
	objects  map[string]Object
	rv       int64
	users    map[string]string // name → password
	tokens   map[string]string // token → user
	requests []Request
	watchers map[chan watchEvent]watchKey
	diffs    map[string][]noderuntime.Change // by pod key
}

type watchEvent struct {
	Type string
	Res  client.Resource
	Obj  Object
}

type watchKey struct {
	res       client.Resource
	namespace string
}

// NewServer starts a fake closed at the end of the test.
func NewServer(t testing.TB) *Server {
	s := &Server{
		objects:  map[string]Object{},
		users:    map[string]string{},
		tokens:   map[string]string{},
		watchers: map[chan watchEvent]watchKey{},
		diffs:    map[string][]noderuntime.Change{},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// AddUser creates an account that can log in.
func (s *Server) AddUser(name, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[name] = password
}

// IssueToken returns a valid token of user.
func (s *Server) IssueToken(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(user)
}

func (s *Server) issueLocked(user string) string {
	token := fmt.Sprintf("token-%s-%d", user, len(s.tokens)+1)
	s.tokens[token] = user
	return token
}

// TokenValid reports whether token is still accepted.
func (s *Server) TokenValid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.tokens[token]
	return ok
}

// Seed stores obj as if created, bypassing Reject, and returns it with its
// metadata filled in.
func (s *Server) Seed(res client.Resource, namespace string, obj Object) Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.storeLocked("ADDED", res, namespace, obj)
}

// Object returns a stored object, or nil.
func (s *Server) Object(res client.Resource, namespace, name string) Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.objects[key(res, namespace, name)]
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Writes returns the method and path of every request that was not a GET.
func (s *Server) Writes() []string {
	var out []string
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

func key(res client.Resource, namespace, name string) string {
	if !res.Namespaced {
		namespace = ""
	}
	return res.String() + "/" + namespace + "/" + name
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Accept: r.Header.Get("Accept"), Body: body,
	})
	s.mu.Unlock()

	if r.URL.Path == "/auth/login" && r.Method == http.MethodPost {
		s.login(w, body)
		return
	}
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	user, ok := s.user(token)
	if !ok {
		writeStatus(w, status(http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized"))
		return
	}
	switch {
	case r.URL.Path == "/auth/logout" && r.Method == http.MethodPost:
		s.mu.Lock()
		delete(s.tokens, token)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/apis/berth.dev/v1/whoami":
		writeJSON(w, http.StatusOK, Object{"kind": "WhoAmI", "apiVersion": "berth.dev/v1", "username": user, "clusterAdmin": user == "admin", "via": "token"})
	default:
		s.serveResource(w, r, body, user)
	}
}

func (s *Server) user(token string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	user, ok := s.tokens[token]
	return user, ok
}

func (s *Server) login(w http.ResponseWriter, body []byte) {
	var creds struct{ Username, Password string }
	_ = json.Unmarshal(body, &creds)
	s.mu.Lock()
	defer s.mu.Unlock()
	if pw, ok := s.users[creds.Username]; !ok || pw != creds.Password {
		writeStatus(w, status(http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "invalid username or password"))
		return
	}
	writeJSON(w, http.StatusOK, Object{"token": s.issueLocked(creds.Username)})
}

// parsePath splits /api/v1/[namespaces/NS/]RES[/NAME[/SUBRESOURCE]] and its
// berth.dev twin.
func parsePath(path string) (res client.Resource, namespace, name, subresource string, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(path, "/api/v1/"):
		rest = strings.TrimPrefix(path, "/api/v1/")
	case strings.HasPrefix(path, "/apis/berth.dev/v1/"):
		rest = strings.TrimPrefix(path, "/apis/berth.dev/v1/")
	default:
		return res, "", "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) >= 3 && parts[0] == "namespaces" {
		namespace, parts = parts[1], parts[2:]
	}
	res, err := client.LookupResource(parts[0])
	if err != nil || len(parts) > 3 || res.Resource != parts[0] {
		return res, "", "", "", false
	}
	if len(parts) >= 2 {
		name = parts[1]
	}
	if len(parts) == 3 {
		subresource = parts[2]
	}
	return res, namespace, name, subresource, true
}

func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, body []byte, user string) {
	res, namespace, name, subresource, ok := parsePath(r.URL.Path)
	if !ok || (subresource != "" && res.Resource != "pods") {
		writeStatus(w, status(http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource"))
		return
	}
	if subresource != "" {
		s.servePodSubresource(w, r, namespace, name, subresource)
		return
	}
	table := strings.Contains(r.Header.Get("Accept"), "as=Table")
	switch {
	case r.Method == http.MethodGet && name == "" && r.URL.Query().Get("watch") != "":
		s.watch(w, r, res, namespace, table)
	case r.Method == http.MethodGet && name == "":
		s.list(w, r, res, namespace, table)
	case r.Method == http.MethodGet:
		s.get(w, res, namespace, name, table)
	case r.Method == http.MethodPost && name == "":
		s.create(w, res, namespace, body, user)
	case r.Method == http.MethodPut && name != "":
		s.update(w, res, namespace, name, body)
	case r.Method == http.MethodPatch && name != "":
		s.patch(w, r, res, namespace, name, body)
	case r.Method == http.MethodDelete && name != "":
		s.delete(w, res, namespace, name)
	default:
		writeStatus(w, status(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, "method not allowed"))
	}
}

func notFound(res client.Resource, name string) metav1.Status {
	st := status(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("%s %q not found", res.Resource, name))
	st.Details = &metav1.StatusDetails{Name: name, Kind: res.Resource}
	return st
}

func (s *Server) get(w http.ResponseWriter, res client.Resource, namespace, name string, table bool) {
	obj := s.Object(res, namespace, name)
	if obj == nil {
		writeStatus(w, notFound(res, name))
		return
	}
	if table {
		writeJSON(w, http.StatusOK, toTable([]Object{obj}, ""))
		return
	}
	writeJSON(w, http.StatusOK, obj)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, res client.Resource, namespace string, table bool) {
	selector := r.URL.Query().Get("labelSelector")
	fields := r.URL.Query().Get("fieldSelector")
	s.mu.Lock()
	var items []Object
	prefix := key(res, namespace, "")
	if namespace == "" {
		prefix = res.String() + "/"
	}
	for k, obj := range s.objects {
		if strings.HasPrefix(k, prefix) && matches(obj, selector) && matchesFields(obj, fields) {
			items = append(items, obj)
		}
	}
	rv := strconv.FormatInt(s.rv, 10)
	s.mu.Unlock()
	sort.Slice(items, func(i, j int) bool {
		nsI, _ := meta(items[i])["namespace"].(string)
		nsJ, _ := meta(items[j])["namespace"].(string)
		return nsI+"/"+nameOf(items[i]) < nsJ+"/"+nameOf(items[j])
	})
	if table {
		writeJSON(w, http.StatusOK, toTable(items, rv))
		return
	}
	if items == nil {
		items = []Object{}
	}
	writeJSON(w, http.StatusOK, Object{
		"kind": res.Kind + "List", "apiVersion": res.APIVersion(),
		"metadata": Object{"resourceVersion": rv}, "items": items,
	})
}

// matches understands only "k=v,k2=v2" label selectors.
func matches(obj Object, selector string) bool {
	if selector == "" {
		return true
	}
	labels, _ := meta(obj)["labels"].(map[string]any)
	for _, term := range strings.Split(selector, ",") {
		k, v, _ := strings.Cut(term, "=")
		if labels[k] != v {
			return false
		}
	}
	return true
}

// matchesFields understands only "a.b=v,c.d=w" field selectors, on any
// path of the object.
func matchesFields(obj Object, selector string) bool {
	if selector == "" {
		return true
	}
	for _, term := range strings.Split(selector, ",") {
		path, want, _ := strings.Cut(term, "=")
		var v any = obj
		for _, step := range strings.Split(path, ".") {
			m, _ := v.(map[string]any)
			v = m[step]
		}
		if fmt.Sprint(v) != want {
			return false
		}
	}
	return true
}

func (s *Server) create(w http.ResponseWriter, res client.Resource, namespace string, body []byte, user string) {
	var obj Object
	if err := json.Unmarshal(body, &obj); err != nil {
		writeStatus(w, status(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()))
		return
	}
	if s.Reject != nil {
		if st := s.Reject(res, obj); st != nil {
			writeStatus(w, *st)
			return
		}
	}
	name := nameOf(obj)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.objects[key(res, namespace, name)]; exists {
		st := status(http.StatusConflict, metav1.StatusReasonAlreadyExists, fmt.Sprintf("%s %q already exists", res.Resource, name))
		st.Details = &metav1.StatusDetails{Name: name, Kind: res.Resource}
		writeStatus(w, st)
		return
	}
	switch res.Resource {
	case "projects":
		s.storeLocked("ADDED", client.Namespaces, "", Object{"metadata": Object{"name": name}})
		s.storeLocked("ADDED", client.Members, name, Object{"metadata": Object{"name": user}, "spec": Object{"role": "admin"}})
	case "tokens":
		obj["status"] = Object{"secret": s.issueLocked(user)}
	case "users":
		if spec, ok := obj["spec"].(map[string]any); ok {
			s.users[name], _ = spec["password"].(string)
			delete(spec, "password")
		}
	}
	writeJSON(w, http.StatusCreated, s.storeLocked("ADDED", res, namespace, obj))
}

func (s *Server) update(w http.ResponseWriter, res client.Resource, namespace, name string, body []byte) {
	var obj Object
	if err := json.Unmarshal(body, &obj); err != nil {
		writeStatus(w, status(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()))
		return
	}
	if s.Reject != nil {
		if st := s.Reject(res, obj); st != nil {
			writeStatus(w, *st)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	current, ok := s.objects[key(res, namespace, name)]
	if !ok {
		writeStatus(w, notFound(res, name))
		return
	}
	if meta(obj)["resourceVersion"] != meta(current)["resourceVersion"] {
		writeStatus(w, status(http.StatusConflict, metav1.StatusReasonConflict, fmt.Sprintf(
			"Operation cannot be fulfilled on %s %q: the object has been modified; please apply your changes to the latest version and try again", res.Resource, name)))
		return
	}
	meta(obj)["creationTimestamp"] = meta(current)["creationTimestamp"]
	writeJSON(w, http.StatusOK, s.storeLocked("MODIFIED", res, namespace, obj))
}

func (s *Server) delete(w http.ResponseWriter, res client.Resource, namespace, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(res, namespace, name)
	obj, ok := s.objects[k]
	if !ok {
		writeStatus(w, notFound(res, name))
		return
	}
	delete(s.objects, k)
	s.notifyLocked("DELETED", res, obj)
	writeJSON(w, http.StatusOK, status(http.StatusOK, "", ""))
}

// storeLocked fills in the metadata the server owns, stores obj and tells
// the watchers.
func (s *Server) storeLocked(eventType string, res client.Resource, namespace string, obj Object) Object {
	s.rv++
	obj["kind"], obj["apiVersion"] = res.Kind, res.APIVersion()
	m := meta(obj)
	m["resourceVersion"] = strconv.FormatInt(s.rv, 10)
	if res.Namespaced {
		m["namespace"] = namespace
	}
	if m["creationTimestamp"] == nil {
		m["creationTimestamp"] = "2025-01-01T00:00:00Z"
	}
	s.objects[key(res, namespace, nameOf(obj))] = obj
	s.notifyLocked(eventType, res, obj)
	return obj
}

func (s *Server) notifyLocked(eventType string, res client.Resource, obj Object) {
	ns, _ := meta(obj)["namespace"].(string)
	for ch, k := range s.watchers {
		if k.res.String() == res.String() && (k.namespace == "" || k.namespace == ns) {
			ch <- watchEvent{Type: eventType, Res: res, Obj: obj}
		}
	}
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request, res client.Resource, namespace string, table bool) {
	ch := make(chan watchEvent, 100)
	s.mu.Lock()
	s.watchers[ch] = watchKey{res: res, namespace: namespace}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, ch)
		s.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	flusher.Flush()
	enc := json.NewEncoder(w)
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-ch:
			var obj any = ev.Obj
			if table {
				obj = toTable([]Object{ev.Obj}, "")
			}
			if err := enc.Encode(Object{"type": ev.Type, "object": obj}); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}

// toTable prints objects with NAME and AGE, and LABELS for -o wide.
func toTable(items []Object, rv string) *metav1.Table {
	t := &metav1.Table{
		TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "Table"},
		ListMeta: metav1.ListMeta{ResourceVersion: rv},
		ColumnDefinitions: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name"},
			{Name: "Age", Type: "string"},
			{Name: "Labels", Type: "string", Priority: 1},
		},
		Rows: []metav1.TableRow{},
	}
	for _, obj := range items {
		labels, _ := meta(obj)["labels"].(map[string]any)
		var pairs []string
		for k, v := range labels {
			pairs = append(pairs, fmt.Sprintf("%s=%v", k, v))
		}
		sort.Strings(pairs)
		raw, _ := json.Marshal(Object{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
		t.Rows = append(t.Rows, metav1.TableRow{
			Cells:  []any{nameOf(obj), "5m", strings.Join(pairs, ",")},
			Object: runtime.RawExtension{Raw: raw},
		})
	}
	return t
}

func meta(obj Object) Object {
	m, ok := obj["metadata"].(map[string]any)
	if !ok {
		m = Object{}
		obj["metadata"] = m
	}
	return m
}

func nameOf(obj Object) string {
	name, _ := meta(obj)["name"].(string)
	return name
}

func status(code int, reason metav1.StatusReason, message string) metav1.Status {
	st := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: int32(code), Reason: reason, Message: message,
	}
	if code < 300 {
		st.Status = metav1.StatusSuccess
	}
	return st
}

func writeStatus(w http.ResponseWriter, st metav1.Status) {
	writeJSON(w, int(st.Code), st)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
