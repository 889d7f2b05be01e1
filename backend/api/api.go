// Package api serves Berth's REST API with echo: Kubernetes core/v1
// resources on etcd at the Kubernetes paths, Berth's own berth.dev/v1
// resources backed by PostgreSQL, discovery and OpenAPI for kubectl, and
// the login endpoints. Handlers are thin: they authenticate, authorize,
// decode, call a registry or the account store, and encode. Errors become
// Kubernetes Status bodies in one place (errors.go).
package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"

	"github.com/berthpaas/berth/backend/accounts"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/metering"
	"github.com/berthpaas/berth/backend/pki"
	"github.com/berthpaas/berth/backend/registry/core"
	"github.com/berthpaas/berth/backend/streams"
	"github.com/berthpaas/berth/hostimage"
	"github.com/labstack/echo/v4"
	"sigs.k8s.io/yaml"
)

// MaxBodyBytes is the largest request body accepted (3 MiB, as etcd's
// default request limit allows).
const MaxBodyBytes = 3 << 20

// Config wires the API to its stores.
type Config struct {
	// Registries are the core/v1 resources (core.NewRegistries), shared
	// with the scheduler and the controllers.
	Registries *core.Registries
	Accounts   *accounts.Store
	// Audit receives an entry per mutating request; required.
	Audit  *accounts.AuditWriter
	Logger *slog.Logger
	// ClusterCA signs the serving certificates of node agents at join and
	// rotation, and the master's client certificate that agents require;
	// without it nodes cannot join and pods' logs and exec are unavailable.
	ClusterCA *pki.CA
	// NodeCredentialTTL is the life of a node's credential and serving
	// certificate; accounts.DefaultNodeCredentialTTL when zero.
	NodeCredentialTTL time.Duration
	// Streams bounds and tracks the long-lived requests (watches, log
	// follows, exec and attach, console sockets) and ends those of revoked
	// credentials; nil gives one with the default limits and no re-check.
	Streams *streams.Registry
	// MaxTokenTTL bounds the life of the tokens users create; zero means
	// DefaultMaxTokenTTL.
	MaxTokenTTL time.Duration
	// BookmarkInterval is how often a watch that allows bookmarks gets
	// one; zero means DefaultBookmarkInterval.
	BookmarkInterval time.Duration
	// ServesTLS says the server also serves HTTPS: session cookies are
	// Secure, and passwords are refused over plain HTTP from other hosts.
	ServesTLS bool
	// AgentWait bounds how long a pod operation (logs, exec, ...) waits
	// for its node's agent to publish its address and answer; zero means
	// DefaultAgentWait.
	AgentWait time.Duration
	// Metering stores usage records and answers usage reports and
	// metrics.k8s.io; nil: usage is not served (503).
	Metering *metering.Store
	// ClusterNetwork is the pod network the master runs, served read-only
	// as clusternetworks/default (node agents program their hosts by it).
	ClusterNetwork berthv1.ClusterNetwork
	// HostImages keeps host image definitions and builds; nil serves
	// none (503).
	HostImages HostImageStore
	// HostImageRepo is the OSTree repository builds commit into, where
	// the files of two builds are compared.
	HostImageRepo string
}

// API holds the handlers.
type API struct {
	regs        *core.Registries
	accounts    *accounts.Store
	logger      *slog.Logger
	limiter     *accounts.LoginLimiter
	maxTokenTTL time.Duration
	// bookmarkInterval: see Config.BookmarkInterval.
	bookmarkInterval time.Duration
	streams          *streams.Registry
	// servesTLS: see Config.ServesTLS.
	servesTLS bool
	// agentWait: see Config.AgentWait.
	agentWait time.Duration
	// nodes issues node credentials and certificates, and reaches agents.
	nodes         *nodeTrust
	hostImages    HostImageStore
	hostImageRepo string
	// basearch is the architecture host images are validated for.
	basearch string

	core     map[string]*resource
	berth    map[string]*resource
	metering *metering.Store
	// clusterNetwork: see Config.ClusterNetwork.
	clusterNetwork berthv1.ClusterNetwork
	// groups are every API group served: core ("") and the named ones.
	groups []*apiGroup
	// openAPI describes them, made at the first request for it.
	openAPI func() (*openAPIDocs, error)
	audit   *auditor

	streamsDone chan struct{} // closed by EndStreams
	streamsOnce sync.Once
}

// New builds the API.
func New(cfg Config) *API {
	if cfg.MaxTokenTTL <= 0 {
		cfg.MaxTokenTTL = DefaultMaxTokenTTL
	}
	if cfg.BookmarkInterval <= 0 {
		cfg.BookmarkInterval = DefaultBookmarkInterval
	}
	if cfg.AgentWait <= 0 {
		cfg.AgentWait = DefaultAgentWait
	}
	if cfg.Streams == nil {
		cfg.Streams = streams.New(streams.Config{Logger: cfg.Logger})
	}
	a := &API{
		regs:        cfg.Registries,
		accounts:    cfg.Accounts,
		logger:      cfg.Logger,
		limiter:     accounts.NewLoginLimiter(accounts.LimiterConfig{}),
		servesTLS:   cfg.ServesTLS,
		agentWait:   cfg.AgentWait,
		maxTokenTTL: cfg.MaxTokenTTL,

		bookmarkInterval: cfg.BookmarkInterval,
		streams:          cfg.Streams,

		nodes: newNodeTrust(cfg.ClusterCA, cfg.NodeCredentialTTL),
		audit: &auditor{writer: cfg.Audit, logger: cfg.Logger},

		streamsDone: make(chan struct{}),

		hostImages: cfg.HostImages, hostImageRepo: cfg.HostImageRepo, basearch: hostimage.Basearch(),

		clusterNetwork: cfg.ClusterNetwork,
		metering:       cfg.Metering,
	}
	a.core = a.coreResources(cfg.Registries)
	a.berth = a.berthResources(cfg.Registries)
	a.groups = a.apiGroups(cfg.Registries)
	a.openAPI = sync.OnceValues(a.buildOpenAPI)
	return a
}

