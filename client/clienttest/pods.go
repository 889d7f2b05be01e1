package clienttest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/berthpaas/berth/backend/node/runtime/logstream"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	noderuntime "github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/remotecommand"
	"github.com/berthpaas/berth/client"
)

// SetDiff sets the filesystem changes the diff of a pod answers, whatever
// the container.
func (s *Server) SetDiff(namespace, pod string, changes ...noderuntime.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.diffs[key(client.Pods, namespace, pod)] = changes
}

// servePodSubresource answers the operations the real server proxies to
// the pod's node: log, diff, stop, start, restart, exec and attach. The
// pod must exist.
func (s *Server) servePodSubresource(w http.ResponseWriter, r *http.Request, namespace, name, subresource string) {
	if s.Object(client.Pods, namespace, name) == nil {
		writeStatus(w, notFound(client.Pods, name))
		return
	}
	switch {
	case subresource == "log" && r.Method == http.MethodGet:
		s.log(w, r, namespace, name)
	case subresource == "diff" && r.Method == http.MethodGet:
		s.mu.Lock()
		changes := s.diffs[key(client.Pods, namespace, name)]
		s.mu.Unlock()
		if changes == nil {
			changes = []noderuntime.Change{}
		}
		writeJSON(w, http.StatusOK, changes)
	case (subresource == "stop" || subresource == "start" || subresource == "restart") && r.Method == http.MethodPost:
		writeJSON(w, http.StatusOK, status(http.StatusOK, "", ""))
	case (subresource == "exec" || subresource == "attach") && r.Method == http.MethodGet:
		s.remoteCommand(w, r, namespace, name)
	default:
		writeStatus(w, status(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("pods has no subresource %q for %s", subresource, r.Method)))
	}
}

func (s *Server) log(w http.ResponseWriter, r *http.Request, namespace, name string) {
	q := r.URL.Query()
	opts := client.LogOptions{
		Container:  q.Get("container"),
		Follow:     q.Get("follow") == "true",
		Timestamps: q.Get("timestamps") == "true",
		Previous:   q.Get("previous") == "true",
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeStatus(w, status(http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("sinceTime: %v", err)))
			return
		}
		opts.SinceTime = &t
	}
	for param, dst := range map[string]**int64{"tailLines": &opts.TailLines, "sinceSeconds": &opts.SinceSeconds, "limitBytes": &opts.LimitBytes} {
		if v := q.Get(param); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				writeStatus(w, status(http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("%s: %v", param, err)))
				return
			}
			*dst = &n
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	flusher.Flush()
	if s.Logs != nil {
		var out io.Writer = flushWriter{w: w, f: flusher}
		if opts.Timestamps {
			out = &stampWriter{w: out, lineStart: true}
		}
		_ = s.Logs(r.Context(), namespace, name, opts, out)
	}
}

// stampWriter prefixes each line with the time it is written, as the real
// server does with timestamps=true (RFC 3339, nine fraction digits, UTC).
type stampWriter struct {
	w         io.Writer
	lineStart bool
}

func (sw *stampWriter) Write(p []byte) (int, error) {
	var out []byte
	for _, b := range p {
		if sw.lineStart {
			out = append(out, time.Now().UTC().Format(logstream.TimeFormat)...)
			out = append(out, ' ')
			sw.lineStart = false
		}
		out = append(out, b)
		sw.lineStart = b == '\n'
	}
	if _, err := sw.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flushWriter sends every write to the client at once, as the real
// server's log stream does.
type flushWriter struct {
	w io.Writer
	f http.Flusher
}

func (fw flushWriter) Write(p []byte) (int, error) {
	n, err := fw.w.Write(p)
	fw.f.Flush()
	return n, err
}

func (s *Server) remoteCommand(w http.ResponseWriter, r *http.Request, namespace, name string) {
	opts, err := remotecommand.ParseOptions(r)
	if err != nil {
		writeStatus(w, status(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()))
		return
	}
	if s.Exec == nil {
		writeStatus(w, status(http.StatusForbidden, metav1.StatusReasonForbidden, "exec is not enabled on this fake"))
		return
	}
	_ = remotecommand.Serve(w, r, opts, s.Exec(namespace, name, opts))
}

// patch applies a JSON merge patch (RFC 7386); other patch types are
// refused.
func (s *Server) patch(w http.ResponseWriter, r *http.Request, res client.Resource, namespace, name string, body []byte) {
	if ct := r.Header.Get("Content-Type"); ct != string(client.MergePatch) {
		writeStatus(w, status(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType, fmt.Sprintf("the fake applies only merge patches, not %q", ct)))
		return
	}
	var patch Object
	if err := json.Unmarshal(body, &patch); err != nil {
		writeStatus(w, status(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	current, ok := s.objects[key(res, namespace, name)]
	if !ok {
		writeStatus(w, notFound(res, name))
		return
	}
	patched, _ := mergePatch(deepCopy(current), patch).(map[string]any)
	writeJSON(w, http.StatusOK, s.storeLocked("MODIFIED", res, namespace, patched))
}

// mergePatch applies patch to target as RFC 7386 says: objects merge, null
// deletes, anything else replaces.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

func deepCopy(obj Object) Object {
	data, _ := json.Marshal(obj)
	var out Object
	_ = json.Unmarshal(data, &out)
	return out
}
