package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/berthpaas/berth/backend/accounts"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/labstack/echo/v4"
)

const (
	// SessionCookie is the console's session cookie.
	SessionCookie = "berth_session"
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
			return statusError(&auth.Error{Class: auth.ErrUnauthenticated, Msg: "no credentials: send a bearer token or log in"}, zeroGR, "")
		}
		user, token, err := a.accounts.AuthenticateToken(req.Context(), secret)
		if err != nil {
			if errors.Is(err, accounts.ErrUnauthenticated) {
				return statusError(&auth.Error{Class: auth.ErrUnauthenticated, Msg: "invalid, expired or revoked credentials"}, zeroGR, "")
			}
			return err
		}
		id := auth.Identity{UserID: user.ID, Name: user.Name, ClusterAdmin: user.ClusterAdmin,
			Via: via, TokenKind: token.Kind, Secret: secret}
		if token.Kind == auth.TokenKindNode {
			id.NodeName = strings.TrimPrefix(token.Name, nodeTokenPrefix)
		}
		c.Set("identity", id)
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), identityKey, id)))
		return next(c)
	}
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
			return statusError(&auth.Error{Class: auth.ErrUnauthenticated, Msg: "wrong username or password"}, zeroGR, "")
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
	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: secret, Path: "/", Expires: token.ExpiresAt,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: a.secure || req.TLS != nil,
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
			return statusError(&auth.Error{Class: auth.ErrForbidden, Msg: fmt.Sprintf("user %q: only cluster admins may read %s", id.Name, c.Request().URL.Path)}, zeroGR, "")
		}
		return next(c)
	}
}
