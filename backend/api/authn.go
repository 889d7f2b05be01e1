package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/berthpaas/berth/backend/errdefs"

	"github.com/berthpaas/berth/backend/accounts"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/labstack/echo/v4"
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
		if token.Kind == auth.TokenKindNode {
			id.NodeName = strings.TrimPrefix(token.Name, nodeTokenPrefix)
		}
		if via == "session" {
			if err := checkSessionRequest(req); err != nil {
				return statusError(err, zeroGR, "")
			}
		}
		c.Set("identity", id)
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), identityKey, id)))
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
// console's cookie. Failures are rate-limited per user and per address.
func (a *API) login(c echo.Context) error {
	req := c.Request()
	req.Body = http.MaxBytesReader(c.Response(), req.Body, 64<<10)
	var body loginRequest
	if err := decodeJSONStrict(req, &body); err != nil {
		return statusError(err, zeroGR, "")
	}
	addr := c.RealIP()
	if !a.limiter.Allow(body.Username, addr) {
		return statusError(accounts.ErrRateLimited, zeroGR, "")
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
	secure := a.secure || req.TLS != nil
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

// logout revokes the credential the request came with and clears the
// cookie.
func (a *API) logout(c echo.Context) error {
	id := identity(c)
	if err := a.accounts.RevokeTokenBySecret(c.Request().Context(), id.Secret); err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: a.secure || c.Request().TLS != nil})
	c.SetCookie(&http.Cookie{Name: CSRFCookie, Value: "", Path: "/", MaxAge: -1,
		SameSite: http.SameSiteStrictMode, Secure: a.secure || c.Request().TLS != nil})
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
