package api

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/berthpaas/berth/backend/accounts"
	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/pki"
	"github.com/labstack/echo/v4"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The endpoints of node trust (see nodeTrust).
const (
	nodeJoinPath   = "/auth/node-join"
	nodeRotatePath = "/auth/node-rotate"
)

// maxNodeAddresses bounds the addresses a node's certificate names.
const maxNodeAddresses = 8

// nodeCredentialRequest is what an agent sends to join or rotate.
type nodeCredentialRequest struct {
	// NodeName is the node joining; node-join only, and it must be the
	// bootstrap token's. Rotation keeps the credential's node.
	NodeName string `json:"nodeName,omitempty"`
	// CSR is a PEM certificate request for the agent's new serving key.
	// Only its public key is used.
	CSR string `json:"csr"`
	// Addresses are the IP addresses the agent serves on; its certificate
	// names them.
	Addresses []string `json:"addresses"`
}

// nodeCredentials is the answer to a join or a rotation.
type nodeCredentials struct {
	// Token is the node's own credential, until ExpiresAt.
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	// Certificate is the agent's serving certificate (PEM), issued by the
	// cluster CA for the node's name and addresses.
	Certificate string `json:"certificate"`
	// CACertificate is the cluster CA (PEM): what the master's client
	// certificate chains to.
	CACertificate string `json:"caCertificate"`
}

// nodeTrust holds the cluster CA and what is made of it: node serving
// certificates, and the master's client certificate and transports to
// agents (agents.go).
type nodeTrust struct {
	ca  *pki.CA // nil without a TLS dir: nodes cannot join
	ttl time.Duration
	// client is the masters' client certificate, which agents require.
	client     *pki.Renewing
	transports *agentTransports
}

// masterClientLifetime is the life of the in-memory client certificate of
// this master; it is issued again past two thirds of it.
const masterClientLifetime = 30 * 24 * time.Hour

func newNodeTrust(ca *pki.CA, ttl time.Duration) *nodeTrust {
	if ttl <= 0 {
		ttl = accounts.DefaultNodeCredentialTTL
	}
	t := &nodeTrust{ca: ca, ttl: ttl}
	if ca != nil {
		t.client = ca.Renewing(pki.MasterClient(masterClientLifetime))
		t.transports = newAgentTransports(ca, t.client)
	}
	return t
}

// nodeJoin trades a bootstrap token for the node's own credential and a
// serving certificate, and consumes the token. Only a bootstrap token
// joins, and only as the node it names: a node's credential cannot join,
// nor mint a credential for another name.
func (a *API) nodeJoin(c echo.Context) error {
	id := identity(c)
	token, _ := c.Get("token").(accounts.Token)
	if id.TokenKind != accounts.KindBootstrap {
		return statusError(errdefs.Newf(errdefs.ErrForbidden, "user %q: only bootstrap tokens join nodes (berth node token create NAME --node NODE)", id.Name), zeroGR, "")
	}
	var body nodeCredentialRequest
	if err := decodeJSONStrict(c.Request(), &body); err != nil {
		return statusError(err, zeroGR, "")
	}
	c.Set("auditName", body.NodeName)
	if body.NodeName != token.NodeName {
		return statusError(errdefs.Newf(errdefs.ErrForbidden, "bootstrap token %q may join only as node %q, not %q", token.Name, token.NodeName, body.NodeName), zeroGR, "")
	}
	certPEM, err := a.nodes.signServing(token.NodeName, body)
	if err != nil {
		return statusError(err, zeroGR, token.NodeName)
	}
	secret, cred, err := a.accounts.JoinNode(c.Request().Context(), token, a.nodes.ttl)
	if err != nil {
		return statusError(err, zeroGR, token.NodeName)
	}
	return writeJSON(c, http.StatusOK, a.nodes.answer(secret, cred, certPEM))
}

// nodeRotate replaces the presented node credential, before it expires,
// with a new one and a new serving certificate for the same node; the old
// credential is revoked. An expired credential does not get here: the
// node needs a new bootstrap token.
func (a *API) nodeRotate(c echo.Context) error {
	id := identity(c)
	token, _ := c.Get("token").(accounts.Token)
	if id.TokenKind != auth.TokenKindNode {
		return statusError(errdefs.Newf(errdefs.ErrForbidden, "user %q: only a node's own credential rotates", id.Name), zeroGR, "")
	}
	var body nodeCredentialRequest
	if err := decodeJSONStrict(c.Request(), &body); err != nil {
		return statusError(err, zeroGR, "")
	}
	c.Set("auditName", token.NodeName)
	if body.NodeName != "" && body.NodeName != token.NodeName {
		return statusError(errdefs.Newf(errdefs.ErrForbidden, "the credential of node %q rotates only for that node, not %q", token.NodeName, body.NodeName), zeroGR, "")
	}
	certPEM, err := a.nodes.signServing(token.NodeName, body)
	if err != nil {
		return statusError(err, zeroGR, token.NodeName)
	}
	secret, cred, err := a.accounts.RotateNodeCredential(c.Request().Context(), token, a.nodes.ttl)
	if err != nil {
		return statusError(err, zeroGR, token.NodeName)
	}
	return writeJSON(c, http.StatusOK, a.nodes.answer(secret, cred, certPEM))
}

