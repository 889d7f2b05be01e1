package api

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"unicode/utf8"

	"github.com/berthpaas/berth/backend/accounts"
	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/labstack/echo/v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Bounds of a password, as the account store enforces them.
const (
	minPasswordRunes = 8
	maxPasswordBytes = 1024
)

// passwordAuthorized decides who may use users/NAME/password, instead of
// the role rules (which let users only read themselves): the user, who
// must give the current password, and cluster admins. A node's
// credential carries the node's rights only, whoever made it.
func passwordAuthorized(id auth.Identity, ri auth.RequestInfo) error {
	switch {
	case id.TokenKind == auth.TokenKindNode:
		return errdefs.Forbidden("a node's credential cannot change passwords")
	case id.Name == ri.Name || id.ClusterAdmin:
		return nil
	}
	return errdefs.Forbidden("user %q cannot change the password of %q: only the user and cluster admins can", id.Name, ri.Name)
}

// changePassword serves PUT users/NAME/password (a PasswordChange). Users
// changing their own password prove it with the current one, tried under
// the login limiter (a stolen session must not become a way to guess
// it); cluster admins set another user's without it. The user's login
// sessions end but the caller's own, and with them every stream they
// opened; API tokens stay, for their owner to revoke.
func (a *API) changePassword(c echo.Context, ri auth.RequestInfo, res *resource) error {
	gr := res.groupResource()
	if ri.Verb != "update" {
		return statusError(errdefs.Newf(errdefs.ErrUnsupported, "%s/password supports update (PUT) only", res.name), gr, ri.Name)
	}
	req := c.Request()
	if err := a.checkPasswordTransport(req, c.RealIP()); err != nil {
		return statusError(err, gr, ri.Name)
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "update", gr, ri.Name,
			"a password change is a JSON body (Content-Type: application/json)", 0, false)
	}
	var body berthv1.PasswordChange
	if err := decodeJSONStrict(req, &body); err != nil {
		return statusError(err, gr, ri.Name)
	}
	if body.Kind != "" && body.Kind != "PasswordChange" {
		return statusError(errdefs.BadRequest("the body is a %s, want a PasswordChange", body.Kind), gr, ri.Name)
	}
	id := identity(c)
	own := id.Name == ri.Name
	if err := validatePasswordChange(body, own); err != nil {
		return statusError(errdefs.Invalid("PasswordChange", ri.Name, err), gr, ri.Name)
	}
	ctx := req.Context()
	keep := ""
	if own {
		addr := c.RealIP()
		if wait := a.limiter.RetryAfter(id.Name, addr); wait > 0 {
			return statusError(errdefs.TooManyRequests(wait, "too many wrong passwords from this address; try again later"), gr, ri.Name)
		}
		if _, err := a.accounts.CheckPassword(ctx, id.Name, body.CurrentPassword); err != nil {
			if errors.Is(err, accounts.ErrInvalidCredentials) {
				a.limiter.Failure(id.Name, addr)
				return statusError(errdefs.Forbidden("the current password is wrong"), gr, ri.Name)
			}
			return statusError(err, gr, ri.Name)
		}
		keep = id.Secret
	}
	ended, err := a.accounts.SetPassword(ctx, ri.Name, body.NewPassword, keep)
	if err != nil {
		return statusError(err, gr, ri.Name)
	}
	msg := fmt.Sprintf("password of %q changed; sessions ended: %d", ri.Name, ended)
	if own {
		msg = fmt.Sprintf("password of %q changed; other sessions ended: %d", ri.Name, ended)
	}
	return writeJSON(c, http.StatusOK, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess, Code: http.StatusOK, Message: msg,
		Details: &metav1.StatusDetails{Name: ri.Name, Group: berthGroup, Kind: res.name},
	})
}

// validatePasswordChange checks the fields of a change; the current
// password is required to change one's own.
func validatePasswordChange(body berthv1.PasswordChange, own bool) field.ErrorList {
	var errs field.ErrorList
	newPath := field.NewPath("newPassword")
	switch {
	case body.NewPassword == "":
		errs = append(errs, field.Required(newPath, "the new password"))
	case utf8.RuneCountInString(body.NewPassword) < minPasswordRunes:
		errs = append(errs, field.Invalid(newPath, "(hidden)", fmt.Sprintf("must be at least %d characters", minPasswordRunes)))
	case len(body.NewPassword) > maxPasswordBytes:
		errs = append(errs, field.TooLong(newPath, "(hidden)", maxPasswordBytes))
	}
	if own && body.CurrentPassword == "" {
		errs = append(errs, field.Required(field.NewPath("currentPassword"), "your current password, to change your own"))
	}
	return errs
}
