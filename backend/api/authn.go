package api

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/berthpaas/berth/backend/accounts"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/labstack/echo/v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

const (
	// SessionCookie is the console's session cookie.
	SessionCookie = "berth_session"
	// CSRFCookie holds the token that the console echoes in the CSRFHeader
	// of every request that changes something (double-submit): a page of
	// another site can make the browser send the session cookie, but it
	// cannot read this cookie to set the header.
	CSRFCookie = "berth_csrf"
	CSRFHeader = "X-CSRF-Token"
	// sessionTTL is how long a login lasts.
	sessionTTL = 24 * time.Hour
)

// authenticate resolves the caller from a bearer token or the session
// cookie; without either, or with one that is unknown, expired or
// revoked, the request ends with 401.
func (a *API) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		secret, via := credential(req)
		if secret == "" {
			return statusError(errdefs.New(errdefs.ErrUnauthenticated, "no credentials: send a bearer token or log in"), zeroGR, "")
		}
		user, token, err := a.accounts.AuthenticateToken(req.Context(), secret)
		if err != nil {
			if errors.Is(err, accounts.ErrUnauthenticated) {
				return statusError(errdefs.New(errdefs.ErrUnauthenticated, "invalid, expired or revoked credentials"), zeroGR, "")
			}
			return err
		}
		id := auth.Identity{UserID: user.ID, Name: user.Name, ClusterAdmin: user.ClusterAdmin,
			Via: via, TokenKind: token.Kind, Secret: secret}
		switch token.Kind {
		case auth.TokenKindNode:
			// A node acts as itself, with a node's rights only, whoever
			// made its bootstrap token (Kubernetes' system:node:NAME).
			id.NodeName = token.NodeName
			id.Name = auth.NodeUserName(token.NodeName)
			id.ClusterAdmin = false
		case accounts.KindBootstrap:
			// A bootstrap token joins its node and does nothing else,
			// whoever made it (Kubernetes' system:bootstrappers).
			if c.Path() != nodeJoinPath {
				return statusError(errdefs.Newf(errdefs.ErrForbidden, "a bootstrap token may only join node %q (POST %s)", token.NodeName, nodeJoinPath), zeroGR, "")
			}
			id.ClusterAdmin = false
		}
		if via == "session" {
			if err := checkSessionRequest(req); err != nil {
				return statusError(err, zeroGR, "")
			}
		}
		c.Set("identity", id)
		c.Set("token", token)
		c.SetRequest(req.WithContext(auth.WithIdentity(req.Context(), id)))
		return next(c)
	}
}

// checkSessionRequest guards cookie-authenticated requests against other
// sites: a change needs the CSRF token, and a websocket (exec, attach,
// the console's watches) must come from a page of this server.
func checkSessionRequest(req *http.Request) error {
	if strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
		if origin := req.Header.Get("Origin"); origin != "" && !sameOrigin(origin, req) {
			return errdefs.Newf(errdefs.ErrForbidden, "websocket from origin %q refused: not this server", origin)
		}
		return nil
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	ck, err := req.Cookie(CSRFCookie)
	if err != nil || ck.Value == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(req.Header.Get(CSRFHeader))) != 1 {
		return errdefs.New(errdefs.ErrForbidden, "missing or wrong CSRF token: a session request that changes something must send the "+CSRFHeader+" header")
	}
	return nil
}

func sameOrigin(origin string, req *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host == req.Host
}

func credential(req *http.Request) (secret, via string) {
	if h := req.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t), "token"
		}
		return "", ""
	}
	if ck, err := req.Cookie(SessionCookie); err == nil {
		return ck.Value, "session"
	}
	return "", ""
}