// Register adds the API's routes and error handler to e.
func (a *API) Register(e *echo.Echo) {
	e.HTTPErrorHandler = a.errorHandler
	e.POST("/auth/login", a.login)
	authed := e.Group("", a.limitBody, a.authenticate, a.audit.middleware)
	authed.POST("/auth/logout", a.logout)
	authed.POST(nodeJoinPath, a.nodeJoin)
	authed.POST(nodeRotatePath, a.nodeRotate)
	authed.GET("/openapi/v2", a.openAPIv2)
	authed.GET("/openapi/v3", a.openAPIIndex)
	authed.GET("/openapi/v3/*", a.openAPIDocument)
	authed.Any("/api", a.serveAPI)
	authed.Any("/api/*", a.serveAPI)
	authed.Any("/apis", a.serveAPI)
	authed.Any("/apis/*", a.serveAPI)
}

// limitBody caps request bodies; reading past the cap fails with
// *http.MaxBytesError, which becomes 413.
func (a *API) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > MaxBodyBytes {
			return statusError(&http.MaxBytesError{Limit: MaxBodyBytes}, zeroGR, "")
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, MaxBodyBytes)
		return next(c)
	}
}

// identity returns the caller set by authenticate.
func identity(c echo.Context) auth.Identity {
	id, _ := c.Get("identity").(auth.Identity)
	return id
}

func requestInfo(c echo.Context) auth.RequestInfo {
	ri, _ := c.Get("requestInfo").(auth.RequestInfo)
	return ri
}

// serveAPI routes everything under /api and /apis.
func (a *API) serveAPI(c echo.Context) error {
	ri := auth.ParseRequestInfo(c.Request())
	c.Set("requestInfo", ri)
	if !ri.IsResourceRequest {
		return a.discovery(c, ri)
	}
	res, err := a.lookup(ri)
	if err != nil {
		return err
	}
	if err := a.authorize(c, ri, res); err != nil {
		return statusError(err, res.groupResource(), ri.Name)
	}
	if res.registry == nil {
		return a.serveBerth(c, ri, res)
	}
	return a.serveRegistry(c, ri, res)
}

func (a *API) lookup(ri auth.RequestInfo) (*resource, error) {
	var res *resource
	if g := a.group(ri.APIGroup); g != nil && ri.APIVersion == g.version {
		res = g.resources[ri.Resource]
	}
	if res == nil || (ri.Namespace != "" && !res.namespaced && !ri.IsNamespaceObject()) {
		return nil, echo.NewHTTPError(http.StatusNotFound, notFoundMessage)
	}
	return res, nil
}

// authorize applies the role rules; the role lookup is skipped for cluster
// admins and requests outside a project.
func (a *API) authorize(c echo.Context, ri auth.RequestInfo, res *resource) error {
	id := identity(c)
	if sub, ok := res.subresources[ri.Subresource]; ok && sub.authorize != nil {
		return sub.authorize(id, ri)
	}
	role := ""
	if project := ri.Project(); project != "" && !id.ClusterAdmin {
		r, err := a.accounts.RoleOf(c.Request().Context(), id.UserID, project)
		if err != nil {
			return err
		}
		role = r
	}
	c.Set("role", role) // what the caller may see of what it reads (redactor)
	return auth.Decide(id, role, ri)
}

// writeJSON encodes v with the status code, as YAML when the client asked
// only for YAML.
func writeJSON(c echo.Context, code int, v any) error {
	resp := c.Response()
	if accept := c.Request().Header.Get("Accept"); strings.HasPrefix(accept, "application/yaml") {
		data, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		resp.Header().Set("Content-Type", "application/yaml")
		resp.WriteHeader(code)
		_, err = resp.Write(data)
		return err
	}
	buf := jsonBuffers.Get().(*bytes.Buffer)
	defer jsonBuffers.Put(buf)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		return err
	}
	resp.Header().Set("Content-Type", "application/json")
	resp.WriteHeader(code)
	_, err := resp.Write(buf.Bytes())
	return err
}

// jsonBuffers hold encoded answers; reusing them spares the allocator on
// the hot create and get paths.
var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func sortedNames(m map[string]*resource) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// EndStreams ends every open stream (watches, log follows, exec and
// attach sessions); the HTTP server calls it when it shuts down, so that
// draining does not wait for hour-long streams.
func (a *API) EndStreams() {
	a.streamsOnce.Do(func() { close(a.streamsDone) })
	a.streams.Shutdown()
}
