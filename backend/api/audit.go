package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/berthpaas/berth/backend/accounts"
	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/streams"
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

// sessionSubresources are the pod subresources audited however they are
// asked for (a GET too): reading a container's log and running commands
// in it are what an audit of a shared cluster is for.
var sessionSubresources = map[string]bool{"log": true, "exec": true, "attach": true, "portforward": true}

// podSession is the audit of one log, exec or attach request: an entry
// when the node's answer starts (accounts.StageStarted), another when the
// request ends (accounts.StageCompleted) with how long it lasted.
type podSession struct {
	au      *auditor // nil: not audited
	entry   accounts.AuditEntry
	details sessionDetails
	begun   time.Time
}

// sessionDetails are what an entry's Details say about a session.
type sessionDetails struct {
	Container       string   `json:"container"`
	Command         []string `json:"command,omitempty"`
	Follow          bool     `json:"follow,omitempty"`
	TTY             bool     `json:"tty,omitempty"`
	DurationSeconds *float64 `json:"durationSeconds,omitempty"`
	// EndedBy says what ended the session when it was not the client
	// or the stream itself: "credential revoked", "server shutdown".
	EndedBy string `json:"endedBy,omitempty"`
}

// startSession begins the audit of a pod subresource request; for other
// subresources than sessionSubresources it audits nothing.
func (au *auditor) startSession(c echo.Context, ri auth.RequestInfo, container string, q url.Values) *podSession {
	if !sessionSubresources[ri.Subresource] {
		return &podSession{}
	}
	req := c.Request()
	follow, _ := strconv.ParseBool(q.Get("follow"))
	tty, _ := strconv.ParseBool(q.Get("tty"))
	return &podSession{
		au: au,
		entry: accounts.AuditEntry{
			User: identity(c).Name, Verb: ri.Verb, Resource: ri.Resource + "/" + ri.Subresource,
			Namespace: ri.Namespace, Name: ri.Name, SourceIP: req.RemoteAddr, UserAgent: req.UserAgent(),
		},
		details: sessionDetails{Container: container, Command: q["command"], Follow: follow, TTY: tty},
		begun:   time.Now(),
	}
}

// started records that the node answered with code.
func (s *podSession) started(code int) {
	s.entry.Code = code
	if s.au != nil {
		s.au.writeSession(s.entry, accounts.StageStarted, s.details)
	}
}

// failed records the code of a request the node did not answer.
func (s *podSession) failed(code int) { s.entry.Code = code }

// end records the end of the session; ctx is the one it was served under.
func (s *podSession) end(ctx context.Context) {
	if s.au == nil {
		return
	}
	d := s.details
	secs := time.Since(s.begun).Seconds()
	d.DurationSeconds = &secs
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, streams.ErrRevoked):
		d.EndedBy = "credential revoked"
	case errors.Is(cause, errdefs.ErrUnavailable):
		d.EndedBy = "server shutdown"
	}
	s.au.writeSession(s.entry, accounts.StageCompleted, d)
}

func (au *auditor) writeSession(e accounts.AuditEntry, stage string, d sessionDetails) {
	details, err := json.Marshal(d)
	if err != nil {
		au.logger.Error("encode audit details", "error", err)
	}
	e.Stage, e.Details = stage, string(details)
	au.writer.Record(e)
}
