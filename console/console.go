package console

import (
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"

	"github.com/berthpaas/berth/frontend"
	"github.com/labstack/echo/v4"
)

// Config wires the console to the API it is a client of.
type Config struct {
	// API is the whole Berth HTTP handler (the echo instance the console
	// is registered on); the console's websockets make their API requests
	// in process through it. Required.
	API http.Handler
	// Logger receives the console's logs; nil discards them.
	Logger *slog.Logger
	// Files are the browser files (index.html, css/, js/); default
	// frontend.FS.
	Files fs.FS
	// DevDir, when set, serves the browser files from this directory on
	// disk instead of Files, read on every request so edits show on reload.
	DevDir string
	// AllowedOrigins are origins ("https://console.example.com") accepted
	// on websockets besides the request's own scheme and host, for a
	// console reached through a proxy that terminates TLS.
	AllowedOrigins []string
}

// Console serves the browser console and its websockets.
type Console struct {
	api            http.Handler
	logger         *slog.Logger
	static         *static
	allowedOrigins []string

	mu       sync.Mutex // guards sessions and closed
	sessions map[*session]struct{}
	closed   bool
	handlers sync.WaitGroup // websocket handlers that have not returned

	// liveWatches counts the watch goroutines running (tests check that
	// closing a socket brings it back to zero).
	liveWatches atomic.Int64
}

// New builds a console; cfg.API is required.
func New(cfg Config) *Console {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	files, cached := cfg.Files, true
	if files == nil {
		files = frontend.FS
	}
	if cfg.DevDir != "" {
		files, cached = os.DirFS(cfg.DevDir), false
	}
	return &Console{
		api:            cfg.API,
		logger:         logger.With("component", "console"),
		static:         newStatic(files, cached),
		allowedOrigins: cfg.AllowedOrigins,
		sessions:       make(map[*session]struct{}),
	}
}

// Register adds the console's routes to e: GET / (the page), GET
// /static/* (its files) and GET /console/ws/watch.
func (c *Console) Register(e *echo.Echo) {
	g := e.Group("", securityHeaders)
	g.Match([]string{http.MethodGet, http.MethodHead}, "/", c.serveIndex)
	g.Match([]string{http.MethodGet, http.MethodHead}, "/static/*", c.serveStatic)
	g.GET("/console/ws/watch", c.serveWatch)
}

// Shutdown closes every websocket (close code 1001, going away), ends
// their watches and waits for their handlers to return; later upgrades are
// refused with 503.
func (c *Console) Shutdown() {
	c.mu.Lock()
	c.closed = true
	sessions := make([]*session, 0, len(c.sessions))
	for s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.mu.Unlock()
	for _, s := range sessions {
		s.goAway()
	}
	c.handlers.Wait()
}

// contentSecurityPolicy allows nothing but this server's own files: no
// inline script, no framing. Inline style is allowed: the terminal
// (xterm.js) writes its theme and cell sizes into <style> elements and
// true colours into style attributes; the console builds its DOM from text
// (never markup), and images and fonts still come only from 'self'.
// 'self' in connect-src covers ws: and wss: to the same host (CSP level 3).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; " +
	"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// securityHeaders sets the headers every console response carries.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		return next(c)
	}
}

// sessionCount is the number of open websockets.
func (c *Console) sessionCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions)
}
