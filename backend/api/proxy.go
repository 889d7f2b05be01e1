package api

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/labstack/echo/v4"
	v1 "k8s.io/api/core/v1"
)

// podSubresources are served by the node that runs the pod.
var podSubresources = map[string]bool{
	"log": true, "exec": true, "attach": true, "diff": true, "stop": true, "start": true, "restart": true,
}

// proxyToNode forwards a pod operation to the agent of the pod's node,
// replacing the caller's credential with the master's. Streams (log
// follow) and websocket upgrades (exec, attach) pass through.
func (a *API) proxyToNode(c echo.Context, ri auth.RequestInfo, res *resource) error {
	ctx := c.Request().Context()
	obj, err := res.registry.Get(ctx, ri.Namespace, ri.Name)
	if err != nil {
		return statusError(err, res.groupResource(), ri.Name)
	}
	pod := obj.(*v1.Pod)
	if pod.Spec.NodeName == "" {
		return statusError(errdefs.BadRequest("pod %q is not scheduled on a node yet", pod.Name), res.groupResource(), ri.Name)
	}
	target, err := a.agentURL(c, pod.Spec.NodeName)
	if err != nil {
		return err
	}
	container := c.QueryParam("container")
	if container == "" && len(pod.Spec.Containers) > 0 {
		container = pod.Spec.Containers[0].Name
	}
	q := c.Request().URL.Query()
	q.Set("container", container)
	target.Path = "/pods/" + string(pod.UID) + "/" + ri.Subresource
	target.RawQuery = q.Encode()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = target
			pr.Out.Host = target.Host
			pr.Out.Header.Set("Authorization", "Bearer "+a.agentSecret)
			pr.Out.Header.Del("Cookie")
		},
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.logger.Warn("node unreachable", "node", pod.Spec.NodeName, "error", err)
			a.errorHandler(statusError(fmt.Errorf("node %q does not answer: %v: %w", pod.Spec.NodeName, err, errNodeUnreachable), res.groupResource(), pod.Name), c)
		},
	}
	proxy.ServeHTTP(c.Response(), c.Request())
	return nil
}

func (a *API) agentURL(c echo.Context, nodeName string) (*url.URL, error) {
	obj, err := a.core["nodes"].registry.Get(c.Request().Context(), "", nodeName)
	if err != nil {
		return nil, statusError(fmt.Errorf("node %q of the pod: %w", nodeName, err), a.core["nodes"].groupResource(), nodeName)
	}
	node := obj.(*v1.Node)
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	addr := ""
	for _, ad := range node.Status.Addresses {
		if ad.Type == v1.NodeInternalIP {
			addr = ad.Address
			break
		}
	}
	if addr == "" || port == 0 {
		return nil, statusError(fmt.Errorf("node %q has not published its address: %w", nodeName, errNodeUnreachable), zeroGR, "")
	}
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(addr, strconv.Itoa(int(port)))}, nil
}
