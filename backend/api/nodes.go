package api

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"

	"github.com/berthpaas/berth/backend/errdefs"

	"github.com/berthpaas/berth/backend/accounts"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/labstack/echo/v4"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// nodeTokenPrefix starts the name of every node's own token, which is
// followed by the node's name.
const nodeTokenPrefix = "node-"

type nodeJoinRequest struct {
	NodeName string `json:"nodeName"`
}

type nodeJoinResponse struct {
	// Token is the node's own credential.
	Token string `json:"token"`
	// ProxySecret is what the master presents to the agent's endpoint.
	ProxySecret string `json:"proxySecret"`
}

// nodeJoin trades a bootstrap node token for the node's own, long-lived
// credential, and tells the agent the secret the master will present when
// it proxies pod operations (logs, exec ...) to it.
func (a *API) nodeJoin(c echo.Context) error {
	id := identity(c)
	if id.TokenKind != auth.TokenKindNode {
		return statusError(errdefs.Newf(errdefs.ErrForbidden, "user %q: only node tokens can join nodes", id.Name), zeroGR, "")
	}
	var body nodeJoinRequest
	if err := decodeJSONStrict(c.Request(), &body); err != nil {
		return statusError(err, zeroGR, "")
	}
	if msgs := validation.IsDNS1123Subdomain(body.NodeName); len(msgs) > 0 {
		return statusError(&errdefs.InvalidError{Kind: "Node", Name: body.NodeName, Errs: field.ErrorList{
			field.Invalid(field.NewPath("nodeName"), body.NodeName, msgs[0]),
		}}, zeroGR, "")
	}
	ctx := c.Request().Context()
	name := nodeTokenPrefix + body.NodeName
	if err := a.accounts.RevokeToken(ctx, id.UserID, name); err != nil && !errors.Is(err, accounts.ErrNotFound) {
		return err
	}
	secret, _, err := a.accounts.CreateToken(ctx, id.UserID, name, auth.TokenKindNode, 0)
	if err != nil {
		return statusError(err, zeroGR, name)
	}
	c.Set("auditName", body.NodeName)
	return writeJSON(c, http.StatusOK, nodeJoinResponse{Token: secret, ProxySecret: a.agentSecret})
}

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
