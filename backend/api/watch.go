package api

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/registry/storage"
	"github.com/berthpaas/berth/backend/streams"
	"github.com/labstack/echo/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// DefaultBookmarkInterval is how often a watch that allows bookmarks is
// told how far it has come, as kube-apiserver does about once a minute:
// a client that reconnects resumes from there instead of relisting.
const DefaultBookmarkInterval = time.Minute

// maxWatchTimeout bounds one watch request, as the Kubernetes apiserver's
// --min-request-timeout does; clients re-watch from their last version.
const maxWatchTimeout = 30 * time.Minute

// watch streams events as newline-separated WatchEvent JSON.
func (a *API) watch(c echo.Context, ri auth.RequestInfo, res *resource, ns string) error {
	opts, err := a.listOptions(c, res)
	if err != nil {
		return statusError(err, res.groupResource(), "")
	}
	if ri.Name != "" {
		opts.Fields = fieldsAnd(opts.Fields, "metadata.name", ri.Name)
	}
	timeout := maxWatchTimeout
	seconds, err := intParam(c, "timeoutSeconds", 0, math.MaxInt64)
	if err != nil {
		return statusError(err, res.groupResource(), "")
	}
	if seconds != nil && *seconds > 0 && *seconds < int64(maxWatchTimeout/time.Second) {
		timeout = time.Duration(*seconds) * time.Second
	}
	stream, err := a.openStream(c, streams.Watch)
	if err != nil {
		return statusError(err, res.groupResource(), "")
	}
	defer stream.Close()
	ctx, cancel := context.WithTimeout(stream.Context(), timeout)
	defer cancel()
	events, err := res.registry.Watch(ctx, ns, opts)
	if err != nil {
		return statusError(err, res.groupResource(), "")
	}
	table := wantsTable(c.Request().Header.Get("Accept"))
	redact := redactor(c, res)
	bookmarks := c.QueryParam("allowWatchBookmarks") == "true"
	resp := c.Response()
	resp.Header().Set("Content-Type", "application/json")
	resp.Header().Set("Transfer-Encoding", "chunked")
	resp.WriteHeader(http.StatusOK)
	resp.Flush()
	enc := json.NewEncoder(resp)
	first := true
	// lastRV is the resourceVersion of the last event sent: a periodic
	// bookmark says the client has seen everything up to it.
	lastRV := opts.ResourceVersion
	ticker := time.NewTicker(a.bookmarkInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.streamsDone:
			return nil
		case <-ticker.C:
			if !bookmarks || table || lastRV == "" || lastRV == "0" {
				continue
			}
			mark := res.registry.Strategy.New()
			setTypeMeta(mark, res)
			if m, err := meta.Accessor(mark); err == nil {
				m.SetResourceVersion(lastRV)
			}
			if err := enc.Encode(&metav1.WatchEvent{Type: string(watch.Bookmark), Object: runtime.RawExtension{Object: mark}}); err != nil {
				return nil
			}
			resp.Flush()
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if m, err := meta.Accessor(ev.Object); err == nil && ev.Object != nil && m.GetResourceVersion() != "" {
				lastRV = m.GetResourceVersion()
			}
			if ev.Type == watch.Bookmark && (!bookmarks || table) {
				continue
			}
			if redact != nil && ev.Object != nil && ev.Type != watch.Error {
				redact(ev.Object)
			}
			out, err := a.watchEvent(ev, res, table, first)
			if err != nil {
				return nil
			}
			first = false
			if err := enc.Encode(out); err != nil {
				return nil
			}
			resp.Flush()
			if ev.Type == watch.Error {
				return nil
			}
		}
	}
}

func (a *API) watchEvent(ev storage.Event, res *resource, table, first bool) (*metav1.WatchEvent, error) {
	if ev.Type == watch.Error {
		se := statusError(ev.Err, res.groupResource(), "")
		if !errors.Is(ev.Err, storage.ErrCompacted) {
			a.logger.Warn("watch ended", "resource", res.name, "error", ev.Err)
		}
		status := se.Status()
		status.Kind, status.APIVersion = "Status", "v1"
		return &metav1.WatchEvent{Type: string(watch.Error), Object: runtime.RawExtension{Object: &status}}, nil
	}
	obj := ev.Object
	setTypeMeta(obj, res)
	if table {
		t, err := toTable(obj, res, first)
		if err != nil {
			return nil, err
		}
		obj = t
	}
	return &metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Object: obj}}, nil
}
