package server

import (
	"net"
	"strings"

	"github.com/labstack/echo/v4"
)

// hstsHeader asks browsers to reach this host over HTTPS only, for a
// year: once a browser has seen the console over HTTPS, a network
// attacker can no longer downgrade it to plain HTTP and read the session.
const hstsHeader = "max-age=31536000"

// strictTransportSecurity sends HSTS on every response served over TLS
// (RFC 6797 forbids it over plain HTTP), except to loopback names:
// browsers pin HSTS to a host name whatever the port, so pinning
// "localhost" would turn every plain-HTTP development server on the
// machine (berth up's own http://localhost console among them) into an
// HTTPS one with an untrusted certificate that cannot be clicked through.
// Browsers ignore HSTS for IP addresses, 127.0.0.1 included.
func strictTransportSecurity(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if req := c.Request(); req.TLS != nil && !isLoopbackName(req.Host) {
			c.Response().Header().Set("Strict-Transport-Security", hstsHeader)
		}
		return next(c)
	}
}

// isLoopbackName reports whether host (with or without a port) is
// localhost or a name under it, which browsers resolve to loopback.
func isLoopbackName(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}
