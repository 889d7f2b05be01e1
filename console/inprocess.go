package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// errHandlerPanicked ends the body of an in-process request whose handler
// panicked.
var errHandlerPanicked = errors.New("api handler panicked")

// maxStatusBytes bounds the body read from a non-200 answer.
const maxStatusBytes = 1 << 20

// apiRequest builds a request to the API on behalf of the browser request
// from: it carries the same credentials (session cookie, bearer token),
// client address and host, so the API authenticates and authorizes it as
// the person's own.
func apiRequest(ctx context.Context, from *http.Request, target string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	for _, h := range []string{"Cookie", "Authorization", "User-Agent"} {
		if v := from.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	req.Header.Set("Accept", "application/json")
	req.Host = from.Host
	req.RemoteAddr = from.RemoteAddr
	req.TLS = from.TLS
	return req, nil
}

// apiResponse is the answer of an in-process request, whose body streams
// while the handler runs.
type apiResponse struct {
	code   int
	header http.Header
	body   *io.PipeReader
	done   <-chan struct{} // closed when the handler has returned
}

// Close stops reading the body: the handler's next write fails. It waits
// for the handler to return, which it does once its writes fail or its
// request's context is cancelled.
func (r *apiResponse) Close() {
	r.body.Close()
	<-r.done
}

// serveAPI runs req through the API handler in a goroutine and returns
// once the handler has written its status, or when ctx (which must be
// req's context) ends.
func (c *Console) serveAPI(ctx context.Context, req *http.Request) (*apiResponse, error) {
	pr, pw := io.Pipe()
	w := &pipeResponseWriter{header: make(http.Header), body: pw, ready: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				if p != http.ErrAbortHandler {
					c.logger.Error("api handler panicked", "path", req.URL.Path, "panic", fmt.Sprint(p))
				}
				w.WriteHeader(http.StatusInternalServerError)
				pw.CloseWithError(errHandlerPanicked)
			}
		}()
		c.api.ServeHTTP(w, req)
		w.WriteHeader(http.StatusOK) // a handler that wrote nothing answered 200
		pw.Close()
	}()
	resp := &apiResponse{body: pr, done: done}
	select {
	case <-w.ready:
		resp.code, resp.header = w.code, w.sent
		return resp, nil
	case <-ctx.Done():
		resp.Close()
		return nil, ctx.Err()
	}
}

// pipeResponseWriter streams a handler's body into a pipe, so that a
// response with no end (a watch) can be read while it is written.
type pipeResponseWriter struct {
	header http.Header // the handler's; read only before ready
	body   *io.PipeWriter
	once   sync.Once
	ready  chan struct{} // closed by the first WriteHeader
	code   int           // set before ready is closed
	sent   http.Header   // the header as of WriteHeader
}

func (w *pipeResponseWriter) Header() http.Header { return w.header }

func (w *pipeResponseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		return // informational: not the answer
	}
	w.once.Do(func() {
		w.code, w.sent = code, w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeResponseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// Flush does nothing: a pipe write returns only once the reader has taken
// the bytes. Handlers that stream (echo's Response.Flush) need the method.
func (w *pipeResponseWriter) Flush() {}

var _ http.Flusher = (*pipeResponseWriter)(nil)

// readStatus reads the Status of a non-200 answer. A body that is not a
// Status (a proxy's text, say) becomes the message of one.
func readStatus(resp *apiResponse) *metav1.Status {
	data, _ := io.ReadAll(io.LimitReader(resp.body, maxStatusBytes))
	var st metav1.Status
	if err := json.Unmarshal(data, &st); err == nil && st.Kind == "Status" {
		if st.Code == 0 {
			st.Code = int32(resp.code)
		}
		return &st
	}
	msg := strings.TrimSpace(string(data))
	if msg == "" {
		msg = http.StatusText(resp.code)
	}
	return newStatus(resp.code, "", msg)
}

// newStatus is a failure Status as the API writes them.
func newStatus(code int, reason metav1.StatusReason, msg string) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Code:     int32(code),
		Reason:   reason,
		Message:  msg,
	}
}
