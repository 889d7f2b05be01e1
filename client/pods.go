package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/remotecommand"
)

// The pod operations below are served by the node that runs the pod; the
// server proxies them. They fail with a BadRequest APIError while the pod
// is not bound to a node yet.

// LogOptions select the part of a container's log that PodLogs streams.
type LogOptions struct {
	Container string // "" for the pod's first container
	// Follow keeps the stream open for new output until the container ends.
	Follow       bool
	TailLines    *int64 // the last N lines only; nil for all
	SinceSeconds *int64 // lines written in the last N seconds only; nil for all
	// SinceTime: lines logged at or after it only, to the nanosecond; at
	// most one of SinceSeconds and SinceTime.
	SinceTime  *time.Time
	Timestamps bool   // prefix each line with its RFC 3339 time
	LimitBytes *int64 // end the log after that many bytes; nil for no limit
	// Previous reads the previous, terminated instance of the container.
	Previous bool
}

func (o LogOptions) query() url.Values {
	q := url.Values{}
	if o.Container != "" {
		q.Set("container", o.Container)
	}
	if o.Follow {
		q.Set("follow", "true")
	}
	if o.TailLines != nil {
		q.Set("tailLines", strconv.FormatInt(*o.TailLines, 10))
	}
	if o.SinceSeconds != nil {
		q.Set("sinceSeconds", strconv.FormatInt(*o.SinceSeconds, 10))
	}
	if o.SinceTime != nil {
		q.Set("sinceTime", o.SinceTime.UTC().Format(time.RFC3339Nano))
	}
	if o.Timestamps {
		q.Set("timestamps", "true")
	}
	if o.LimitBytes != nil {
		q.Set("limitBytes", strconv.FormatInt(*o.LimitBytes, 10))
	}
	if o.Previous {
		q.Set("previous", "true")
	}
	return q
}

// PodLogs opens the log of a pod's container; the caller reads the stream
// as it arrives and closes it. A followed log has no timeout: it ends when
// the container does, the server closes it or ctx is done. Otherwise the
// whole read is bounded by the client's timeout.
func (c *Client) PodLogs(ctx context.Context, namespace, name string, opts LogOptions) (io.ReadCloser, error) {
	path, err := podSubresourcePath(namespace, name, "log")
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, request{
		method: http.MethodGet,
		path:   path,
		query:  opts.query(),
		accept: "text/plain, application/json",
		stream: opts.Follow,
	})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// PodDiff lists the filesystem changes of a pod's container (container ""
// for the first one) since it was created, as `docker diff` does.
func (c *Client) PodDiff(ctx context.Context, namespace, name, container string) ([]runtime.Change, error) {
	path, err := podSubresourcePath(namespace, name, "diff")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if container != "" {
		q.Set("container", container)
	}
	var changes []runtime.Change
	if err := c.Do(ctx, http.MethodGet, path, q, nil, &changes); err != nil {
		return nil, err
	}
	return changes, nil
}

// PodAction is an operation on all the containers of a pod, as `docker
// stop`, `docker start` and `docker restart` are on one container.
type PodAction string

// The pod actions the server knows.
const (
	StopPod    PodAction = "stop"
	StartPod   PodAction = "start"
	RestartPod PodAction = "restart"
)

// DoPodAction stops, starts or restarts the containers of a pod. The pod's
// status shows the outcome once the node has reported it.
func (c *Client) DoPodAction(ctx context.Context, namespace, name string, action PodAction) error {
	path, err := podSubresourcePath(namespace, name, string(action))
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodPost, path, nil, nil, nil)
}

// DialExec starts opts.Command in a container of a pod and returns the
// session, whose Run connects the streams opts selects and reports the exit
// code.
func (c *Client) DialExec(ctx context.Context, namespace, name string, opts remotecommand.Options) (*remotecommand.ClientSession, error) {
	if len(opts.Command) == 0 {
		return nil, fmt.Errorf("exec in pod %q: no command", name)
	}
	return c.dialStream(ctx, namespace, name, "exec", opts)
}

// DialAttach connects to the main process of a container of a pod;
// opts.Command is ignored.
func (c *Client) DialAttach(ctx context.Context, namespace, name string, opts remotecommand.Options) (*remotecommand.ClientSession, error) {
	opts.Command = nil
	return c.dialStream(ctx, namespace, name, "attach", opts)
}

func (c *Client) dialStream(ctx context.Context, namespace, name, subresource string, opts remotecommand.Options) (*remotecommand.ClientSession, error) {
	if c.serverErr != nil {
		return nil, c.serverErr
	}
	path, err := podSubresourcePath(namespace, name, subresource)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, f := range []struct {
		name string
		on   bool
	}{{"stdin", opts.Stdin}, {"stdout", opts.Stdout}, {"stderr", opts.Stderr}, {"tty", opts.TTY}} {
		if f.on {
			q.Set(f.name, "true")
		}
	}
	if opts.Container != "" {
		q.Set("container", opts.Container)
	}
	q["command"] = opts.Command
	u := c.url(path, q)
	header := http.Header{}
	c.authenticate(header)
	session, err := remotecommand.Dial(ctx, u.String(), header, c.tlsConfig)
	if err != nil {
		return nil, fmt.Errorf("%s in pod %q: %w", subresource, name, err)
	}
	return session, nil
}

func podSubresourcePath(namespace, name, subresource string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%s: a pod name is required", subresource)
	}
	path, err := objectPath(Pods, namespace, name)
	if err != nil {
		return "", err
	}
	return path + "/" + subresource, nil
}
