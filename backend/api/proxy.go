package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/streams"
	"github.com/labstack/echo/v4"
	v1 "k8s.io/api/core/v1"
)

// proxyToNode forwards a pod operation to the agent of the pod's node,
// replacing the caller's credential with the master's. Streams (log
// follow) and upgrades to websockets or SPDY (exec, attach, port forward)
// pass through unchanged; they take a stream slot (429 past the limits)
// and end when the caller's credential is revoked. Logs, exec, attach and
// port forwards are audited as they start and end.
func (a *API) proxyToNode(c echo.Context, ri auth.RequestInfo, res *resource) error {
	target, err := a.podAgentTarget(c, ri, res)
	if err != nil {
		return err
	}
	if kind, ok := streamKind(ri.Subresource, target.query); ok {
		stream, err := a.openStream(c, kind)
		if err != nil {
			return statusError(err, res.groupResource(), ri.Name)
		}
		defer stream.Close()
		c.SetRequest(c.Request().WithContext(stream.Context()))
	}
	session := a.audit.startSession(c, ri, target.container, target.query)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = target.url
			pr.Out.Host = target.url.Host
			// The master's client certificate speaks for it (agentTransport);
			// the caller's credential stays here.
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("Cookie")
		},
		Transport:     target.transport,
		FlushInterval: -1,
		ModifyResponse: func(r *http.Response) error {
			session.started(r.StatusCode)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			se := statusError(a.agentError(target.pod.Spec.NodeName, err), res.groupResource(), target.pod.Name)
			session.failed(int(se.ErrStatus.Code))
			a.errorHandler(se, c)
		},
	}
	// Deferred: a stream cut off mid-body (the credential revoked) ends
	// in ReverseProxy's http.ErrAbortHandler panic.
	defer session.end(c.Request().Context())
	proxy.ServeHTTP(c.Response(), c.Request())
	return nil
}

// agentError is what a caller is told of a pod operation that its node's
// agent did not answer (the agent's own refusals pass as they are): it
// names the node, never an address or a certificate, which the master's
// log keeps.
func (a *API) agentError(node string, err error) error {
	switch {
	case errors.Is(err, errNodeUnreachable), errors.Is(err, errdefs.ErrNotFound):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, streams.ErrRevoked):
		return err
	}
	a.logger.Warn("node agent stopped answering", "node", node, "error", err)
	return fmt.Errorf("node %q stopped answering: %w", node, errNodeUnreachable)
}

// agentTarget is where a pod operation goes.
type agentTarget struct {
	pod *v1.Pod
	// container is the one the operation is for: the query's, or the
	// pod's first.
	container string
	// query is the request's, with the container set.
	query url.Values
	// url is the agent's endpoint for the operation.
	url *url.URL
	// transport reaches the agent of the pod's node.
	transport http.RoundTripper
}

// podAgentTarget checks a pod operation's parameters and finds the agent
// that serves it. Its errors are Statuses.
func (a *API) podAgentTarget(c echo.Context, ri auth.RequestInfo, res *resource) (*agentTarget, error) {
	if err := validateSubresourceQuery(ri.Subresource, c.Request().URL.Query()); err != nil {
		return nil, statusError(err, res.groupResource(), ri.Name)
	}
	obj, err := res.registry.Get(c.Request().Context(), ri.Namespace, ri.Name)
	if err != nil {
		return nil, statusError(err, res.groupResource(), ri.Name)
	}
	pod := obj.(*v1.Pod)
	if pod.Spec.NodeName == "" {
		return nil, statusError(errdefs.BadRequest("pod %q is not scheduled on a node yet", pod.Name), res.groupResource(), ri.Name)
	}
	transport, err := a.agentTransport(pod.Spec.NodeName)
	if err != nil {
		return nil, err
	}
	container := c.QueryParam("container")
	if container == "" && len(pod.Spec.Containers) > 0 {
		container = pod.Spec.Containers[0].Name
	}
	q := c.Request().URL.Query()
	q.Set("container", container)
	// The transport puts the agent's address in, as the Node says when
	// the request goes.
	target := &url.URL{Scheme: "https", Host: agentHost, Path: "/pods/" + string(pod.UID) + "/" + ri.Subresource, RawQuery: q.Encode()}
	return &agentTarget{pod: pod, container: container, query: q, url: target, transport: transport}, nil
}

// streamKind says which kind of stream a pod subresource request opens, if
// any: exec, attach and port forward sessions, and log follows.
func streamKind(subresource string, q url.Values) (streams.Kind, bool) {
	switch subresource {
	case "exec", "attach", "portforward":
		return streams.Exec, true
	case "log":
		// As the agent reads it: a follow it would refuse takes no slot.
		follow, _ := strconv.ParseBool(q.Get("follow"))
		return streams.Log, follow
	}
	return "", false
}

// maxSinceSeconds is the longest look back a log request may ask for:
// what a time.Duration holds (292 years). Further back overflows the
// agent's arithmetic; nothing older exists anyway.
const maxSinceSeconds = math.MaxInt64 / int64(time.Second)

// integerParam is a query parameter that must be an integer in [min, max].
type integerParam struct {
	name     string
	min, max int64
}

// logIntegerParams are the integer query parameters of a pod's log, as
// Kubernetes' PodLogOptions defines them, with their bounds
// (ValidatePodLogOptions). Exec and attach take none; their booleans are
// read as Kubernetes reads them (anything but a false word is true).
var logIntegerParams = []integerParam{
	{"sinceSeconds", 1, maxSinceSeconds},
	{"tailLines", 0, math.MaxInt64},
	{"limitBytes", 1, math.MaxInt64},
}

// validateSubresourceQuery checks the typed query parameters of a pod
// subresource before the request goes to the node, so that a bad one is a
// 400 naming it rather than whatever the agent or Docker makes of it.
func validateSubresourceQuery(subresource string, q url.Values) error {
	if subresource != "log" {
		return nil
	}
	for _, p := range logIntegerParams {
		for _, v := range q[p.name] {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < p.min || n > p.max {
				return errdefs.BadRequest("invalid value %q for query parameter %s: must be an integer from %d to %d", v, p.name, p.min, p.max)
			}
		}
	}
	for _, v := range q["sinceTime"] {
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return errdefs.BadRequest("invalid value %q for query parameter sinceTime: must be an RFC 3339 time", v)
		}
	}
	if q.Has("sinceTime") && q.Has("sinceSeconds") {
		return errdefs.BadRequest("at most one of sinceTime or sinceSeconds may be specified")
	}
	return nil
}
