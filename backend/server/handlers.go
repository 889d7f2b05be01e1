package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/berthpaas/berth/backend/accounts"
	"github.com/berthpaas/berth/backend/version"
	"github.com/labstack/echo/v4"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// readyz answers 200 only when etcd and PostgreSQL both answer.
func readyz(etcd *clientv3.Client, acct *accounts.Store) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		var failures []string
		if _, err := etcd.Get(ctx, "/registry/health-probe", clientv3.WithCountOnly()); err != nil {
			failures = append(failures, "etcd: "+err.Error())
		}
		if err := acct.Ping(ctx); err != nil {
			failures = append(failures, "postgres: "+err.Error())
		}
		if len(failures) > 0 {
			return c.String(http.StatusServiceUnavailable, fmt.Sprintf("not ready: %v\n", failures))
		}
		return c.String(http.StatusOK, "ok")
	}
}

func serveVersion(c echo.Context) error {
	return c.JSON(http.StatusOK, version.Info())
}

// recoverer turns a handler panic into a 500 and a logged stack.
func recoverer(logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						panic(r)
					}
					logger.Error("handler panic", "path", c.Request().URL.Path, "panic", r, "stack", string(debug.Stack()))
					err = echo.NewHTTPError(http.StatusInternalServerError, "internal error")
				}
			}()
			return next(c)
		}
	}
}
