package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/berthpaas/berth/backend/accounts"
	"github.com/labstack/echo/v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// auditor writes one audit log entry per mutating request: who, what,
// which object, when, and the HTTP status it ended with.
type auditor struct {
	writer *accounts.AuditWriter
	logger *slog.Logger
}

func (au *auditor) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		req := c.Request()
		if req.Method == http.MethodGet || req.Method == http.MethodHead || req.Method == http.MethodOptions {
			return err
		}
		code := c.Response().Status
		if err != nil {
			code = errorCode(err)
		}
		ri := requestInfo(c)
		name := ri.Name
		if n, ok := c.Get("auditName").(string); ok && name == "" {
			name = n
		}
		resource := ri.Resource
		if ri.Subresource != "" {
			resource += "/" + ri.Subresource
		}
		if resource == "" {
			resource = req.URL.Path
		}
		verb := ri.Verb
		if verb == "" {
			verb = req.Method
		}
		au.record(identity(c).Name, verb, resource, ri.Namespace, name, code, req)
		return err
	}
}

func errorCode(err error) int {
	var se *apierrors.StatusError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &se):
		return int(se.ErrStatus.Code)
	case errors.As(err, &he):
		return he.Code
	}
	return http.StatusInternalServerError
}

func (au *auditor) record(user, verb, resource, ns, name string, code int, req *http.Request) {
	entry := accounts.AuditEntry{
		User: user, Verb: verb, Resource: resource, Namespace: ns, Name: name, Code: code,
		SourceIP: req.RemoteAddr, UserAgent: req.UserAgent(),
	}
	au.writer.Record(entry)
}