// signServing issues the node's serving certificate for the request's key.
// The subject (system:node:NAME), names, usage (serverAuth only) and
// lifetime are the master's; the request's own are ignored.
func (t *nodeTrust) signServing(node string, body nodeCredentialRequest) ([]byte, error) {
	if t.ca == nil {
		return nil, errdefs.New(errdefs.ErrUnavailable, "this master has no cluster CA (start it with --tls-dir): nodes cannot join")
	}
	var errs field.ErrorList
	if body.CSR == "" {
		errs = append(errs, field.Required(field.NewPath("csr"), "a PEM certificate request for the agent's serving key"))
	}
	if len(body.Addresses) == 0 {
		errs = append(errs, field.Required(field.NewPath("addresses"), "the IP addresses the agent serves on"))
	}
	if len(body.Addresses) > maxNodeAddresses {
		errs = append(errs, field.TooMany(field.NewPath("addresses"), len(body.Addresses), maxNodeAddresses))
	}
	var ips []net.IP
	for i, s := range body.Addresses {
		ip := net.ParseIP(s)
		if ip == nil || ip.IsUnspecified() || ip.IsMulticast() {
			errs = append(errs, field.Invalid(field.NewPath("addresses").Index(i), s, "must be a unicast IP address"))
			continue
		}
		ips = append(ips, ip)
	}
	if len(errs) > 0 {
		return nil, &errdefs.InvalidError{Kind: "Node", Name: node, Errs: errs}
	}
	certPEM, err := t.ca.SignCSR([]byte(body.CSR), pki.NodeServing(node, ips, t.ttl))
	if err != nil {
		return nil, &errdefs.InvalidError{Kind: "Node", Name: node, Errs: field.ErrorList{
			field.Invalid(field.NewPath("csr"), "", fmt.Sprint(err)),
		}}
	}
	return certPEM, nil
}

func (t *nodeTrust) answer(secret string, cred accounts.Token, certPEM []byte) nodeCredentials {
	return nodeCredentials{Token: secret, ExpiresAt: cred.ExpiresAt, Certificate: string(certPEM), CACertificate: string(t.ca.CertPEM)}
}

// createBootstrapToken makes a bootstrap token for spec.nodeName, living
// spec.ttl (default an hour, at most accounts.MaxBootstrapTTL and the
// server's token maximum): cluster admins only, and not with a node's
// credential.
func (a *API) createBootstrapToken(c echo.Context, t *berthv1.Token) (runtime.Object, error) {
	id := identity(c)
	var errs field.ErrorList
	if !id.ClusterAdmin || id.TokenKind == auth.TokenKindNode {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "kind"), "only cluster admins create bootstrap tokens"))
	}
	if t.Name == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), ""))
	}
	if t.Spec.NodeName == "" {
		errs = append(errs, field.Required(field.NewPath("spec", "nodeName"), "the node the token may join as"))
	} else if msgs := validation.IsDNS1123Subdomain(t.Spec.NodeName); len(msgs) > 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "nodeName"), t.Spec.NodeName, msgs[0]))
	}
	var ttl time.Duration
	if t.Spec.TTL != "" {
		limit := min(accounts.MaxBootstrapTTL, a.maxTokenTTL)
		d, err := time.ParseDuration(t.Spec.TTL)
		if err != nil || d <= 0 || d > limit {
			errs = append(errs, field.Invalid(field.NewPath("spec", "ttl"), t.Spec.TTL,
				fmt.Sprintf("must be a positive duration of at most %v, such as 1h", limit)))
		}
		ttl = d
	}
	if len(errs) > 0 {
		return nil, &errdefs.InvalidError{Kind: "Token", Name: t.Name, Errs: errs}
	}
	secret, created, err := a.accounts.CreateBootstrapToken(c.Request().Context(), id.UserID, t.Name, t.Spec.NodeName, ttl)
	if err != nil {
		return nil, err
	}
	out := tokenOf(created, secret)
	return &out, nil
}
