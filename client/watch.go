package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EventType is the type of a watch event.
type EventType string

// The event types a watch stream carries.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
	Bookmark EventType = "BOOKMARK"
	Error    EventType = "ERROR"
)

// Event is one change seen by a watch.
type Event struct {
	Type EventType
	// Object is the object as it is after the change (before it, for
	// Deleted), or a Table when the watch asked for tables.
	Object json.RawMessage
	// Err is set on Error events: the server's Status as an *APIError, or
	// what broke the stream. An Error event is the last of its watch.
	Err error
}

// Decode decodes the event's object into out.
func (e Event) Decode(out any) error {
	return json.Unmarshal(e.Object, out)
}

// Watch streams the changes of a resource in a namespace (all namespaces
// when namespace is empty) from opts.ResourceVersion on. The channel is
// closed when ctx is done or the server ends the stream; a broken stream
// ends with an Error event. Failing to start the watch is returned as the
// error (IsGone when the resourceVersion has been compacted).
func (c *Client) Watch(ctx context.Context, res Resource, namespace string, opts ListOptions) (<-chan Event, error) {
	return c.watch(ctx, res, namespace, opts, "")
}

// WatchTable is Watch asking for each event's object as a meta.k8s.io/v1
// Table of one row, ready to print.
func (c *Client) WatchTable(ctx context.Context, res Resource, namespace string, opts ListOptions) (<-chan Event, error) {
	return c.watch(ctx, res, namespace, opts, tableAccept)
}

func (c *Client) watch(ctx context.Context, res Resource, namespace string, opts ListOptions, accept string) (<-chan Event, error) {
	q := opts.query()
	q.Set("watch", "1")
	resp, err := c.send(ctx, request{
		method: http.MethodGet,
		path:   res.Path(namespace, ""),
		query:  q,
		accept: accept,
		stream: true,
	})
	if err != nil {
		return nil, err
	}
	events := make(chan Event, 16)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		stop := context.AfterFunc(ctx, func() { resp.Body.Close() })
		defer stop()
		decodeEvents(ctx, resp.Body, events)
	}()
	return events, nil
}

// decodeEvents reads newline-separated metav1.WatchEvent JSON from r until
// it ends or ctx is done.
func decodeEvents(ctx context.Context, r io.Reader, events chan<- Event) {
	dec := json.NewDecoder(r)
	send := func(ev Event) bool {
		select {
		case events <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		var we metav1.WatchEvent
		if err := dec.Decode(&we); err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return
			}
			send(Event{Type: Error, Err: fmt.Errorf("watch stream broken: %w", err)})
			return
		}
		ev := Event{Type: EventType(we.Type), Object: json.RawMessage(we.Object.Raw)}
		if ev.Type == Error {
			ev.Err = statusError(ev.Object)
			send(ev)
			return
		}
		if !send(ev) {
			return
		}
	}
}

// statusError turns the Status object of an ERROR event into an error.
func statusError(raw []byte) error {
	var st metav1.Status
	if err := json.Unmarshal(raw, &st); err != nil || st.Kind != "Status" {
		return fmt.Errorf("watch error: %s", raw)
	}
	return &APIError{status: st}
}