func randomToken() string {
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(buf)
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	Token     string    `json:"token"`
	Username  string    `json:"username"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// login checks a password and answers a session token, also set as the
// console's cookie. Failures are rate-limited per client address and per
// (user, address); see accounts.LoginLimiter.
func (a *API) login(c echo.Context) error {
	req := c.Request()
	addr := c.RealIP()
	if err := a.checkLoginRequest(req, addr); err != nil {
		return statusError(err, zeroGR, "")
	}
	req.Body = http.MaxBytesReader(c.Response(), req.Body, 64<<10)
	var body loginRequest
	if err := decodeJSONStrict(req, &body); err != nil {
		return statusError(err, zeroGR, "")
	}
	if wait := a.limiter.RetryAfter(body.Username, addr); wait > 0 {
		return statusError(errdefs.TooManyRequests(wait, "too many failed logins from this address; try again later"), zeroGR, "")
	}
	ctx := req.Context()
	user, err := a.accounts.CheckPassword(ctx, body.Username, body.Password)
	if err != nil {
		if errors.Is(err, accounts.ErrInvalidCredentials) || errors.Is(err, accounts.ErrNotFound) {
			a.limiter.Failure(body.Username, addr)
			a.audit.record(body.Username, "login", "sessions", "", "", http.StatusUnauthorized, req)
			return statusError(errdefs.New(errdefs.ErrUnauthenticated, "wrong username or password"), zeroGR, "")
		}
		return err
	}
	a.limiter.Success(body.Username, addr)
	name := "session-" + strings.ToLower(time.Now().UTC().Format("20060102t150405.000000000"))
	secret, token, err := a.accounts.CreateToken(ctx, user.ID, name, "session", sessionTTL)
	if err != nil {
		return err
	}
	a.audit.record(user.Name, "login", "sessions", "", "", http.StatusOK, req)
	secure := a.secureCookies(req)
	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: secret, Path: "/", Expires: token.ExpiresAt,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure,
	})
	c.SetCookie(&http.Cookie{
		Name: CSRFCookie, Value: randomToken(), Path: "/", Expires: token.ExpiresAt,
		SameSite: http.SameSiteStrictMode, Secure: secure,
	})
	return writeJSON(c, http.StatusOK, loginResponse{Token: secret, Username: user.Name, ExpiresAt: token.ExpiresAt})
}

// checkLoginRequest refuses what a login must not be:
//   - a body that is not JSON: text/plain and form bodies are what another
//     site's page can make a browser send without asking first (login
//     CSRF signs the victim in to the attacker's account);
//   - a request from a page of another origin;
//   - a password sent in clear (checkPasswordTransport).
func (a *API) checkLoginRequest(req *http.Request, addr string) error {
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "create", zeroGR, "",
			fmt.Sprintf("login takes a JSON body (Content-Type: application/json), not %q", req.Header.Get("Content-Type")), 0, false)
	}
	if origin := req.Header.Get("Origin"); origin != "" && !sameOrigin(origin, req) {
		return errdefs.Newf(errdefs.ErrForbidden, "login from origin %q refused: not this server", origin)
	}
	return a.checkPasswordTransport(req, addr)
}

// checkPasswordTransport refuses a password sent over plain HTTP from
// another machine when the server serves HTTPS: it would cross the
// network in clear. Loopback clients (berth up's console on 127.0.0.1)
// stay on HTTP.
func (a *API) checkPasswordTransport(req *http.Request, addr string) error {
	if a.servesTLS && req.TLS == nil {
		if ip := net.ParseIP(addr); ip == nil || !ip.IsLoopback() {
			return errdefs.Newf(errdefs.ErrForbidden, "use HTTPS (https://%s/): this server does not take passwords over plain HTTP from other machines", req.Host)
		}
	}
	return nil
}

// secureCookies says whether cookies are marked Secure: always when the
// server serves TLS. Browsers keep Secure cookies set over
// http://127.0.0.1 and http://localhost too (both count as secure
// contexts), so berth up's loopback console works all the same, and a
// session cookie is never sent in clear to another host.
func (a *API) secureCookies(req *http.Request) bool {
	return a.servesTLS || req.TLS != nil
}

// logout revokes the credential the request came with and clears the
// cookie.
func (a *API) logout(c echo.Context) error {
	id := identity(c)
	if err := a.accounts.RevokeTokenBySecret(c.Request().Context(), id.Secret); err != nil {
		return err
	}
	secure := a.secureCookies(c.Request())
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure})
	c.SetCookie(&http.Cookie{Name: CSRFCookie, Value: "", Path: "/", MaxAge: -1,
		SameSite: http.SameSiteStrictMode, Secure: secure})
	return c.NoContent(http.StatusNoContent)
}

// Authenticate is the API's authentication as middleware, for routes the
// server adds beside the API (metrics, later the console's websockets).
func (a *API) Authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return a.authenticate(next)
}

// RequireClusterAdmin refuses callers that are not cluster admins.
func (a *API) RequireClusterAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if id := identity(c); !id.ClusterAdmin || id.TokenKind == auth.TokenKindNode {
			return statusError(errdefs.Newf(errdefs.ErrForbidden, "user %q: only cluster admins may read %s", id.Name, c.Request().URL.Path), zeroGR, "")
		}
		return next(c)
	}
}
