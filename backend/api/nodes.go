package api

import (
	"errors"
	"net/http"

	"github.com/berthpaas/berth/backend/errdefs"

	"github.com/berthpaas/berth/backend/accounts"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/labstack/echo/v4"
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
